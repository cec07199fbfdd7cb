#include "node/io/resp_server.h"

#include <spdlog/spdlog.h>

#include <cassert>
#include <utility>

#include "node/wire/address.h"

namespace ringkv::io {
namespace {

constexpr size_t kReadBufferBytes = 256 * 1024;

struct WriteRequest {
  uv_write_t request;
  std::string data;
};

}  // namespace

struct RespServer::Connection {
  uv_tcp_t handle;  // first member: libuv callbacks cast the handle back
  RespServer* server = nullptr;
  core::ClientId id = 0;
  std::string peer;
  resp::RequestParser parser;
  resp::Session session;
  std::string pending;  // replies not yet handed to uv_write
  bool closing = false;
  bool reading = true;
  bool dirty = false;  // listed in RespServer::dirty_

  Connection(RespServer* owner, core::ClientId client_id, const resp::SessionConfig& config)
      : server(owner), id(client_id), parser(config.limits), session(config) {}
};

RespServer::RespServer(uv_loop_t* loop, core::NodeCore& core, std::function<core::Now()> clock,
                       std::function<void()> after_input, std::function<void()> pump_now,
                       RespServerConfig config)
    : loop_(loop),
      core_(core),
      clock_(std::move(clock)),
      after_input_(std::move(after_input)),
      pump_now_(std::move(pump_now)),
      config_(std::move(config)),
      started_ms_(clock_().monotonic_ms),
      connection_limits_(config_.connections),
      read_buffer_(new char[kReadBufferBytes]) {
  assert(config_.session.limits.validate().empty() && "RESP limits must be consistent");
}

RespServer::~RespServer() { assert(connections_.empty() && !listening_); }

std::expected<void, std::string> RespServer::listen() {
  auto address = wire::parse_address(config_.listen_address);
  if (!address) return std::unexpected(address.error());
  uv_tcp_init(loop_, &listener_);
  listener_.data = this;
  listening_ = true;
  int rc = uv_tcp_bind(&listener_, reinterpret_cast<const sockaddr*>(&*address), 0);
  if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(&listener_), 511, on_connection);
  if (rc == 0) {
    uv_timer_init(loop_, &idle_timer_);
    idle_timer_running_ = true;
    idle_timer_.data = this;
    uv_timer_start(&idle_timer_, on_idle_sweep, 1000, 1000);
  }
  if (rc != 0) {
    close();
    return std::unexpected("cannot listen (RESP) on " + config_.listen_address + ": " + uv_strerror(rc));
  }
  return {};
}

void RespServer::close() {
  if (listening_) {
    listening_ = false;
    uv_close(reinterpret_cast<uv_handle_t*>(&listener_), nullptr);
    if (std::exchange(idle_timer_running_, false)) {
      uv_close(reinterpret_cast<uv_handle_t*>(&idle_timer_), nullptr);
    }
  }
  for (auto& [id, connection] : connections_) close_connection(*connection);
}

void RespServer::on_connection(uv_stream_t* listener, int status) {
  auto* server = static_cast<RespServer*>(listener->data);
  if (status < 0) {
    spdlog::warn("RESP accept failed: {}", uv_strerror(status));
    return;
  }
  auto* connection = new Connection(server, server->next_client_id_++, server->config_.session);
  assert(is_resp_client(connection->id) && "RESP client ids carry their tag");
  uv_tcp_init(server->loop_, &connection->handle);
  connection->handle.data = connection;
  if (uv_accept(listener, reinterpret_cast<uv_stream_t*>(&connection->handle)) != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(&connection->handle),
             [](uv_handle_t* h) { delete static_cast<Connection*>(h->data); });
    return;
  }
  uv_tcp_nodelay(&connection->handle, 1);
  sockaddr_storage peer{};
  int length = sizeof(peer);
  if (uv_tcp_getpeername(&connection->handle, reinterpret_cast<sockaddr*>(&peer), &length) == 0 &&
      peer.ss_family == AF_INET) {
    connection->peer = wire::format_address(reinterpret_cast<const sockaddr_in&>(peer));
  }
  server->connections_.emplace(connection->id, connection);
  if (!server->connection_limits_.admit(connection->id, static_cast<uint64_t>(server->clock_().monotonic_ms))) {
    server->refuse_over_cap(*connection);
    return;
  }
  uv_read_start(reinterpret_cast<uv_stream_t*>(&connection->handle), on_alloc, on_read);
}

void RespServer::on_alloc(uv_handle_t* handle, size_t, uv_buf_t* buf) {
  auto* server = static_cast<Connection*>(handle->data)->server;
  *buf = uv_buf_init(server->read_buffer_.get(), kReadBufferBytes);
}

void RespServer::on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* connection = static_cast<Connection*>(stream->data);
  RespServer* server = connection->server;
  if (nread < 0) {
    server->close_connection(*connection);
    return;
  }
  if (nread == 0 || connection->closing) return;
  server->connection_limits_.touch(connection->id, static_cast<uint64_t>(server->clock_().monotonic_ms));
  connection->parser.feed(std::string_view(buf->base, static_cast<size_t>(nread)));
  server->process(*connection);
  server->after_input_();
}

bool RespServer::can_take_commands(Connection& connection) const {
  const auto* stream = reinterpret_cast<const uv_stream_t*>(&connection.handle);
  return !connection.closing && connection.session.accepting() && connection.session.has_room() &&
         stream->write_queue_size <= config_.write_queue_bytes_max / 2;
}

void RespServer::process(Connection& connection) {
  resp::Session& session = connection.session;
  resp::Command command;
  std::string error;
  const uint64_t uptime_s = static_cast<uint64_t>(clock_().monotonic_ms - started_ms_) / 1000;
  while (can_take_commands(connection)) {
    const auto status = connection.parser.next(command, error);
    if (status == resp::RequestParser::Status::kNeedMore) break;
    if (status == resp::RequestParser::Status::kError) {
      spdlog::warn("closing RESP connection from {}: protocol error: {}", connection.peer, error);
      session.fail_protocol(error);
      break;
    }
    session.handle_command(command, uptime_s);
  }
  hand_over(connection);
  mark_dirty(connection);
  update_reading(connection);
}

bool RespServer::hand_over(Connection& connection) {
  connection.session.take_requests(requests_);
  if (requests_.empty()) return false;
  const core::Now now = clock_();
  for (auto& request : requests_) core_.handle_client(connection.id, connection.peer, core::Channel::kClient, std::move(request), now);
  requests_.clear();
  return true;
}

void RespServer::update_reading(Connection& connection) {
  if (connection.closing) return;
  auto* stream = reinterpret_cast<uv_stream_t*>(&connection.handle);
  const bool want = can_take_commands(connection);
  if (want == connection.reading) return;
  connection.reading = want;
  if (want) {
    uv_read_start(stream, on_alloc, on_read);
  } else {
    uv_read_stop(stream);
  }
}

void RespServer::mark_dirty(Connection& connection) {
  if (connection.dirty) return;
  connection.dirty = true;
  dirty_.push_back(connection.id);
}

void RespServer::deliver(core::Outgoing& reply) {
  auto it = connections_.find(reply.client);
  if (it == connections_.end() || it->second->closing) return;  // client went away
  it->second->session.handle_reply(reply.message);
  mark_dirty(*it->second);
}

void RespServer::flush_all() {
  bool resumed = false;
  for (core::ClientId id : std::exchange(dirty_, {})) {
    auto it = connections_.find(id);
    if (it == connections_.end()) continue;
    Connection& connection = *it->second;
    connection.dirty = false;
    if (connection.closing) continue;
    // Commands with a second phase (DEL deletes after it read) made new
    // requests while their replies arrived.
    if (hand_over(connection)) resumed = true;
    connection.session.take_ready(connection.pending);
    if (!connection.pending.empty()) flush(connection);
    if (connection.closing) continue;
    if (connection.session.finished()) {
      close_connection(connection, /*after_flush=*/true);
      continue;
    }
    // Commands left in the parser while the session was full: hand them
    // over now that replies made room (then reading resumes).
    if (!connection.reading && can_take_commands(connection)) {
      process(connection);
      resumed = true;
    }
  }
  if (resumed) pump_now_();
}

void RespServer::flush(Connection& connection) {
  auto* write = new WriteRequest;
  write->data = std::move(connection.pending);
  connection.pending.clear();
  write->request.data = write;
  uv_buf_t buf = uv_buf_init(write->data.data(), static_cast<unsigned>(write->data.size()));
  auto* stream = reinterpret_cast<uv_stream_t*>(&connection.handle);
  const int rc = uv_write(&write->request, stream, &buf, 1, [](uv_write_t* request, int) {
    auto* done = static_cast<WriteRequest*>(request->data);
    auto* conn = static_cast<Connection*>(request->handle->data);
    delete done;
    // A slow reader caught up: hand over what the parser holds, read again.
    if (!conn->reading && conn->server->can_take_commands(*conn)) {
      conn->server->process(*conn);
      conn->server->after_input_();
    }
  });
  if (rc != 0) {
    delete write;
    close_connection(connection);
    return;
  }
  update_reading(connection);
}

void RespServer::close_connection(Connection& connection, bool after_flush) {
  if (connection.closing) return;
  connection.closing = true;
  auto* stream = reinterpret_cast<uv_stream_t*>(&connection.handle);
  uv_read_stop(stream);
  if (after_flush) {
    // Shut down the write side once queued replies are out, then close.
    auto* shutdown = new uv_shutdown_t;
    if (uv_shutdown(shutdown, stream, [](uv_shutdown_t* request, int) {
          uv_close(reinterpret_cast<uv_handle_t*>(request->handle), on_closed);
          delete request;
        }) == 0) {
      return;
    }
    delete shutdown;
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&connection.handle), on_closed);
}

void RespServer::on_closed(uv_handle_t* handle) {
  auto* connection = static_cast<Connection*>(handle->data);
  connection->server->connection_limits_.closed(connection->id);
  connection->server->connections_.erase(connection->id);
  connection->server->core_.client_closed(connection->id);
  delete connection;
}

void RespServer::on_idle_sweep(uv_timer_t* timer) {
  auto* server = static_cast<RespServer*>(timer->data);
  const uint64_t now_ms = static_cast<uint64_t>(server->clock_().monotonic_ms);
  for (uint64_t id : server->connection_limits_.take_idle(now_ms)) {
    auto it = server->connections_.find(id);
    if (it == server->connections_.end()) continue;
    spdlog::info("closing RESP connection from {}: idle for {} s (--idle-timeout-s)", it->second->peer,
                 server->connection_limits_.config().idle_timeout_ms / 1000);
    server->close_connection(*it->second);
  }
}

void RespServer::refuse_over_cap(Connection& connection) {
  const uint64_t refused = connection_limits_.refused_over_cap();
  if ((refused & (refused - 1)) == 0) {  // the 1st, 2nd, 4th, 8th...: a flood logs a few lines
    spdlog::warn("refusing RESP connection from {}: {} connections open, the cap (--max-connections); "
                 "{} refused so far", connection.peer, connection_limits_.open(), refused);
  }
  connection.pending += "-ERR max number of clients reached\r\n";
  flush(connection);
  close_connection(connection, /*after_flush=*/true);
}

}  // namespace ringkv::io
