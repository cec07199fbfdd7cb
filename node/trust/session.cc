#include "node/trust/session.h"

#include <sodium.h>

#include <cassert>
#include <cstring>

namespace ringkv::trust {
namespace {

constexpr char kHelloTag = 'H';
constexpr char kHelloAckTag = 'A';

void counter_nonce(uint64_t counter, unsigned char (&nonce)[kNonceBytes]) {
  std::memset(nonce, 0, sizeof(nonce));
  for (size_t i = 0; i < 8; ++i) nonce[kNonceBytes - 1 - i] = static_cast<unsigned char>(counter >> (8 * i));
}

const unsigned char* bytes_of(std::string_view text) {
  return reinterpret_cast<const unsigned char*>(text.data());
}

// A keyring with only `key`, to open HelloAck with the key Hello was sealed with.
Keyring only(const Key& key) { return *Keyring::create({key}); }

}  // namespace

Session Session::initiate(const Keyring& keyring, DatagramSealer& sealer, std::string cluster_name,
                          std::string& hello) {
  return initiate_with(keyring.primary(), sealer, std::move(cluster_name), hello);
}

Session Session::initiate_with(const Key& key, DatagramSealer& sealer, std::string cluster_name,
                               std::string& hello) {
  Session session(std::move(cluster_name), key);
  randombytes_buf(session.nonce_c_.data(), session.nonce_c_.size());
  std::string body(1, kHelloTag);
  body.append(reinterpret_cast<const char*>(session.nonce_c_.data()), session.nonce_c_.size());
  hello = sealer.seal(session.key_, body);
  return session;
}

std::expected<Session, Refusal> Session::accept(const Keyring& keyring, DatagramSealer& sealer,
                                                std::string cluster_name, std::string_view hello,
                                                std::string& hello_ack) {
  auto opened = open_sealed(keyring, cluster_name, hello);
  if (!opened) return std::unexpected(opened.error());
  const std::string& body = opened->plaintext;
  if (body.size() != 1 + kSessionNonceBytes || body.front() != kHelloTag) {
    return std::unexpected(Refusal::kNotAuthentic);  // sealed, but not a Hello
  }
  Session session(std::move(cluster_name), keyring.list()[opened->key_index]);
  std::memcpy(session.nonce_c_.data(), body.data() + 1, kSessionNonceBytes);
  randombytes_buf(session.nonce_s_.data(), session.nonce_s_.size());
  std::string answer(1, kHelloAckTag);
  answer.append(reinterpret_cast<const char*>(session.nonce_c_.data()), kSessionNonceBytes);
  answer.append(reinterpret_cast<const char*>(session.nonce_s_.data()), kSessionNonceBytes);
  hello_ack = sealer.seal(session.key_, answer);
  session.derive(/*initiator=*/false);
  return session;
}

std::expected<void, Refusal> Session::complete(std::string_view hello_ack) {
  assert(!established_ && "HelloAck comes once");
  auto opened = open_sealed(only(key_), cluster_name_, hello_ack);
  if (!opened) return std::unexpected(opened.error());
  const std::string& body = opened->plaintext;
  if (body.size() != 1 + 2 * kSessionNonceBytes || body.front() != kHelloAckTag ||
      sodium_memcmp(body.data() + 1, nonce_c_.data(), kSessionNonceBytes) != 0) {
    return std::unexpected(Refusal::kNotAuthentic);  // not the answer to our Hello
  }
  std::memcpy(nonce_s_.data(), body.data() + 1 + kSessionNonceBytes, kSessionNonceBytes);
  derive(/*initiator=*/true);
  return {};
}

void Session::derive(bool initiator) {
  static constexpr std::string_view kLabel = "ringkv-session";
  auto direction_key = [&](char direction) {
    Key out;
    crypto_generichash_state state;
    crypto_generichash_init(&state, key_.data(), key_.size(), out.size());
    crypto_generichash_update(&state, bytes_of(kLabel), kLabel.size());
    crypto_generichash_update(&state, nonce_c_.data(), nonce_c_.size());
    crypto_generichash_update(&state, nonce_s_.data(), nonce_s_.size());
    const unsigned char tag = static_cast<unsigned char>(direction);
    crypto_generichash_update(&state, &tag, 1);
    crypto_generichash_final(&state, out.data(), out.size());
    return out;
  };
  send_key_ = direction_key(initiator ? 'c' : 's');
  receive_key_ = direction_key(initiator ? 's' : 'c');
  established_ = true;
}

std::string Session::seal(std::string_view plaintext) {
  std::string out;
  seal_append(plaintext, out);
  return out;
}

void Session::seal_append(std::string_view plaintext, std::string& out) {
  assert(established_ && "seal() after the handshake");
  unsigned char nonce[kNonceBytes];
  counter_nonce(++sent_, nonce);
  const size_t start = out.size();
  out.resize(start + plaintext.size() + kTagBytes);
  unsigned long long sealed_bytes = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(reinterpret_cast<unsigned char*>(out.data() + start), &sealed_bytes,
                                             bytes_of(plaintext), plaintext.size(), bytes_of(cluster_name_),
                                             cluster_name_.size(), nullptr, nonce, send_key_.data());
}

std::expected<std::string, Refusal> Session::open(std::string_view frame) {
  std::string out;
  if (auto opened = open_into(frame, out); !opened) return std::unexpected(opened.error());
  return out;
}

std::expected<void, Refusal> Session::open_into(std::string_view frame, std::string& out) {
  assert(established_ && "open() after the handshake");
  if (frame.size() < kTagBytes) return std::unexpected(Refusal::kTruncated);
  unsigned char nonce[kNonceBytes];
  counter_nonce(received_ + 1, nonce);
  out.resize(frame.size() - kTagBytes);
  unsigned long long plain_bytes = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(reinterpret_cast<unsigned char*>(out.data()), &plain_bytes,
                                                 nullptr, bytes_of(frame), frame.size(), bytes_of(cluster_name_),
                                                 cluster_name_.size(), nonce, receive_key_.data()) != 0) {
    out.clear();
    return std::unexpected(Refusal::kNotAuthentic);
  }
  ++received_;
  return {};
}

}  // namespace ringkv::trust
