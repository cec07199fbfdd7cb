// Fuzz target: the sealed-frame layer (node/trust/): sealed datagrams, the session handshake,
// sealed frames and batches.
//
// Input: a mode byte, then fields read by FuzzInput (layout: sealed_inputs.h). Modes and checks:
// 0 forged bytes: as a gossip datagram, as a Hello and as a HelloAck. Nothing forged opens
//   (bytes copied from a seed that is an authentic datagram open once, then count as a replay);
//   a refusal leaves the replay guard and the answer untouched.
// 1 datagram round trip: a fuzzed plaintext sealed with either installed key opens to itself
//   once, is a replay the second time, does not open under another cluster name or an outsider's
//   key, and opens no more once any byte is changed or it is cut short.
// 2 session round trip: a handshake (the acceptor may answer with a key that is not its
//   primary), then fuzzed messages sealed as batches under a fuzzed frame limit open to the same
//   messages in order, in both directions; a replayed or tampered frame, or forged bytes, do not
//   open.
// 3 batch parsing: take_batched() over fuzzed bytes never reads past them and never yields a
//   message over the limit.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "node/trust/keyring.h"
#include "node/trust/sealed_batch.h"
#include "node/trust/sealed_datagram.h"
#include "node/trust/session.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/fuzz_input.h"
#include "tests/fuzz/sealed_inputs.h"

using namespace ringkv::trust;
using ringkv::fuzz::FuzzInput;
namespace fuzz = ringkv::fuzz;

namespace {

const std::string& kCluster = fuzz::kSealedCluster;
const Key& kPrimary = fuzz::kPrimaryKey;
const Key& kInstalled = fuzz::kInstalledKey;
const Key& kOutsider = fuzz::kOutsiderKey;

bool refused_as(const auto& result, Refusal refusal) { return !result && result.error() == refusal; }

Keyring keyring_of(std::vector<Key> keys) { return *Keyring::create(std::move(keys)); }

DatagramSealer sealer(char id_byte) { return DatagramSealer(kCluster, std::string(kSenderIdBytes, id_byte), 1); }

void forged(FuzzInput& in) {
  const Keyring keyring = keyring_of({kPrimary, kInstalled});
  const std::string_view bytes = in.rest();

  ReplayGuard guard;
  auto opened = open_datagram(keyring, kCluster, bytes, guard);
  if (opened) {
    FUZZ_CHECK(guard.senders() == 1, "an authentic datagram marks its sender");
    FUZZ_CHECK(refused_as(open_datagram(keyring, kCluster, bytes, guard), Refusal::kReplayed),
               "the same datagram again is a replay");
  } else {
    FUZZ_CHECK(guard.senders() == 0, "a refused datagram touches no replay window");
    if (!looks_sealed(bytes)) FUZZ_CHECK(refused_as(opened, Refusal::kPlaintext), "plaintext is told apart");
  }

  DatagramSealer own = sealer('a');
  std::string answer;
  auto accepted = Session::accept(keyring, own, kCluster, bytes, answer);
  if (!accepted) FUZZ_CHECK(answer.empty(), "a refused Hello gets no answer");

  std::string hello;
  Session initiator = Session::initiate(keyring, own, kCluster, hello);
  FUZZ_CHECK(!initiator.complete(bytes).has_value(), "no forged HelloAck answers a fresh Hello");
  FUZZ_CHECK(!initiator.established(), "a refused HelloAck establishes nothing");
}

void datagram_round_trip(FuzzInput& in) {
  const Keyring keyring = keyring_of({kPrimary, kInstalled});
  const bool with_installed = in.byte() & 1;
  const uint16_t tamper_at = in.u16();
  const uint8_t tamper_mask = in.byte();
  const uint16_t cut = in.u16();
  const std::string_view plaintext = in.field();

  DatagramSealer sender = sealer('s');
  const std::string sealed = sender.seal(with_installed ? kInstalled : kPrimary, plaintext);
  FUZZ_CHECK(sealed.size() == plaintext.size() + kSealedOverheadBytes, "sealing adds the stated overhead");

  ReplayGuard guard;
  auto opened = open_sealed(keyring, kCluster, sealed);
  FUZZ_CHECK(opened.has_value() && opened->plaintext == plaintext, "a sealed datagram opens to itself");
  FUZZ_CHECK(opened->key_index == (with_installed ? 1u : 0u), "and says which key opened it");
  auto first = open_datagram(keyring, kCluster, sealed, guard);
  FUZZ_CHECK(first.has_value() && *first == plaintext, "once through the guard");
  FUZZ_CHECK(refused_as(open_datagram(keyring, kCluster, sealed, guard), Refusal::kReplayed), "then a replay");
  FUZZ_CHECK(!open_sealed(keyring, "other", sealed), "another cluster's name does not open it");
  FUZZ_CHECK(!open_sealed(keyring_of({kOutsider}), kCluster, sealed), "an outsider's key does not open it");

  if (tamper_mask != 0) {
    std::string tampered = sealed;
    tampered[tamper_at % tampered.size()] ^= static_cast<char>(tamper_mask);
    FUZZ_CHECK(!open_sealed(keyring, kCluster, tampered), "a changed byte does not open");
  }
  FUZZ_CHECK(!open_sealed(keyring, kCluster, std::string_view(sealed).substr(0, cut % sealed.size())),
             "a datagram cut short does not open");
}

// Every message of the sealed frames in `wire`, opened by `receiver` in order.
std::vector<std::string> open_frames(std::string_view wire, Session& receiver, size_t frame_bytes_max) {
  std::vector<std::string> messages;
  while (!wire.empty()) {
    auto frame = take_batched(wire, frame_bytes_max);
    FUZZ_CHECK(frame.has_value(), "a sealed stream splits into whole frames");
    auto batch = receiver.open(*frame);
    FUZZ_CHECK(batch.has_value(), "every sealed frame opens, in order");
    std::string_view rest = *batch;
    while (!rest.empty()) {
      auto message = take_batched(rest, frame_bytes_max);
      FUZZ_CHECK(message.has_value(), "an opened batch splits into whole messages");
      messages.emplace_back(*message);
    }
  }
  return messages;
}

std::string framed(const std::vector<std::string>& messages) {
  std::string out;
  for (const std::string& message : messages) {
    const size_t size = message.size();
    const char length[4] = {static_cast<char>(size >> 24), static_cast<char>(size >> 16),
                            static_cast<char>(size >> 8), static_cast<char>(size)};
    out.append(length, 4);
    out.append(message);
  }
  return out;
}

void session_round_trip(FuzzInput& in) {
  const uint8_t flags = in.byte();
  // The acceptor may already use the other key as its primary: it answers with the one that
  // opened the Hello.
  const Keyring initiator_keys = keyring_of({kPrimary, kInstalled});
  const Keyring acceptor_keys = flags & 1 ? keyring_of({kInstalled, kPrimary}) : initiator_keys;
  const size_t frame_bytes_max = 64 + in.u16() % 8192;
  const size_t message_bytes_max = frame_bytes_max - 4 - kTagBytes;

  DatagramSealer initiator_sealer = sealer('i');
  DatagramSealer acceptor_sealer = sealer('r');
  std::string hello;
  std::string hello_ack;
  Session initiator = Session::initiate(initiator_keys, initiator_sealer, kCluster, hello);
  auto acceptor = Session::accept(acceptor_keys, acceptor_sealer, kCluster, hello, hello_ack);
  FUZZ_CHECK(acceptor.has_value(), "an authentic Hello is accepted");
  FUZZ_CHECK(initiator.complete(hello_ack).has_value(), "its HelloAck completes the handshake");

  std::vector<std::string> messages(in.byte() % 8);
  for (std::string& message : messages) message = std::string(in.field().substr(0, message_bytes_max));
  std::string wire;
  append_sealed_batch(wire, initiator, framed(messages), frame_bytes_max);
  FUZZ_CHECK(open_frames(wire, *acceptor, frame_bytes_max) == messages, "batches open to their messages");

  const std::vector<std::string> answer{std::string(in.field().substr(0, message_bytes_max))};
  std::string back;
  append_sealed_batch(back, *acceptor, framed(answer), frame_bytes_max);
  FUZZ_CHECK(open_frames(back, initiator, frame_bytes_max) == answer, "and the other way");

  const uint16_t tamper_at = in.u16();
  const uint8_t tamper_mask = in.byte();
  std::string next = initiator.seal(in.field());
  if (flags & 2) {
    std::string_view first = back;
    auto replayed = take_batched(first, frame_bytes_max);
    FUZZ_CHECK(!initiator.open(*replayed), "a frame replayed within its session does not open");
  } else if (tamper_mask != 0) {
    next[tamper_at % next.size()] ^= static_cast<char>(tamper_mask);
    FUZZ_CHECK(!acceptor->open(next), "a tampered frame does not open");
  } else {
    FUZZ_CHECK(!acceptor->open(in.rest()), "forged bytes do not open as a frame");
  }
}

void batch_parsing(FuzzInput& in) {
  const size_t frame_bytes_max = in.u16();
  std::string_view batch = in.rest();
  while (!batch.empty()) {
    const size_t before = batch.size();
    auto message = take_batched(batch, frame_bytes_max);
    if (!message) {
      FUZZ_CHECK(batch.size() == before, "a refused batch is left as it was");
      break;
    }
    FUZZ_CHECK(message->size() <= frame_bytes_max, "no message over the limit");
    FUZZ_CHECK(batch.size() == before - 4 - message->size(), "exactly one message taken");
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  FUZZ_CHECK(init_sodium(), "libsodium starts");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzInput in(data, size);
  switch (static_cast<fuzz::SealedMode>(in.byte() % fuzz::kSealedModes)) {
    case fuzz::SealedMode::kForged:
      forged(in);
      break;
    case fuzz::SealedMode::kDatagram:
      datagram_round_trip(in);
      break;
    case fuzz::SealedMode::kSession:
      session_round_trip(in);
      break;
    case fuzz::SealedMode::kBatch:
      batch_parsing(in);
      break;
  }
  return 0;
}
