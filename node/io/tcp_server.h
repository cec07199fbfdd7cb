// TcpServer: the node's listening TCP port on libuv.
//
// Accepts connections, splits each byte stream into frames, decodes them and
// hands requests to NodeCore, then writes the replies the owner routes back
// to it (deliver(), for the ClientIds this server handed out: see
// client_ids.h). Replies delivered between two flush_all() calls are
// coalesced into one write per connection, so pipelined clients cost few
// syscalls. A bad frame (over the
// size limit, not msgpack, wrong version, unknown type) is logged once with
// its reason, answered with an error reply where a request id could be read,
// and that connection is closed; nothing reaches the core or storage.
//
// Trust (trust_context.h): a connection whose first frame starts with 0xC1
// is a sealed peer session: it is answered with HelloAck, every later frame
// is opened with the session key (one that does not open is refused,
// counted, and closes the connection) and holds a batch of requests
// (trust_context.h), the replies of one flush are sealed as one batch, and its
// requests reach the core as core::Channel::kPeer. A plaintext connection is
// a peer only when the node has no keyring or runs a transitional mode;
// otherwise it is a client (core::Channel::kClient), and internode requests
// on it are refused here (counted as sealed_refused_plaintext) with an
// error reply. The frame size limit is the same for sealed frames (their
// 16-byte tag fits in the limit's slack above the largest key and value).
//
// Load shedding (core/admission.h): a client connection read while the node
// sheds is not read again until the next drain (flush_all), so one loop
// iteration takes at most one read from each (as on the RESP port); peer
// connections are never paused (internode traffic is not shed).
//
// Accept, buffers, backpressure, the connection cap, the idle timeout and
// close are the shared Listener's (listener.h); this file is the msgpack
// protocol on top of it. Every closed connection reaches closed() once.
// A sealed session whose cluster key was removed from the keyring is closed
// at the next idle sweep (within a second) once it has been quiet for a
// second: the peer that opened it (which removed the key too) reconnects
// under the new primary.
//
// Thread model: everything runs on the loop's thread.
#pragma once

#include <uv.h>

#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <string>
#include <unordered_set>

#include "node/core/node_core.h"
#include "node/io/client_ids.h"
#include "node/io/connection_limits.h"
#include "node/io/listener.h"
#include "node/io/trust_context.h"
#include "node/wire/limits.h"

namespace ringkv::io {

struct TcpServerConfig {
  std::string listen_address;  // HOST:PORT
  wire::Limits limits;
  // Open connections cap, idle timeout and unsent-bytes bound (connection_limits.h).
  ConnectionLimitsConfig connections;
};

class TcpServer : private Listener::Protocol {
 public:
  // `clock` reads the node's two clocks. `after_input` runs after each batch
  // of requests reached the core: the owner drains the core's outputs soon
  // after, replies included (through deliver() and flush_all()).
  // `drain_replies` drains and routes them right now (a connection that is
  // about to close for a bad frame first gets the replies already made).
  TcpServer(uv_loop_t* loop, core::NodeCore& core, TrustContext& trust, std::function<core::Now()> clock,
            std::function<void()> after_input, std::function<void()> drain_replies,
            TcpServerConfig config);
  ~TcpServer() override = default;
  TcpServer(const TcpServer&) = delete;
  TcpServer& operator=(const TcpServer&) = delete;

  std::expected<void, std::string> listen() { return listener_.listen(); }
  // Queues one reply the core produced for a client of this server (one
  // whose connection is gone is dropped); flush_all() writes it.
  void deliver(core::Outgoing& reply);
  // One write per connection with queued replies.
  void flush_all();
  // Stops accepting and closes every connection; the loop then runs dry.
  void close() { listener_.close(); }
  const ConnectionLimits& connection_limits() const { return listener_.connection_limits(); }

 private:
  struct State;  // per connection: frame reader, channel, sealed session
  static State& state_of(Connection& connection);

  // Listener::Protocol
  std::unique_ptr<ConnectionState> opened(Connection& connection) override;
  void received(Connection& connection, std::string_view bytes) override;
  void ended(Connection& connection) override;
  bool wants_input(const Connection& connection) const override;
  std::string over_cap_reply(size_t connections_max) const override;
  void closed(Connection& connection) override;
  // Closes sealed sessions whose cluster key was removed, once quiet.
  void swept(uint64_t now_ms) override;

  // The first frame decides what the connection is; false when it closed.
  bool start_session(Connection& connection, State& state, std::string_view first_frame);
  // Decodes one request and hands it to the core (or answers or rejects it).
  void handle_message(Connection& connection, State& state, std::string_view payload);
  void append_message(Connection& connection, const wire::Message& message);
  // Seals what a sealed session queued (one batch), then writes.
  void flush(Connection& connection);
  void reject(Connection& connection, const std::string& reason, uint64_t request_id);

  core::NodeCore& core_;
  TrustContext& trust_;
  std::function<core::Now()> clock_;
  std::function<void()> after_input_;
  std::function<void()> drain_replies_;
  wire::Limits limits_;
  std::string opened_;  // the last sealed frame opened (its buffer reused)
  std::unordered_set<uint64_t> sessions_;  // connections with a sealed session
  Listener listener_;
};

}  // namespace ringkv::io
