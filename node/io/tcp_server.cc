#include "node/io/tcp_server.h"

#include <spdlog/spdlog.h>

#include <cassert>
#include <optional>
#include <utility>

#include "node/trust/session.h"
#include "node/wire/address.h"
#include "node/wire/codec.h"

namespace ringkv::io {
namespace {

constexpr size_t kReadBufferBytes = 256 * 1024;
// A session under a removed key closes once quiet this long (replies to its
// last requests have gone out; its owner opens a new one).
constexpr uint64_t kRemovedKeyQuietMs = 1000;

struct WriteRequest {
  uv_write_t request;
  std::string data;
};

}  // namespace

struct TcpServer::Connection {
  uv_tcp_t handle;  // first member: libuv callbacks cast the handle back
  TcpServer* server = nullptr;
  core::ClientId id = 0;
  std::string peer;
  wire::FrameReader reader;
  std::string pending;  // replies not yet handed to uv_write
  bool closing = false;
  bool reading = true;
  bool dirty = false;  // listed in TcpServer::dirty_
  bool started = false;  // the first frame was seen
  core::Channel channel = core::Channel::kClient;
  std::optional<trust::Session> session;  // a sealed peer session

  Connection(TcpServer* owner, core::ClientId client_id, const wire::Limits& limits)
      : server(owner), id(client_id), reader(limits) {}
};

TcpServer::TcpServer(uv_loop_t* loop, core::NodeCore& core, TrustContext& trust,
                     std::function<core::Now()> clock, std::function<void()> after_input,
                     std::function<void()> drain_replies, TcpServerConfig config)
    : loop_(loop),
      core_(core),
      trust_(trust),
      clock_(std::move(clock)),
      after_input_(std::move(after_input)),
      drain_replies_(std::move(drain_replies)),
      config_(std::move(config)),
      connection_limits_(config_.connections),
      read_buffer_(new char[kReadBufferBytes]) {}

TcpServer::~TcpServer() { assert(connections_.empty() && !listening_); }

std::expected<void, std::string> TcpServer::listen() {
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
    return std::unexpected("cannot listen on " + config_.listen_address + ": " + uv_strerror(rc));
  }
  return {};
}

void TcpServer::close() {
  if (listening_) {
    listening_ = false;
    uv_close(reinterpret_cast<uv_handle_t*>(&listener_), nullptr);
    if (std::exchange(idle_timer_running_, false)) {
      uv_close(reinterpret_cast<uv_handle_t*>(&idle_timer_), nullptr);
    }
  }
  // close_connection() erases from the map in its close callback, later.
  for (auto& [id, connection] : connections_) close_connection(*connection);
}

void TcpServer::on_connection(uv_stream_t* listener, int status) {
  auto* server = static_cast<TcpServer*>(listener->data);
  if (status < 0) {
    spdlog::warn("accept failed: {}", uv_strerror(status));
    return;
  }
  auto* connection = new Connection(server, server->next_client_id_++, server->config_.limits);
  assert(is_msgpack_client(connection->id) && "msgpack client ids stay in their range");
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

void TcpServer::on_alloc(uv_handle_t* handle, size_t, uv_buf_t* buf) {
  auto* server = static_cast<Connection*>(handle->data)->server;
  *buf = uv_buf_init(server->read_buffer_.get(), kReadBufferBytes);
}

void TcpServer::on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* connection = static_cast<Connection*>(stream->data);
  TcpServer* server = connection->server;
  if (nread < 0) {
    if (connection->reader.buffered_bytes() > 0 && !connection->closing) {
      spdlog::warn("closing connection from {}: bad frame: connection ended inside a frame ({} bytes "
                   "buffered)", connection->peer, connection->reader.buffered_bytes());
    }
    server->close_connection(*connection);
    return;
  }
  if (nread == 0 || connection->closing) return;
  server->connection_limits_.touch(connection->id, static_cast<uint64_t>(server->clock_().monotonic_ms));
  server->handle_bytes(*connection, std::string_view(buf->base, static_cast<size_t>(nread)));
  server->after_input_();
}

void TcpServer::handle_bytes(Connection& connection, std::string_view bytes) {
  connection.reader.feed(bytes);
  std::string_view payload;
  std::string error;
  while (!connection.closing) {
    const auto status = connection.reader.next(payload, error);
    if (status == wire::FrameReader::Status::kNeedMore) return;
    if (status == wire::FrameReader::Status::kError) {
      reject(connection, error, 0);
      return;
    }
    if (!connection.started) {
      if (!start_session(connection, payload)) return;
      if (connection.session) continue;  // that frame was the Hello
    }
    std::string opened;
    if (connection.session) {
      auto plaintext = connection.session->open(payload);
      if (!plaintext) {
        trust_.refuse(plaintext.error(), connection.peer, static_cast<uint64_t>(clock_().monotonic_ms));
        close_connection(connection);
        return;
      }
      opened = std::move(*plaintext);
      payload = opened;
    }
    auto message = wire::decode(payload, config_.limits);
    if (!message) {
      const wire::DecodeError& failure = message.error();
      if (failure.kind == wire::DecodeErrorKind::kUnknownType ||
          failure.kind == wire::DecodeErrorKind::kBadVersion) {
        // The frame itself was sound: answer it and keep the connection, so
        // a newer peer can probe what this node speaks.
        spdlog::warn("request from {} refused: {}", connection.peer, failure.reason);
        const auto code = failure.kind == wire::DecodeErrorKind::kUnknownType
                              ? wire::ErrorCode::kUnknownType
                              : wire::ErrorCode::kBadVersion;
        append_message(connection, wire::Message{failure.request_id, wire::ErrorReply{code, failure.reason}});
        mark_dirty(connection);
        continue;
      }
      reject(connection, failure.reason, failure.request_id);
      return;
    }
    core_.handle_client(connection.id, connection.peer, connection.channel, std::move(*message), clock_());
  }
}

bool TcpServer::start_session(Connection& connection, std::string_view first_frame) {
  connection.started = true;
  if (!trust::looks_sealed(first_frame)) {
    connection.channel = trust_.accepts_plaintext() ? core::Channel::kPeer : core::Channel::kClient;
    return true;
  }
  const uint64_t now_ms = static_cast<uint64_t>(clock_().monotonic_ms);
  if (!trust_.has_keyring()) {
    trust_.refuse(trust::Refusal::kNoKey, connection.peer, now_ms);
    close_connection(connection);
    return false;
  }
  std::string hello_ack;
  auto session = trust::Session::accept(trust_.keyring(), trust_.sealer(), trust_.cluster_name(), first_frame,
                                        hello_ack);
  if (!session) {
    trust_.refuse(session.error(), connection.peer, now_ms);
    // Say why in plaintext, so a node started with the wrong keys learns it
    // (TrustContext::trust_problem on its side) instead of retrying blind.
    const std::string reason = session.error() == trust::Refusal::kNotAuthentic
                                   ? "no installed key opens this frame: this node's keyring does not hold "
                                     "the key your Hello was sealed with"
                                   : std::string("sealed handshake refused: ") + trust::to_string(session.error());
    wire::encode_frame(wire::Message{0, wire::ErrorReply{wire::ErrorCode::kInvalid, reason}}, connection.pending);
    flush(connection);
    close_connection(connection, /*after_flush=*/true);
    return false;
  }
  ++trust_.sessions_accepted;
  const trust::Key& key = session->cluster_key();
  if (key != trust_.keyring().primary() && trust_.on_old_key_session) {
    trust_.on_old_key_session(std::string_view(connection.peer).substr(0, connection.peer.rfind(':')),
                              std::string_view(reinterpret_cast<const char*>(key.data()), key.size()));
  }
  connection.session = std::move(*session);
  connection.channel = core::Channel::kPeer;
  append_frame(connection.pending, hello_ack);
  mark_dirty(connection);
  return true;
}

void TcpServer::append_message(Connection& connection, const wire::Message& message) {
  if (connection.session) {
    append_frame(connection.pending, connection.session->seal(wire::encode(message)));
  } else {
    wire::encode_frame(message, connection.pending);
  }
}

void TcpServer::reject(Connection& connection, const std::string& reason, uint64_t request_id) {
  spdlog::warn("closing connection from {}: bad frame: {}", connection.peer, reason);
  // Requests before the bad frame were handled: their replies go out first.
  drain_replies_();
  wire::Message message{request_id, wire::ErrorReply{wire::ErrorCode::kInvalid, "bad frame: " + reason}};
  append_message(connection, message);
  flush(connection);
  close_connection(connection, /*after_flush=*/true);
}

void TcpServer::deliver(core::Outgoing& reply) {
  auto it = connections_.find(reply.client);
  if (it == connections_.end() || it->second->closing) return;  // client went away
  Connection& connection = *it->second;
  append_message(connection, reply.message);
  mark_dirty(connection);
}

void TcpServer::mark_dirty(Connection& connection) {
  if (connection.dirty) return;
  connection.dirty = true;
  dirty_.push_back(connection.id);
}

void TcpServer::flush_all() {
  for (core::ClientId id : std::exchange(dirty_, {})) {
    auto it = connections_.find(id);
    if (it == connections_.end()) continue;
    Connection& connection = *it->second;
    connection.dirty = false;
    if (!connection.closing && !connection.pending.empty()) flush(connection);
  }
}

void TcpServer::flush(Connection& connection) {
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
    // Resume reading once a slow reader has caught up.
    if (!conn->reading && !conn->closing &&
        request->handle->write_queue_size < conn->server->config_.write_queue_bytes_max / 2) {
      conn->reading = true;
      uv_read_start(request->handle, on_alloc, on_read);
    }
  });
  if (rc != 0) {
    delete write;
    close_connection(connection);
    return;
  }
  if (connection.reading && stream->write_queue_size > config_.write_queue_bytes_max) {
    connection.reading = false;
    uv_read_stop(stream);
  }
}

void TcpServer::close_connection(Connection& connection, bool after_flush) {
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
  // uv_close cancels unsent writes (their callbacks run first, then this).
  uv_close(reinterpret_cast<uv_handle_t*>(&connection.handle), on_closed);
}

void TcpServer::on_closed(uv_handle_t* handle) {
  auto* connection = static_cast<Connection*>(handle->data);
  connection->server->connection_limits_.closed(connection->id);
  connection->server->connections_.erase(connection->id);
  connection->server->core_.client_closed(connection->id);
  delete connection;
}

void TcpServer::on_idle_sweep(uv_timer_t* timer) {
  auto* server = static_cast<TcpServer*>(timer->data);
  const uint64_t now_ms = static_cast<uint64_t>(server->clock_().monotonic_ms);
  if (server->trust_.has_keyring()) {
    for (auto& [id, connection] : server->connections_) {
      if (connection->closing || !connection->session ||
          server->trust_.keyring().contains(connection->session->cluster_key())) {
        continue;
      }
      if (!server->connection_limits_.quiet_for(id, now_ms, kRemovedKeyQuietMs)) continue;
      spdlog::info("closing sealed session from {}: its cluster key was removed", connection->peer);
      server->close_connection(*connection);
    }
  }
  for (uint64_t id : server->connection_limits_.take_idle(now_ms)) {
    auto it = server->connections_.find(id);
    if (it == server->connections_.end()) continue;
    spdlog::info("closing connection from {}: idle for {} s (--idle-timeout-s)", it->second->peer,
                 server->connection_limits_.config().idle_timeout_ms / 1000);
    server->close_connection(*it->second);
  }
}

void TcpServer::refuse_over_cap(Connection& connection) {
  const uint64_t refused = connection_limits_.refused_over_cap();
  if ((refused & (refused - 1)) == 0) {  // the 1st, 2nd, 4th, 8th...: a flood logs a few lines
    spdlog::warn("refusing connection from {}: {} connections open, the cap (--max-connections); "
                 "{} refused so far", connection.peer, connection_limits_.open(), refused);
  }
  wire::encode_frame(wire::Message{0, wire::ErrorReply{wire::ErrorCode::kUnavailable,
                                                      "too many connections: this node's cap is " +
                                                          std::to_string(connection_limits_.config().connections_max) +
                                                          " (--max-connections)"}},
                     connection.pending);
  flush(connection);
  close_connection(connection, /*after_flush=*/true);
}

}  // namespace ringkv::io
