#include "cli/bench.h"

#include <uv.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <random>
#include <string_view>
#include <vector>

#include "node/wire/address.h"
#include "node/wire/codec.h"

namespace ringkv::cli {
namespace {

enum class Phase { kPrefill, kMeasure };

struct Bench;

// The id of a connection's AuthRequest (sent first when kv has credentials);
// load requests count up from 1 and never reach it.
constexpr uint64_t kAuthRequestId = UINT64_MAX;

struct Connection {
  uv_tcp_t handle;  // first member: callbacks cast back from the handle
  uv_connect_t connect;
  Bench* bench = nullptr;
  wire::FrameReader reader{wire::Limits{}};
  std::vector<std::pair<uint64_t, uint64_t>> in_flight;  // request id, send time (ns)
  uint64_t next_id = 1;
  bool open = false;
  char read_buffer[64 * 1024];
};

struct Bench {
  const GlobalOptions* options = nullptr;
  const BenchOptions* settings = nullptr;
  uv_loop_t loop;
  uv_timer_t ticker;
  std::vector<std::unique_ptr<Connection>> connections;
  std::mt19937_64 random{42};
  std::string value;
  Phase phase = Phase::kMeasure;
  uint64_t prefill_next = 0;
  uint64_t issued = 0;
  uint64_t completed = 0;
  uint64_t errors = 0;
  uint64_t last_progress_completed = 0;
  uint64_t start_ns = 0;
  uint64_t end_ns = 0;
  bool stopping = false;
  std::string failure;
  bool refused = false;  // not authenticated, or the role may not: exit 5
  std::vector<uint32_t> latencies_us;

  bool phase_done() const {
    if (phase == Phase::kPrefill) return prefill_next >= settings->keys;
    if (settings->requests > 0 && issued >= settings->requests) return true;
    return static_cast<double>(uv_hrtime() - start_ns) / 1e9 >= settings->duration_s;
  }
};

std::string key_for(const Bench& bench, uint64_t index) {
  return bench.settings->key_prefix + std::to_string(index);
}

void stop_all(Bench& bench) {
  if (bench.stopping) return;
  bench.stopping = true;
  bench.end_ns = uv_hrtime();
  uv_timer_stop(&bench.ticker);
  uv_close(reinterpret_cast<uv_handle_t*>(&bench.ticker), nullptr);
  for (auto& connection : bench.connections) {
    if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(&connection->handle))) {
      uv_close(reinterpret_cast<uv_handle_t*>(&connection->handle), nullptr);
    }
  }
}

void send_next(Connection& connection);

void on_write(uv_write_t* request, int status) {
  auto* owned = static_cast<std::string*>(request->data);
  delete owned;
  delete request;
  (void)status;  // a failed write shows up as a read error on the connection
}

void write_message(Connection& connection, const wire::Message& message) {
  auto* frame = new std::string;
  wire::encode_frame(message, *frame);
  auto* write = new uv_write_t;
  write->data = frame;
  uv_buf_t buf = uv_buf_init(frame->data(), static_cast<unsigned>(frame->size()));
  uv_write(write, reinterpret_cast<uv_stream_t*>(&connection.handle), &buf, 1, on_write);
}

void send_next(Connection& connection) {
  Bench& bench = *connection.bench;
  if (bench.stopping || bench.phase_done()) return;
  wire::Message message;
  message.request_id = connection.next_id++;
  if (bench.phase == Phase::kPrefill) {
    message.body = wire::PutRequest{key_for(bench, bench.prefill_next++), bench.value, bench.options->consistency};
  } else {
    ++bench.issued;
    const std::string key = key_for(bench, bench.random() % bench.settings->keys);
    if (static_cast<int>(bench.random() % 100) < bench.settings->write_percent) {
      message.body = wire::PutRequest{key, bench.value, bench.options->consistency};
    } else {
      message.body = wire::GetRequest{key, bench.options->consistency, false};
    }
  }
  connection.in_flight.emplace_back(message.request_id, uv_hrtime());
  write_message(connection, message);
}

void on_alloc(uv_handle_t* handle, size_t, uv_buf_t* buf) {
  auto* connection = reinterpret_cast<Connection*>(handle);
  *buf = uv_buf_init(connection->read_buffer, sizeof(connection->read_buffer));
}

void finish_phase_if_idle(Bench& bench);

void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* connection = reinterpret_cast<Connection*>(stream);
  Bench& bench = *connection->bench;
  if (nread < 0) {
    if (!bench.stopping) bench.failure = std::string("connection lost: ") + uv_strerror(static_cast<int>(nread));
    stop_all(bench);
    return;
  }
  connection->reader.feed(std::string_view(buf->base, static_cast<size_t>(nread)));
  std::string_view payload;
  std::string error;
  while (connection->reader.next(payload, error) == wire::FrameReader::Status::kFrame) {
    auto reply = wire::decode(payload, wire::Limits{});
    if (reply && reply->request_id == kAuthRequestId) {
      if (std::holds_alternative<wire::AuthReply>(reply->body)) continue;
      const auto* refusal = std::get_if<wire::ErrorReply>(&reply->body);
      bench.failure = "not authenticated: " + (refusal ? refusal->message : std::string("unexpected reply"));
      bench.refused = true;
      stop_all(bench);
      return;
    }
    // Replies may arrive out of order once requests wait on replicas.
    auto pending = connection->in_flight.end();
    if (reply) {
      pending = std::find_if(connection->in_flight.begin(), connection->in_flight.end(),
                             [&](const auto& entry) { return entry.first == reply->request_id; });
    }
    if (pending == connection->in_flight.end()) {
      bench.failure = "unexpected reply from the node";
      stop_all(bench);
      return;
    }
    const uint64_t sent_ns = pending->second;
    connection->in_flight.erase(pending);
    if (const auto* error = std::get_if<wire::ErrorReply>(&reply->body)) {
      ++bench.errors;
      if (exit_code_for(*error) == kExitNotAllowed) bench.refused = true;
    }
    if (bench.phase == Phase::kMeasure) {
      ++bench.completed;
      bench.latencies_us.push_back(static_cast<uint32_t>((uv_hrtime() - sent_ns) / 1000));
    }
    send_next(*connection);
  }
  finish_phase_if_idle(bench);
}

void start_measuring(Bench& bench) {
  bench.phase = Phase::kMeasure;
  bench.start_ns = uv_hrtime();
  for (auto& connection : bench.connections) {
    for (int i = 0; i < bench.settings->pipeline; ++i) send_next(*connection);
  }
}

void finish_phase_if_idle(Bench& bench) {
  if (bench.stopping || !bench.phase_done()) return;
  for (auto& connection : bench.connections) {
    if (!connection->in_flight.empty()) return;
  }
  if (bench.phase == Phase::kPrefill) {
    std::fprintf(stderr, "prefilled %llu keys\n", static_cast<unsigned long long>(bench.settings->keys));
    start_measuring(bench);
  } else {
    stop_all(bench);
  }
}

void on_tick(uv_timer_t* timer) {
  Bench& bench = *static_cast<Bench*>(timer->data);
  if (bench.phase == Phase::kMeasure) {
    const double elapsed = static_cast<double>(uv_hrtime() - bench.start_ns) / 1e9;
    std::fprintf(stderr, "\r%6.1f s  %10llu ops  %10.0f ops/s  %llu errors   ", elapsed,
                 static_cast<unsigned long long>(bench.completed),
                 static_cast<double>(bench.completed - bench.last_progress_completed),
                 static_cast<unsigned long long>(bench.errors));
    bench.last_progress_completed = bench.completed;
  }
  // Time-bounded runs end here even if a reply never comes back.
  if (bench.phase == Phase::kMeasure && bench.settings->requests == 0 &&
      static_cast<double>(uv_hrtime() - bench.start_ns) / 1e9 >= bench.settings->duration_s + 5) {
    bench.failure = "replies stopped arriving";
    stop_all(bench);
  }
}

void on_connect(uv_connect_t* request, int status) {
  auto* connection = static_cast<Connection*>(request->data);
  Bench& bench = *connection->bench;
  if (status < 0) {
    bench.failure = std::string("cannot connect: ") + uv_strerror(status);
    stop_all(bench);
    return;
  }
  connection->open = true;
  uv_tcp_nodelay(&connection->handle, 1);
  uv_read_start(reinterpret_cast<uv_stream_t*>(&connection->handle), on_alloc, on_read);
  // The node handles a connection's requests in order: the load behind the
  // AuthRequest runs authenticated.
  if (const Credentials& credentials = bench.options->credentials; !credentials.user.empty()) {
    write_message(*connection, wire::Message{kAuthRequestId, wire::AuthRequest{credentials.user, credentials.password}});
  }
  for (auto& other : bench.connections) {
    if (!other->open) return;
  }
  // Every client is connected: start.
  if (bench.phase == Phase::kPrefill) {
    for (auto& c : bench.connections) {
      for (int i = 0; i < bench.settings->pipeline; ++i) send_next(*c);
    }
  } else {
    start_measuring(bench);
  }
}

uint32_t percentile(const std::vector<uint32_t>& sorted, double fraction) {
  if (sorted.empty()) return 0;
  const size_t index = std::min(sorted.size() - 1, static_cast<size_t>(fraction * static_cast<double>(sorted.size())));
  return sorted[index];
}

}  // namespace

int run_bench(const GlobalOptions& options, const BenchOptions& settings) {
  if (settings.clients < 1 || settings.pipeline < 1 || settings.keys < 1 ||
      settings.write_percent < 0 || settings.write_percent > 100) {
    std::fprintf(stderr, "kv bench: clients, pipeline and keys must be positive; writes 0-100\n");
    return kExitUsage;
  }
  Bench bench;
  bench.options = &options;
  bench.settings = &settings;
  bench.value.assign(settings.value_bytes, 'v');
  bench.phase = settings.prefill && settings.write_percent < 100 ? Phase::kPrefill : Phase::kMeasure;
  uv_loop_init(&bench.loop);
  uv_timer_init(&bench.loop, &bench.ticker);
  bench.ticker.data = &bench;
  uv_timer_start(&bench.ticker, on_tick, 1000, 1000);
  for (int i = 0; i < settings.clients; ++i) {
    const std::string& host = options.hosts[static_cast<size_t>(i) % options.hosts.size()];
    auto address = wire::parse_address(host);
    if (!address) {
      std::fprintf(stderr, "kv bench: %s\n", address.error().c_str());
      stop_all(bench);
      uv_run(&bench.loop, UV_RUN_DEFAULT);
      uv_loop_close(&bench.loop);
      return kExitUsage;
    }
    auto connection = std::make_unique<Connection>();
    connection->bench = &bench;
    uv_tcp_init(&bench.loop, &connection->handle);
    connection->connect.data = connection.get();
    uv_tcp_connect(&connection->connect, &connection->handle, reinterpret_cast<const sockaddr*>(&*address), on_connect);
    bench.connections.push_back(std::move(connection));
  }
  uv_run(&bench.loop, UV_RUN_DEFAULT);
  uv_loop_close(&bench.loop);
  std::fprintf(stderr, "\n");
  if (!bench.failure.empty()) {
    std::fprintf(stderr, "kv bench: %s\n", bench.failure.c_str());
    if (bench.refused) return kExitNotAllowed;
    return bench.completed == 0 ? kExitUnreachable : kExitClusterError;
  }

  std::sort(bench.latencies_us.begin(), bench.latencies_us.end());
  const double seconds = static_cast<double>(bench.end_ns - bench.start_ns) / 1e9;
  const double throughput = seconds > 0 ? static_cast<double>(bench.completed) / seconds : 0;
  const uint32_t p50 = percentile(bench.latencies_us, 0.50);
  const uint32_t p99 = percentile(bench.latencies_us, 0.99);
  const uint32_t p999 = percentile(bench.latencies_us, 0.999);
  if (options.json) {
    std::printf(
        "{\"ops\": %llu, \"errors\": %llu, \"seconds\": %.3f, \"ops_per_second\": %.1f, "
        "\"p50_us\": %u, \"p99_us\": %u, \"p999_us\": %u, \"clients\": %d, \"pipeline\": %d, "
        "\"value_bytes\": %zu, \"write_percent\": %d}\n",
        static_cast<unsigned long long>(bench.completed), static_cast<unsigned long long>(bench.errors), seconds,
        throughput, p50, p99, p999, settings.clients, settings.pipeline, settings.value_bytes, settings.write_percent);
  } else {
    std::printf("ops %llu  errors %llu  in %.2f s\nthroughput %.0f ops/s\nlatency p50 %.3f ms  p99 %.3f ms  p99.9 %.3f ms\n",
                static_cast<unsigned long long>(bench.completed), static_cast<unsigned long long>(bench.errors), seconds,
                throughput, p50 / 1000.0, p99 / 1000.0, p999 / 1000.0);
  }
  if (bench.errors > 0) return bench.refused ? kExitNotAllowed : kExitClusterError;
  return kExitOk;
}

}  // namespace ringkv::cli
