// RespServer: the node's optional Redis-protocol (RESP2) TCP port on libuv.
//
// Each connection has a resp::RequestParser and a resp::Session (node/resp,
// pure code): bytes read are parsed into commands, the session turns them
// into wire requests handed to NodeCore::handle_client under this server's
// ClientIds (kRespClientTag, client_ids.h), and the replies the owner routes
// back through deliver() are reassembled in command order. Replies made
// ready between two flush_all() calls leave in one write per connection, so
// pipelined clients (redis-benchmark -P) cost few syscalls.
//
// Bounds: at most SessionConfig::commands_in_flight_max unanswered commands
// per connection (parsing pauses, then reading), and a connection whose
// unsent replies exceed connections.unsent_bytes_max stops being parsed and
// read until its peer catches up (under half of it). Over the node's
// admission bounds (core/admission.h) commands are answered "-BUSY ...", and
// a connection read while the node sheds is not read again until the next
// drain (flush_all), so a loop iteration takes at most one read from each. Accept, buffers, the
// connection cap, the idle timeout and close are the shared Listener's
// (listener.h); every closed connection reaches closed() once. Malformed RESP gets "-ERR Protocol error: ..." after the
// replies to the commands before it, then the connection closes; QUIT
// closes after its +OK.
//
// Thread model: everything runs on the loop's thread.
#pragma once

#include <uv.h>

#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "node/core/node_core.h"
#include "node/io/client_ids.h"
#include "node/io/connection_limits.h"
#include "node/io/listener.h"
#include "node/resp/session.h"

namespace ringkv::io {

struct RespServerConfig {
  std::string listen_address;  // HOST:PORT
  resp::SessionConfig session;
  // Open connections cap, idle timeout and unsent-bytes bound (connection_limits.h).
  ConnectionLimitsConfig connections;
};

class RespServer : private Listener::Protocol {
 public:
  // `clock` reads the node's two clocks. `after_input` asks the owner to
  // drain the core's outputs once this loop iteration's reads are done;
  // `pump_now` drains right away (re-entrant safe: see CoreDriver::pump),
  // for commands resumed while a drain runs.
  RespServer(uv_loop_t* loop, core::NodeCore& core, std::function<core::Now()> clock,
             std::function<void()> after_input, std::function<void()> pump_now, RespServerConfig config);
  ~RespServer() override = default;
  RespServer(const RespServer&) = delete;
  RespServer& operator=(const RespServer&) = delete;

  std::expected<void, std::string> listen() { return listener_.listen(); }
  // Hands one core reply to the session of its connection (dropped when the
  // connection is gone); flush_all() writes what became ready.
  void deliver(core::Outgoing& reply);
  // One write per connection with replies ready; closes finished sessions.
  void flush_all();
  // Stops accepting and closes every connection; the loop then runs dry.
  void close() { listener_.close(); }
  const ConnectionLimits& connection_limits() const { return listener_.connection_limits(); }

 private:
  struct State;  // per connection: RESP parser and session
  static State& state_of(Connection& connection);
  static const State& state_of(const Connection& connection);

  // Listener::Protocol
  std::unique_ptr<ConnectionState> opened(Connection& connection) override;
  void received(Connection& connection, std::string_view bytes) override;
  void caught_up(Connection& connection) override;
  bool wants_input(const Connection& connection) const override;
  std::string over_cap_reply(size_t connections_max) const override;
  void closed(Connection& connection) override;

  // Parses and hands over buffered commands while can_take_commands(); true
  // when it handled any (they may have replies: the connection is dirty).
  bool process(Connection& connection);
  // Hands the session's new requests to the core; true when there were any.
  bool hand_over(Connection& connection);
  // The session accepts more commands and the peer reads its replies.
  bool can_take_commands(const Connection& connection) const;

  core::NodeCore& core_;
  std::function<core::Now()> clock_;
  std::function<void()> after_input_;
  std::function<void()> pump_now_;
  resp::SessionConfig session_config_;
  membership::TimeMs started_ms_;
  // Reused between batches (requests go to the core one by one).
  std::vector<wire::Message> requests_;
  Listener listener_;
};

}  // namespace ringkv::io
