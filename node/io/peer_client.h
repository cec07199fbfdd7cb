// PeerClient: outgoing TCP connections from this node to other nodes.
//
// One connection per peer address, opened on first use and bound to this
// node's own host (so per-address firewall rules in tests see the true
// source). Requests are framed like every other message; replies are matched
// by request id and handed to the request's callback exactly once: with the
// reply, or with an error when the connection fails or no reply arrives
// within request_timeout_ms (the connection is then dropped, as a peer that
// stopped answering cannot be trusted to answer in order later).
//
// When the node seals (TrustContext), each new connection first runs the
// sealed-session handshake (node/trust/session.h): Hello goes out at once,
// queued requests wait for the HelloAck, and every frame after it is sealed
// with the connection's session key. A HelloAck or reply that does not open
// is counted as a refusal and fails the connection. A peer that cannot open
// the Hello answers with a plaintext ErrorReply before closing: its reason
// goes to TrustContext::handshake_refused (trust problem for `kv status`).
// A request sent with `seal_with` (keyring sync) uses its own connection
// whose Hello is sealed with that installed key instead of the primary.
//
// A session whose cluster key was removed from the keyring (`kv keys
// remove`) is retired: new requests open a fresh connection under the
// primary, and the old one closes once its last reply arrived, so a
// rotation fails no request in flight.
//
// Thread model: the loop's thread only.
#pragma once

#include <uv.h>

#include <cstdint>
#include <expected>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "node/io/trust_context.h"
#include "node/wire/limits.h"
#include "node/wire/message.h"

namespace ringkv::io {

class PeerClient {
 public:
  using Callback = std::function<void(std::expected<wire::Message, std::string>)>;

  PeerClient(uv_loop_t* loop, std::string bind_host, wire::Limits limits, TrustContext& trust,
             uint64_t request_timeout_ms = 5000);
  ~PeerClient();
  PeerClient(const PeerClient&) = delete;
  PeerClient& operator=(const PeerClient&) = delete;

  // Queues the request; it goes out at the next flush_all() (the owner calls
  // it once per batch of sends, so a burst costs one write per peer).
  void send(const std::string& address, wire::Body body, Callback done, const std::string& seal_with = "");
  void flush_all();
  // Fails every pending request and closes every connection.
  void close();

  struct Peer;

 private:
  static void on_sweep(uv_timer_t* timer);
  Peer* connect(const std::string& address, const std::string& connection_key, const std::string& seal_with,
                std::string& error);
  void fail_peer(Peer& peer, const std::string& reason);
  // Retires peers whose session key is no longer installed.
  void retire_removed_keys();
  void flush(Peer& peer);
  void write_bytes(Peer& peer, std::string bytes);
  void handle_bytes(Peer& peer, std::string_view bytes);
  // One reply message (decoded here) to its pending request.
  void handle_reply(Peer& peer, std::string_view payload);
  void on_connected(Peer& peer);

  uv_loop_t* loop_;
  std::string bind_host_;
  wire::Limits limits_;
  std::string opened_;  // the last sealed batch of replies opened (its buffer reused)
  TrustContext& trust_;
  uint64_t request_timeout_ms_;
  uv_timer_t sweeper_;
  bool closed_ = false;
  uint64_t next_request_id_ = 1;
  std::map<std::string, Peer*> peers_;  // by address (plus "#" and a fingerprint for seal_with)
  std::vector<Peer*> dirty_;  // connected peers with queued frames
  std::vector<Peer*> retiring_;  // out of peers_, waiting for their last replies
};

}  // namespace ringkv::io
