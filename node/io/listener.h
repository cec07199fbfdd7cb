// Listener: one listening TCP port on libuv, shared by the node port
// (TcpServer, msgpack frames) and the RESP port (RespServer).
//
// It owns what every port does the same way: accept, the peer's address, one
// read buffer, the connection cap and the idle timeout (connection_limits.h),
// a per-connection queue of unsent bytes written in one uv_write per flush,
// backpressure on a slow reader, and close. What the bytes mean belongs to a
// Protocol: the listener hands it every read and the protocol queues its
// replies with append(), then flush().
//
// Contract:
// - A Connection lives from Protocol::opened() (after it was admitted under
//   the cap) to Protocol::closed(), the one close hook: every connection that
//   was opened reaches it exactly once, whatever closed it (peer EOF, error,
//   idle timeout, the protocol, close()). After closed() the Connection and
//   its state are freed; find() no longer returns it.
// - Backpressure: after a flush leaves more than connections.unsent_bytes_max
//   unsent, the connection is `backpressured()` and not read until the queue
//   falls under half of that. A protocol may also refuse input for its own reasons
//   (Protocol::wants_input); update_reading() applies both.
// - Dirty list: mark_dirty() records a connection with replies to collect;
//   take_dirty() returns them (open ones, each once) for the owner's flush.
//
// Thread model: everything runs on the loop's thread; callbacks into the
// Protocol never nest inside another call into the same connection except
// where stated.
#pragma once

#include <uv.h>

#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "node/io/connection_limits.h"

namespace ringkv::io {

struct ListenerConfig {
  std::string listen_address;  // HOST:PORT
  // Names the port in log lines ("" for the node port, "RESP").
  std::string label;
  uint64_t first_connection_id = 1;  // ids count up from here
  // The cap, the idle timeout and the unsent-bytes bound (backpressure).
  ConnectionLimitsConfig connections;
};

// The protocol's own per-connection state (a parser, a session).
struct ConnectionState {
  virtual ~ConnectionState() = default;
};

class Listener;

struct Connection {
  uv_tcp_t handle;  // handle.data points back to this Connection
  Listener* listener = nullptr;
  uint64_t id = 0;
  std::string peer;                       // "a.b.c.d:port", empty if unknown
  std::string pending;                    // bytes queued, not yet handed to uv_write
  std::unique_ptr<ConnectionState> state;  // set by Protocol::opened
  // Changed by the Listener only.
  bool closing = false;
  bool reading = false;
  bool backpressured = false;
  bool dirty = false;
};

class Listener {
 public:
  class Protocol {
   public:
    virtual ~Protocol() = default;
    // A new connection was admitted: returns its state.
    virtual std::unique_ptr<ConnectionState> opened(Connection& connection) = 0;
    // Bytes read (the connection is open); may append, flush and close.
    virtual void received(Connection& connection, std::string_view bytes) = 0;
    // The peer ended the stream or the read failed; the listener closes it next.
    virtual void ended(Connection& /*connection*/) {}
    // A write completed while the connection was not reading: the protocol
    // may resume its own work (update_reading() follows).
    virtual void caught_up(Connection& /*connection*/) {}
    // False while the protocol cannot take more input on this connection.
    virtual bool wants_input(const Connection& /*connection*/) const { return true; }
    // The reply for a connection over the cap (it is then closed).
    virtual std::string over_cap_reply(size_t connections_max) const = 0;
    // The close hook (see the contract above). The state is freed after.
    virtual void closed(Connection& connection) = 0;
    // Once a second, after idle connections were closed: the protocol's own
    // housekeeping (it may close connections).
    virtual void swept(uint64_t /*now_ms*/) {}
  };

  // `now_ms` reads the monotonic clock.
  Listener(uv_loop_t* loop, Protocol& protocol, std::function<uint64_t()> now_ms, ListenerConfig config);
  ~Listener();
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  std::expected<void, std::string> listen();
  // Stops accepting and closes every connection; the loop then runs dry.
  void close();

  // The open connection with this id, or nullptr (gone or closing).
  Connection* find(uint64_t id);
  void mark_dirty(Connection& connection);
  // Open connections marked dirty since the last call, each once.
  std::vector<Connection*> take_dirty();
  // Hands the queued bytes to one uv_write (nothing when none are queued).
  void flush(Connection& connection);
  // Reads while not closing, not backpressured and the protocol wants input.
  void update_reading(Connection& connection);
  // after_flush: shut the write side down once queued bytes are out, then
  // close; otherwise close now (unsent writes are cancelled).
  void close_connection(Connection& connection, bool after_flush = false);

  const ConnectionLimits& connection_limits() const { return connection_limits_; }
  const ListenerConfig& config() const { return config_; }

 private:
  static void on_connection(uv_stream_t* server, int status);
  static void on_alloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
  static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void on_written(uv_write_t* request, int status);
  static void on_closed(uv_handle_t* handle);
  static void on_idle_sweep(uv_timer_t* timer);
  void accept(uv_stream_t* server);
  void refuse_over_cap(Connection& connection);
  // "RESP connection" or "connection", for log lines.
  std::string noun() const;

  uv_loop_t* loop_;
  Protocol& protocol_;
  std::function<uint64_t()> now_ms_;
  ListenerConfig config_;
  uv_tcp_t server_;
  bool listening_ = false;
  ConnectionLimits connection_limits_;
  uv_timer_t idle_timer_;
  bool idle_timer_running_ = false;
  uint64_t next_id_;
  std::unordered_map<uint64_t, Connection*> connections_;
  std::vector<uint64_t> dirty_;
  // One read buffer for every connection: reads are handled to completion
  // before the next one starts on this thread.
  std::unique_ptr<char[]> read_buffer_;
};

}  // namespace ringkv::io
