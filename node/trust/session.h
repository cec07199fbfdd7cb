// Session: a sealed internode TCP connection, as a pure state machine
// (bytes in, bytes out; the caller frames and moves them).
//
// Handshake (each message is one frame payload in the sealed datagram
// format of sealed_datagram.h, fresh random nonce included):
//
//   initiator                                   acceptor
//   Hello    = seal(primary, 'H' || nonce_c)   ->
//                                               opens with any installed key K
//            <- HelloAck = seal(K, 'A' || nonce_c || nonce_s)
//   opens with the key it sealed Hello with; nonce_c must match
//
// nonce_c and nonce_s are 32 fresh random bytes. Both sides derive one key
// per direction: BLAKE2b keyed with K over
// "ringkv-session" || nonce_c || nonce_s || ('c' for initiator->acceptor,
// 's' for acceptor->initiator). Every later frame is the XChaCha20-Poly1305
// seal (associated data: the cluster name) of one message, under the
// direction's key, with a nonce made of a 64-bit counter that starts at 1
// and grows by one per frame; the receiver expects exactly last + 1 (TCP is
// ordered), so a frame replayed within a connection does not open, and one
// replayed into another connection does not either (a fresh nonce_s makes
// fresh keys). Answering HelloAck with the key that opened Hello lets a node
// that already uses a new primary talk to one that has only installed it.
//
// A failed open leaves the session unusable: the caller closes the
// connection. The loop's thread only.
#pragma once

#include <array>
#include <cstdint>
#include <expected>
#include <string>
#include <string_view>

#include "node/trust/keyring.h"
#include "node/trust/refusal.h"
#include "node/trust/sealed_datagram.h"

namespace ringkv::trust {

constexpr size_t kSessionNonceBytes = 32;

class Session {
 public:
  // The initiator's side; `hello` receives the first frame's payload.
  static Session initiate(const Keyring& keyring, DatagramSealer& sealer, std::string cluster_name,
                          std::string& hello);
  // The same with a given installed key instead of the primary (to reach a
  // member that does not have this node's primary yet: keyring sync).
  static Session initiate_with(const Key& key, DatagramSealer& sealer, std::string cluster_name,
                               std::string& hello);
  // The acceptor's side, from the first frame's payload; `hello_ack`
  // receives the answer. The session is established at once.
  static std::expected<Session, Refusal> accept(const Keyring& keyring, DatagramSealer& sealer,
                                                std::string cluster_name, std::string_view hello,
                                                std::string& hello_ack);
  // The initiator reads HelloAck; established afterwards.
  std::expected<void, Refusal> complete(std::string_view hello_ack);

  bool established() const { return established_; }
  // The cluster key this session's keys derive from (a session under a key
  // that was removed from the keyring is closed by its owner).
  const Key& cluster_key() const { return key_; }
  // REQUIRES: established(). One message in, one frame payload out.
  std::string seal(std::string_view plaintext);
  // The same, appended to `out` (sealed in place there: no temporary).
  void seal_append(std::string_view plaintext, std::string& out);
  // REQUIRES: established(). One frame payload in, its message out.
  std::expected<std::string, Refusal> open(std::string_view frame);
  // The same into `out` (replaced; its capacity is reused).
  std::expected<void, Refusal> open_into(std::string_view frame, std::string& out);

 private:
  using Nonce = std::array<unsigned char, kSessionNonceBytes>;
  Session(std::string cluster_name, const Key& key) : cluster_name_(std::move(cluster_name)), key_(key) {}
  void derive(bool initiator);

  std::string cluster_name_;
  Key key_;  // the cluster key of this connection
  Nonce nonce_c_{};
  Nonce nonce_s_{};
  bool established_ = false;
  Key send_key_{};
  Key receive_key_{};
  uint64_t sent_ = 0;
  uint64_t received_ = 0;
};

}  // namespace ringkv::trust
