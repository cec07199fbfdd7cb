#include "node/io/metrics_server.h"

#include <spdlog/spdlog.h>

namespace ringkv::io {

struct MetricsServer::State : ConnectionState {
  metrics::HttpRequestParser parser;
  bool writing = false;  // an answer is queued or being written

  explicit State(size_t head_bytes_max) : parser(head_bytes_max) {}
};

MetricsServer::State& MetricsServer::state_of(Connection& connection) {
  return static_cast<State&>(*connection.state);
}

MetricsServer::MetricsServer(uv_loop_t* loop, std::function<uint64_t()> now_ms, std::function<std::string()> render,
                             MetricsServerConfig config)
    : render_(std::move(render)),
      head_bytes_max_(config.head_bytes_max),
      listener_(loop, *this, std::move(now_ms),
                ListenerConfig{.listen_address = std::move(config.listen_address),
                               .label = "metrics",
                               .connections = config.connections}) {}

std::unique_ptr<ConnectionState> MetricsServer::opened(Connection&) {
  return std::make_unique<State>(head_bytes_max_);
}

std::string MetricsServer::over_cap_reply(size_t connections_max) const {
  return metrics::http_response(503, "text/plain", "too many connections (at most " + std::to_string(connections_max) + ")\n",
                                /*close=*/true);
}

void MetricsServer::received(Connection& connection, std::string_view bytes) {
  state_of(connection).parser.feed(bytes);
  process(connection);
}

void MetricsServer::caught_up(Connection& connection) {
  state_of(connection).writing = false;
  process(connection);
}

bool MetricsServer::wants_input(const Connection& connection) const {
  return !static_cast<const State&>(*connection.state).writing;
}

void MetricsServer::process(Connection& connection) {
  State& state = state_of(connection);
  if (state.writing || connection.closing) return;
  metrics::HttpRequest request;
  metrics::HttpError error;
  switch (state.parser.next(request, error)) {
    case metrics::HttpRequestParser::Status::kNeedMore:
      listener_.update_reading(connection);
      return;
    case metrics::HttpRequestParser::Status::kError:
      ++requests_refused_;
      spdlog::debug("metrics: refusing a request from {}: {}", connection.peer, error.reason);
      connection.pending = metrics::http_response(error.status, "text/plain", error.reason + "\n", /*close=*/true);
      listener_.flush(connection);
      listener_.close_connection(connection, /*after_flush=*/true);
      return;
    case metrics::HttpRequestParser::Status::kRequest:
      break;
  }
  switch (metrics::route(request)) {
    case metrics::Route::kMetrics:
      connection.pending = metrics::http_response(200, metrics::kPrometheusTextType, render_(), !request.keep_alive);
      break;
    case metrics::Route::kNotFound:
      ++requests_refused_;
      connection.pending = metrics::http_response(404, "text/plain", "only /metrics is served here\n", !request.keep_alive);
      break;
    case metrics::Route::kMethodNotAllowed:
      ++requests_refused_;
      connection.pending = metrics::http_response(405, "text/plain", "only GET is allowed\n", !request.keep_alive);
      break;
  }
  // Not read again until this answer is out (caught_up), so answers never queue.
  state.writing = true;
  listener_.flush(connection);
  if (!request.keep_alive) listener_.close_connection(connection, /*after_flush=*/true);
}

void MetricsServer::add_stats(std::vector<std::pair<std::string, uint64_t>>& values) const {
  listener_.connection_limits().add_stats("metrics_", values);
  values.emplace_back("metrics_requests_refused", requests_refused_);
}

}  // namespace ringkv::io
