#include "node/io/listener.h"

#include <spdlog/spdlog.h>

#include <cassert>
#include <utility>

#include "node/wire/address.h"

namespace ringkv::io {
namespace {

// One read's most: under a flood every connection may bring this much per
// loop iteration (then RespServer stops reading it until the next drain).
constexpr size_t kReadBufferBytes = 64 * 1024;
constexpr int kBacklog = 511;
constexpr uint64_t kIdleSweepMs = 1000;

struct WriteRequest {
  uv_write_t request;
  std::string data;
};

}  // namespace

Listener::Listener(uv_loop_t* loop, Protocol& protocol, std::function<uint64_t()> now_ms, ListenerConfig config)
    : loop_(loop),
      protocol_(protocol),
      now_ms_(std::move(now_ms)),
      config_(std::move(config)),
      connection_limits_(config_.connections),
      next_id_(config_.first_connection_id),
      read_buffer_(new char[kReadBufferBytes]) {}

Listener::~Listener() { assert(connections_.empty() && !listening_ && "close() and run the loop dry first"); }

std::string Listener::noun() const { return config_.label.empty() ? "connection" : config_.label + " connection"; }

std::expected<void, std::string> Listener::listen() {
  auto address = wire::parse_address(config_.listen_address);
  if (!address) return std::unexpected(address.error());
  uv_tcp_init(loop_, &server_);
  server_.data = this;
  listening_ = true;
  int rc = uv_tcp_bind(&server_, reinterpret_cast<const sockaddr*>(&*address), 0);
  if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(&server_), kBacklog, on_connection);
  if (rc == 0) {
    uv_timer_init(loop_, &idle_timer_);
    idle_timer_running_ = true;
    idle_timer_.data = this;
    uv_timer_start(&idle_timer_, on_idle_sweep, kIdleSweepMs, kIdleSweepMs);
  }
  if (rc != 0) {
    close();
    const std::string which = config_.label.empty() ? "" : " (" + config_.label + ")";
    return std::unexpected("cannot listen" + which + " on " + config_.listen_address + ": " + uv_strerror(rc));
  }
  return {};
}

void Listener::close() {
  if (listening_) {
    listening_ = false;
    uv_close(reinterpret_cast<uv_handle_t*>(&server_), nullptr);
    if (std::exchange(idle_timer_running_, false)) {
      uv_close(reinterpret_cast<uv_handle_t*>(&idle_timer_), nullptr);
    }
  }
  // close_connection() erases from the map in its close callback, later.
  for (auto& [id, connection] : connections_) close_connection(*connection);
}

void Listener::on_connection(uv_stream_t* server, int status) {
  auto* listener = static_cast<Listener*>(server->data);
  if (status < 0) {
    spdlog::warn("{}accept failed: {}", listener->config_.label.empty() ? "" : listener->config_.label + " ",
                 uv_strerror(status));
    return;
  }
  listener->accept(server);
}

void Listener::accept(uv_stream_t* server) {
  auto* connection = new Connection;
  connection->id = next_id_++;
  uv_tcp_init(loop_, &connection->handle);
  connection->listener = this;
  connection->handle.data = connection;
  if (uv_accept(server, reinterpret_cast<uv_stream_t*>(&connection->handle)) != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(&connection->handle), [](uv_handle_t* handle) {
      delete static_cast<Connection*>(handle->data);
    });
    return;
  }
  uv_tcp_nodelay(&connection->handle, 1);
  sockaddr_storage peer{};
  int length = sizeof(peer);
  if (uv_tcp_getpeername(&connection->handle, reinterpret_cast<sockaddr*>(&peer), &length) == 0 &&
      peer.ss_family == AF_INET) {
    connection->peer = wire::format_address(reinterpret_cast<const sockaddr_in&>(peer));
  }
  connections_.emplace(connection->id, connection);
  if (!connection_limits_.admit(connection->id, now_ms_())) {
    refuse_over_cap(*connection);
    return;
  }
  connection->state = protocol_.opened(*connection);
  update_reading(*connection);
}

void Listener::on_alloc(uv_handle_t* handle, size_t, uv_buf_t* buf) {
  auto* listener = static_cast<Connection*>(handle->data)->listener;
  *buf = uv_buf_init(listener->read_buffer_.get(), kReadBufferBytes);
}

void Listener::on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto& connection = *static_cast<Connection*>(stream->data);
  Listener* listener = connection.listener;
  if (nread < 0) {
    if (!connection.closing) listener->protocol_.ended(connection);
    listener->close_connection(connection);
    return;
  }
  if (nread == 0 || connection.closing) return;
  listener->connection_limits_.touch(connection.id, listener->now_ms_());
  listener->protocol_.received(connection, std::string_view(buf->base, static_cast<size_t>(nread)));
}

Connection* Listener::find(uint64_t id) {
  auto it = connections_.find(id);
  if (it == connections_.end() || it->second->closing) return nullptr;
  return it->second;
}

void Listener::mark_dirty(Connection& connection) {
  if (connection.dirty) return;
  connection.dirty = true;
  dirty_.push_back(connection.id);
}

std::vector<Connection*> Listener::take_dirty() {
  std::vector<Connection*> open;
  for (uint64_t id : std::exchange(dirty_, {})) {
    auto it = connections_.find(id);
    if (it == connections_.end()) continue;
    it->second->dirty = false;
    if (!it->second->closing) open.push_back(it->second);
  }
  return open;
}

void Listener::flush(Connection& connection) {
  if (connection.pending.empty() || connection.closing) return;
  auto* write = new WriteRequest;
  write->data = std::move(connection.pending);
  connection.pending.clear();
  write->request.data = write;
  uv_buf_t buf = uv_buf_init(write->data.data(), static_cast<unsigned>(write->data.size()));
  auto* stream = reinterpret_cast<uv_stream_t*>(&connection.handle);
  if (uv_write(&write->request, stream, &buf, 1, on_written) != 0) {
    delete write;
    close_connection(connection);
    return;
  }
  if (stream->write_queue_size > config_.connections.unsent_bytes_max) connection.backpressured = true;
  update_reading(connection);
}

void Listener::on_written(uv_write_t* request, int) {
  // `request` lives inside the WriteRequest: read what it points to first.
  uv_stream_t* stream = request->handle;
  delete static_cast<WriteRequest*>(request->data);
  auto& connection = *static_cast<Connection*>(stream->data);
  Listener* listener = connection.listener;
  if (connection.closing || connection.reading) return;
  if (connection.backpressured && stream->write_queue_size < listener->config_.connections.unsent_bytes_max / 2) {
    connection.backpressured = false;  // the slow reader caught up
  }
  if (connection.backpressured) return;
  listener->protocol_.caught_up(connection);
  listener->update_reading(connection);
}

void Listener::update_reading(Connection& connection) {
  if (connection.closing || !connection.state) return;
  const bool want = !connection.backpressured && protocol_.wants_input(connection);
  if (want == connection.reading) return;
  connection.reading = want;
  auto* stream = reinterpret_cast<uv_stream_t*>(&connection.handle);
  if (want) {
    uv_read_start(stream, on_alloc, on_read);
  } else {
    uv_read_stop(stream);
  }
}

void Listener::close_connection(Connection& connection, bool after_flush) {
  if (connection.closing) return;
  connection.closing = true;
  auto* stream = reinterpret_cast<uv_stream_t*>(&connection.handle);
  uv_read_stop(stream);
  connection.reading = false;
  if (after_flush) {
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

void Listener::on_closed(uv_handle_t* handle) {
  auto* connection = static_cast<Connection*>(handle->data);
  Listener* listener = connection->listener;
  if (connection->state) listener->protocol_.closed(*connection);
  listener->connection_limits_.closed(connection->id);
  listener->connections_.erase(connection->id);
  delete connection;
}

void Listener::on_idle_sweep(uv_timer_t* timer) {
  auto* listener = static_cast<Listener*>(timer->data);
  for (uint64_t id : listener->connection_limits_.take_idle(listener->now_ms_())) {
    Connection* connection = listener->find(id);
    if (connection == nullptr) continue;
    spdlog::info("closing {} from {}: idle for {} s (--idle-timeout-s)", listener->noun(), connection->peer,
                 listener->connection_limits_.config().idle_timeout_ms / 1000);
    listener->close_connection(*connection);
  }
  listener->protocol_.swept(listener->now_ms_());
}

void Listener::refuse_over_cap(Connection& connection) {
  const uint64_t refused = connection_limits_.refused_over_cap();
  if ((refused & (refused - 1)) == 0) {  // the 1st, 2nd, 4th, 8th...: a flood logs a few lines
    spdlog::warn("refusing {} from {}: {} connections open, the cap (--max-connections); {} refused so far",
                 noun(), connection.peer, connection_limits_.open(), refused);
  }
  connection.pending = protocol_.over_cap_reply(connection_limits_.config().connections_max);
  flush(connection);
  close_connection(connection, /*after_flush=*/true);
}

}  // namespace ringkv::io
