// Sealed datagrams: UDP gossip under the cluster key (DESIGN.md "Trust").
//
// Layout (all integers big-endian):
//
//   0      1        2            18           26        34       58
//   +------+--------+------------+------------+---------+--------+-----------------+
//   | 0xC1 | version| sender id  | generation | counter | nonce  | ciphertext, tag |
//   |      |  (1)   | (16 bytes) |   (u64)    |  (u64)  |  (24)  |  (n + 16)       |
//   +------+--------+------------+------------+---------+--------+-----------------+
//
// 0xC1 is the one byte msgpack never uses, so the first byte tells sealed
// traffic from plaintext msgpack. The AEAD is XChaCha20-Poly1305 (IETF) with
// a fresh random 24-byte nonce per message; the associated data is the
// cluster name (length-prefixed) followed by the 34-byte plaintext header,
// so a datagram of another cluster, or with an edited header, does not open.
// The generation is the sender's persisted restart count and the counter
// strictly increases within a process: with the receiver's ReplayGuard a
// replayed datagram changes nothing.
//
// Sizes are checked before anything is allocated or decrypted. Pure; the
// loop's thread only.
#pragma once

#include <cstdint>
#include <expected>
#include <string>
#include <string_view>

#include "node/trust/keyring.h"
#include "node/trust/refusal.h"
#include "node/trust/replay_guard.h"

namespace ringkv::trust {

constexpr unsigned char kSealedMagic = 0xC1;
constexpr unsigned char kSealedVersion = 1;
constexpr size_t kSenderIdBytes = 16;
constexpr size_t kSealedHeaderBytes = 2 + kSenderIdBytes + 8 + 8;
constexpr size_t kNonceBytes = 24;
constexpr size_t kTagBytes = 16;
// What sealing adds to a datagram: gossip must leave this much room.
constexpr size_t kSealedOverheadBytes = kSealedHeaderBytes + kNonceBytes + kTagBytes;

inline bool looks_sealed(std::string_view bytes) {
  return !bytes.empty() && static_cast<unsigned char>(bytes.front()) == kSealedMagic;
}

// Seals with the keyring's primary key. One per process: the counter it
// stamps strictly increases.
class DatagramSealer {
 public:
  // REQUIRES: sender_id is kSenderIdBytes long.
  DatagramSealer(std::string cluster_name, std::string sender_id, uint64_t generation);
  std::string seal(const Key& key, std::string_view plaintext);

 private:
  std::string cluster_name_;
  std::string sender_id_;
  uint64_t generation_;
  uint64_t counter_ = 0;
};

struct OpenedDatagram {
  std::string plaintext;
  std::string sender_id;
  uint64_t generation = 0;
  uint64_t counter = 0;
  size_t key_index = 0;  // which installed key opened it (0: the primary)
};

// Authenticates and decrypts with each installed key in turn; no replay check.
std::expected<OpenedDatagram, Refusal> open_sealed(const Keyring& keyring, std::string_view cluster_name,
                                                   std::string_view datagram);

// open_sealed, then the replay check (only authentic datagrams touch `guard`).
std::expected<std::string, Refusal> open_datagram(const Keyring& keyring, std::string_view cluster_name,
                                                  std::string_view datagram, ReplayGuard& guard);

}  // namespace ringkv::trust
