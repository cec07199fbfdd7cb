#include "node/io/resp_server.h"

#include <spdlog/spdlog.h>

#include <cassert>
#include <utility>


namespace ringkv::io {

struct RespServer::State : ConnectionState {
  resp::RequestParser parser;
  resp::Session session;
  resp::Command command;  // reused: the views of the command being handed over
  // Read while the node was shedding: not read again until the next drain.
  bool yielded = false;

  State(const resp::SessionConfig& config, uint64_t client_id)
      : parser(config.limits), session(config, client_id) {}
};

RespServer::State& RespServer::state_of(Connection& connection) { return static_cast<State&>(*connection.state); }
const RespServer::State& RespServer::state_of(const Connection& connection) {
  return static_cast<const State&>(*connection.state);
}

RespServer::RespServer(uv_loop_t* loop, core::NodeCore& core, std::function<core::Now()> clock,
                       std::function<void()> after_input, std::function<void()> pump_now,
                       RespServerConfig config)
    : core_(core),
      clock_(std::move(clock)),
      after_input_(std::move(after_input)),
      pump_now_(std::move(pump_now)),
      session_config_(config.session),
      started_ms_(clock_().monotonic_ms),
      listener_(loop, *this, [this] { return static_cast<uint64_t>(clock_().monotonic_ms); },
                ListenerConfig{.listen_address = std::move(config.listen_address),
                               .label = "RESP",
                               .first_connection_id = kRespClientFirst,
                               .connections = config.connections}) {
  assert(session_config_.limits.validate().empty() && "RESP limits must be consistent");
}

std::unique_ptr<ConnectionState> RespServer::opened(Connection& connection) {
  assert(is_resp_client(connection.id) && "RESP client ids carry their tag");
  return std::make_unique<State>(session_config_, connection.id & ~kRespClientTag);
}

void RespServer::closed(Connection& connection) { core_.client_closed(connection.id); }

std::string RespServer::over_cap_reply(size_t) const { return "-ERR max number of clients reached\r\n"; }

void RespServer::received(Connection& connection, std::string_view bytes) {
  State& state = state_of(connection);
  // Parsed in place: the commands are handed over (copied into requests)
  // before `bytes` go away; only what they leave is copied into the parser.
  state.parser.feed_in_place(bytes);
  process(connection);
  state.parser.keep_unparsed();
  state.parser.release_spare();
  if (core_.shedding()) {
    // One read per drain while the node sheds: a flood of connections cannot
    // make one loop iteration (and the replies it holds) grow without end;
    // what a client sends meanwhile waits in its socket, not in this process.
    state.yielded = true;
    listener_.mark_dirty(connection);  // flush_all() lifts it
    listener_.update_reading(connection);
  }
  after_input_();
}

void RespServer::caught_up(Connection& connection) {
  // A slow reader caught up: hand over what the parser holds, read again.
  if (!can_take_commands(connection)) return;
  process(connection);
  after_input_();
}

bool RespServer::wants_input(const Connection& connection) const {
  const State& state = state_of(connection);
  return !state.yielded && state.session.accepting() && state.session.has_room();
}

bool RespServer::can_take_commands(const Connection& connection) const {
  return !connection.closing && !connection.backpressured && wants_input(connection);
}

bool RespServer::process(Connection& connection) {
  State& state = state_of(connection);
  resp::Command& command = state.command;
  std::string error;
  const uint64_t uptime_s = static_cast<uint64_t>(clock_().monotonic_ms - started_ms_) / 1000;
  bool handled = false;
  while (can_take_commands(connection)) {
    const auto status = state.parser.next(command, error);
    if (status == resp::RequestParser::Status::kNeedMore) break;
    handled = true;
    if (status == resp::RequestParser::Status::kError) {
      spdlog::warn("closing RESP connection from {}: protocol error: {}", connection.peer, error);
      state.session.fail_protocol(error);
      break;
    }
    state.session.handle_command(command, uptime_s);
  }
  hand_over(connection);
  if (handled) listener_.mark_dirty(connection);
  listener_.update_reading(connection);
  return handled;
}

bool RespServer::hand_over(Connection& connection) {
  state_of(connection).session.take_requests(requests_);
  if (requests_.empty()) return false;
  const core::Now now = clock_();
  for (auto& request : requests_) {
    core_.handle_client(connection.id, connection.peer, core::Channel::kClient, std::move(request), now);
  }
  requests_.clear();
  return true;
}

void RespServer::deliver(core::Outgoing& reply) {
  Connection* connection = listener_.find(reply.client);
  if (connection == nullptr) return;  // client went away
  state_of(*connection).session.handle_reply(reply.message, connection->pending);
  listener_.mark_dirty(*connection);
}

void RespServer::flush_all() {
  bool resumed = false;
  for (Connection* connection : listener_.take_dirty()) {
    if (connection->closing) continue;
    state_of(*connection).yielded = false;
    resp::Session& session = state_of(*connection).session;
    // Commands with a second phase (DEL deletes after it read) made new
    // requests while their replies arrived.
    if (hand_over(*connection)) resumed = true;
    session.take_ready(connection->pending);
    listener_.flush(*connection);
    if (connection->closing) continue;
    if (session.finished()) {
      listener_.close_connection(*connection, /*after_flush=*/true);
      continue;
    }
    // Commands left in the parser while the session was full: hand them
    // over now that replies made room. Whether the connection is being read
    // again says nothing about them (flush() above may have resumed reading,
    // and a client that sent its whole pipeline sends nothing more), so look
    // at the parser. (A pipeline deeper than commands_in_flight_max of
    // GETs stalled here when reading resumed first.)
    if (state_of(*connection).parser.buffered_bytes() > 0 && process(*connection)) resumed = true;
    listener_.update_reading(*connection);
  }
  if (resumed) pump_now_();
}

}  // namespace ringkv::io
