#include "node/trust/sealed_datagram.h"

#include <sodium.h>

#include <cassert>

namespace ringkv::trust {
namespace {

static_assert(kNonceBytes == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
static_assert(kTagBytes == crypto_aead_xchacha20poly1305_ietf_ABYTES);
static_assert(kKeyBytes == crypto_aead_xchacha20poly1305_ietf_KEYBYTES);

void put_u64(std::string& out, uint64_t value) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>((value >> shift) & 0xff));
}

uint64_t get_u64(std::string_view bytes) {
  uint64_t value = 0;
  for (size_t i = 0; i < 8; ++i) value = (value << 8) | static_cast<unsigned char>(bytes[i]);
  return value;
}

std::string associated_data(std::string_view cluster_name, std::string_view header) {
  std::string data;
  put_u64(data, cluster_name.size());
  data.append(cluster_name);
  data.append(header);
  return data;
}

const unsigned char* bytes_of(std::string_view text) {
  return reinterpret_cast<const unsigned char*>(text.data());
}

}  // namespace

DatagramSealer::DatagramSealer(std::string cluster_name, std::string sender_id, uint64_t generation)
    : cluster_name_(std::move(cluster_name)), sender_id_(std::move(sender_id)), generation_(generation) {
  assert(sender_id_.size() == kSenderIdBytes && "a node id is 16 bytes");
}

std::string DatagramSealer::seal(const Key& key, std::string_view plaintext) {
  std::string out;
  out.reserve(kSealedOverheadBytes + plaintext.size());
  out.push_back(static_cast<char>(kSealedMagic));
  out.push_back(static_cast<char>(kSealedVersion));
  out.append(sender_id_);
  put_u64(out, generation_);
  put_u64(out, ++counter_);
  assert(out.size() == kSealedHeaderBytes);
  const std::string ad = associated_data(cluster_name_, out);
  out.resize(kSealedHeaderBytes + kNonceBytes);
  auto* nonce = reinterpret_cast<unsigned char*>(out.data() + kSealedHeaderBytes);
  randombytes_buf(nonce, kNonceBytes);
  out.resize(kSealedOverheadBytes + plaintext.size());
  unsigned long long sealed_bytes = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(
      reinterpret_cast<unsigned char*>(out.data() + kSealedHeaderBytes + kNonceBytes), &sealed_bytes,
      bytes_of(plaintext), plaintext.size(), bytes_of(ad), ad.size(), nullptr,
      reinterpret_cast<const unsigned char*>(out.data() + kSealedHeaderBytes), key.data());
  assert(sealed_bytes == plaintext.size() + kTagBytes);
  return out;
}

std::expected<OpenedDatagram, Refusal> open_sealed(const Keyring& keyring, std::string_view cluster_name,
                                                   std::string_view datagram) {
  if (!looks_sealed(datagram)) return std::unexpected(Refusal::kPlaintext);
  if (datagram.size() < 2) return std::unexpected(Refusal::kTruncated);
  if (static_cast<unsigned char>(datagram[1]) != kSealedVersion) return std::unexpected(Refusal::kWrongVersion);
  if (datagram.size() < kSealedOverheadBytes) return std::unexpected(Refusal::kTruncated);
  const std::string_view header = datagram.substr(0, kSealedHeaderBytes);
  const std::string ad = associated_data(cluster_name, header);
  const auto* nonce = bytes_of(datagram.substr(kSealedHeaderBytes, kNonceBytes));
  const std::string_view sealed = datagram.substr(kSealedHeaderBytes + kNonceBytes);
  OpenedDatagram opened;
  opened.plaintext.resize(sealed.size() - kTagBytes);
  const std::vector<Key>& keys = keyring.list();
  for (size_t i = 0; i < keys.size(); ++i) {
    unsigned long long plain_bytes = 0;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(reinterpret_cast<unsigned char*>(opened.plaintext.data()),
                                                   &plain_bytes, nullptr, bytes_of(sealed), sealed.size(),
                                                   bytes_of(ad), ad.size(), nonce, keys[i].data()) == 0) {
      opened.sender_id = std::string(header.substr(2, kSenderIdBytes));
      opened.generation = get_u64(header.substr(2 + kSenderIdBytes));
      opened.counter = get_u64(header.substr(2 + kSenderIdBytes + 8));
      opened.key_index = i;
      return opened;
    }
  }
  return std::unexpected(Refusal::kNotAuthentic);
}

std::expected<std::string, Refusal> open_datagram(const Keyring& keyring, std::string_view cluster_name,
                                                  std::string_view datagram, ReplayGuard& guard) {
  auto opened = open_sealed(keyring, cluster_name, datagram);
  if (!opened) return std::unexpected(opened.error());
  if (!guard.accept(opened->sender_id, opened->generation, opened->counter)) {
    return std::unexpected(Refusal::kReplayed);
  }
  return std::move(opened->plaintext);
}

}  // namespace ringkv::trust
