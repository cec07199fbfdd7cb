#include "cli/topology_commands.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <optional>
#include <thread>

#include "cli/client.h"
#include "cli/json.h"

namespace ringkv::cli {
namespace {

using Clock = std::chrono::steady_clock;
using Stats = std::map<std::string, uint64_t>;

constexpr auto kPollInterval = std::chrono::milliseconds(250);
constexpr uint64_t kRingStateNormal = 2;  // node/core/topology.h Phase
constexpr uint64_t kRingStateLeft = 4;

// Sends the request; on a refusal or failure prints why and sets exit_code.
std::optional<wire::TopologyReply> start_change(Client& client, wire::TopologyRequest request,
                                                int& exit_code) {
  auto reply = client.call(std::move(request));
  if (!reply) {
    std::fprintf(stderr, "kv: %s\n", reply.error().message.c_str());
    exit_code = reply.error().kind == ClientErrorKind::kUnreachable ? kExitUnreachable : kExitClusterError;
    return std::nullopt;
  }
  if (auto* done = std::get_if<wire::TopologyReply>(&reply->body)) return *done;
  const auto* error = std::get_if<wire::ErrorReply>(&reply->body);
  std::fprintf(stderr, "kv: %s: %s\n", error ? std::string(wire::error_code_name(error->code)).c_str() : "error",
               error ? error->message.c_str() : "unexpected reply type");
  exit_code = error ? exit_code_for(*error) : kExitClusterError;
  return std::nullopt;
}

std::optional<Stats> stats_of(const GlobalOptions& options, const std::string& host) {
  Client client({host}, options.timeout_ms, options.credentials);
  auto reply = client.call(wire::StatsRequest{});
  const auto* stats = reply ? std::get_if<wire::StatsReply>(&reply->body) : nullptr;
  if (stats == nullptr) return std::nullopt;
  return Stats(stats->values.begin(), stats->values.end());
}

std::optional<wire::StatusReply> status_of(const GlobalOptions& options, const std::string& host) {
  Client client({host}, options.timeout_ms, options.credentials);
  auto reply = client.call(wire::StatusRequest{});
  const auto* status = reply ? std::get_if<wire::StatusReply>(&reply->body) : nullptr;
  if (status == nullptr) return std::nullopt;
  return *status;
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

void progress(const char* what, uint64_t done, uint64_t total, uint64_t keys, uint64_t bytes, double seconds) {
  if (!isatty(STDERR_FILENO)) return;
  std::fprintf(stderr, "\r%s: ranges %llu/%llu, %llu keys, %.1f MB, %.1f MB/s   ", what,
               static_cast<unsigned long long>(done), static_cast<unsigned long long>(total),
               static_cast<unsigned long long>(keys), bytes / 1e6, seconds > 0 ? bytes / 1e6 / seconds : 0.0);
}

void end_progress() {
  if (isatty(STDERR_FILENO)) std::fputc('\n', stderr);
}

}  // namespace

int run_decommission(const GlobalOptions& options) {
  int exit_code = kExitOk;
  Client client(options.hosts, options.timeout_ms, options.credentials);
  const auto started = Clock::now();
  auto accepted = start_change(client, wire::TopologyRequest{wire::TopologyAction::kDecommission, ""}, exit_code);
  if (!accepted) return exit_code;
  const std::string host = client.connected_host();
  if (!options.json) std::fprintf(stderr, "%s\n", accepted->message.c_str());
  Stats last;
  while (true) {
    auto stats = stats_of(options, host);
    if (!stats) {
      // The node stops right after it gossiped `left`; having seen every
      // range streamed, an exit is the end of a decommission, not a failure.
      const bool streamed = last.contains("stream_ranges_total") &&
                            last["stream_ranges_done"] == last["stream_ranges_total"] &&
                            last["stream_ranges_total"] > 0;
      if (!streamed) {
        end_progress();
        std::fprintf(stderr, "kv: %s stopped answering during its decommission; check kv status\n",
                     host.c_str());
        return kExitUnreachable;
      }
      break;
    }
    last = *stats;
    progress("decommission", last["stream_ranges_done"], last["stream_ranges_total"], last["stream_keys_sent"],
             last["stream_bytes_sent"], seconds_since(started));
    if (last["ring_state"] == kRingStateLeft) break;
    if (last["ring_state"] == kRingStateNormal && last["stream_ranges_total"] > 0) {
      end_progress();
      std::fprintf(stderr, "kv: the decommission of %s was aborted (a new owner went down); it stays normal, "
                   "nothing was dropped: see its log, then run it again\n", host.c_str());
      return kExitClusterError;
    }
    std::this_thread::sleep_for(kPollInterval);
  }
  end_progress();
  const double seconds = seconds_since(started);
  if (options.json) {
    std::printf("{\"node\": %s, \"result\": \"decommissioned\", \"keys_sent\": %llu, \"bytes_sent\": %llu, "
                "\"seconds\": %.3f}\n",
                json_string(host).c_str(), static_cast<unsigned long long>(last["stream_keys_sent"]),
                static_cast<unsigned long long>(last["stream_bytes_sent"]), seconds);
  } else {
    std::printf("decommissioned %s: %llu keys, %.1f MB streamed in %.1f s\n", host.c_str(),
                static_cast<unsigned long long>(last["stream_keys_sent"]), last["stream_bytes_sent"] / 1e6,
                seconds);
  }
  return kExitOk;
}

int run_removenode(const GlobalOptions& options, const std::string& node) {
  int exit_code = kExitOk;
  Client client(options.hosts, options.timeout_ms, options.credentials);
  const auto started = Clock::now();
  // Counters before the change, per member, so the figures are this removal's.
  std::map<std::string, Stats> before;
  if (auto status = status_of(options, client.connected_host().empty() ? options.hosts.front() : client.connected_host())) {
    for (const auto& m : status->members) {
      if (m.liveness == "alive") before[m.address] = stats_of(options, m.address).value_or(Stats{});
    }
  }
  auto accepted = start_change(client, wire::TopologyRequest{wire::TopologyAction::kRemoveNode, node}, exit_code);
  if (!accepted) return exit_code;
  if (!options.json) std::fprintf(stderr, "%s\n", accepted->message.c_str());
  const std::string host = client.connected_host();
  uint64_t keys = 0;
  uint64_t bytes = 0;
  while (true) {
    auto status = status_of(options, host);
    if (!status) {
      end_progress();
      std::fprintf(stderr, "kv: %s stopped answering; the removal goes on, check kv status\n", host.c_str());
      return kExitUnreachable;
    }
    bool finished = true;
    uint64_t done = 0;
    uint64_t total = 0;
    keys = bytes = 0;
    for (const auto& m : status->members) {
      if (m.liveness != "alive") continue;
      auto view = status_of(options, m.address);
      auto stats = stats_of(options, m.address);
      if (!view || !stats) continue;  // went away meanwhile: nothing to wait for
      bool removed = false;
      for (const auto& seen : view->members) {
        removed = removed || ((seen.name == node) && seen.liveness == "left");
      }
      Stats& base = before[m.address];
      done += (*stats)["stream_ranges_done"] - base["stream_ranges_done"];
      total += (*stats)["stream_ranges_total"] - base["stream_ranges_total"];
      keys += (*stats)["stream_keys_received"] - base["stream_keys_received"];
      bytes += (*stats)["stream_bytes_received"] - base["stream_bytes_received"];
      finished = finished && removed && (*stats)["stream_ranges_done"] == (*stats)["stream_ranges_total"];
    }
    progress("removenode", done, total, keys, bytes, seconds_since(started));
    if (finished) break;
    std::this_thread::sleep_for(kPollInterval);
  }
  end_progress();
  const double seconds = seconds_since(started);
  if (options.json) {
    std::printf("{\"node\": %s, \"result\": \"removed\", \"keys_streamed\": %llu, \"bytes_streamed\": %llu, "
                "\"seconds\": %.3f}\n",
                json_string(node).c_str(), static_cast<unsigned long long>(keys),
                static_cast<unsigned long long>(bytes), seconds);
  } else {
    std::printf("removed %s: its ranges are on their new owners (%llu keys, %.1f MB streamed in %.1f s)\n",
                node.c_str(), static_cast<unsigned long long>(keys), bytes / 1e6, seconds);
  }
  return kExitOk;
}

int run_cleanup(const GlobalOptions& options) {
  int exit_code = kExitOk;
  Client client(options.hosts, options.timeout_ms, options.credentials);
  auto done = start_change(client, wire::TopologyRequest{wire::TopologyAction::kCleanup, ""}, exit_code);
  if (!done) return exit_code;
  if (options.json) {
    std::printf("{\"node\": %s, \"result\": %s}\n", json_string(client.connected_host()).c_str(),
                json_string(done->message).c_str());
  } else {
    std::printf("%s: %s\n", client.connected_host().c_str(), done->message.c_str());
  }
  return kExitOk;
}

}  // namespace ringkv::cli
