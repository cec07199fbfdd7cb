// MetricsServer: the node's optional Prometheus port (--metrics-listen) on
// libuv. GET /metrics answers the text exposition that `render` builds;
// every other request gets an HTTP error: 404 for another path, 405 for
// another method on /metrics, 400/431/505 for a malformed request (then the
// connection closes). Parsing is node/metrics/http_request.h (pure).
//
// Bounds: the request head is at most head_bytes_max; one request is
// answered at a time per connection (the next is not read or parsed until
// the answer was written, so pipelining cannot queue answers); at most
// connections_max connections (one more gets a 503 and is closed) and an idle
// timeout (connection_limits.h, through the shared Listener).
//
// Thread model: everything runs on the loop's thread; render runs there too.
#pragma once

#include <uv.h>

#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "node/io/connection_limits.h"
#include "node/io/listener.h"
#include "node/metrics/http_request.h"

namespace ringkv::io {

struct MetricsServerConfig {
  std::string listen_address;  // HOST:PORT
  size_t head_bytes_max = metrics::HttpRequestParser::kHeadBytesMaxDefault;
  // A scraper keeps one connection; a few more allow curl and a second Prometheus.
  ConnectionLimitsConfig connections{.connections_max = 16, .idle_timeout_ms = 120'000};
};

class MetricsServer : private Listener::Protocol {
 public:
  // `now_ms` reads the monotonic clock; `render` returns a whole scrape.
  MetricsServer(uv_loop_t* loop, std::function<uint64_t()> now_ms, std::function<std::string()> render,
                MetricsServerConfig config);
  ~MetricsServer() override = default;
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  std::expected<void, std::string> listen() { return listener_.listen(); }
  // Stops accepting and closes every connection; the loop then runs dry.
  void close() { listener_.close(); }
  // `metrics_connections_*` and `metrics_requests_refused` (kv stats).
  void add_stats(std::vector<std::pair<std::string, uint64_t>>& values) const;

 private:
  struct State;  // per connection: the parser, and whether an answer is being written
  static State& state_of(Connection& connection);

  // Listener::Protocol
  std::unique_ptr<ConnectionState> opened(Connection& connection) override;
  void received(Connection& connection, std::string_view bytes) override;
  void caught_up(Connection& connection) override;
  bool wants_input(const Connection& connection) const override;
  std::string over_cap_reply(size_t connections_max) const override;
  void closed(Connection&) override {}

  // Answers the next buffered request, if any and none is being written.
  void process(Connection& connection);

  std::function<std::string()> render_;
  size_t head_bytes_max_;
  uint64_t requests_refused_ = 0;
  Listener listener_;
};

}  // namespace ringkv::io
