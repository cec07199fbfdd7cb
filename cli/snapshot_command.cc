#include "cli/snapshot_command.h"

#include <cstdio>
#include <ctime>

#include "cli/client.h"
#include "cli/json.h"

namespace ringkv::cli {
namespace {

std::string utc_time(uint64_t unix_us) {
  const std::time_t seconds = static_cast<std::time_t>(unix_us / 1'000'000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[32];
  const size_t length = std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &utc);
  return std::string(text, length);
}

wire::SnapshotAction action_of(const std::string& action) {
  if (action == "create") return wire::SnapshotAction::kCreate;
  if (action == "remove") return wire::SnapshotAction::kRemove;
  return wire::SnapshotAction::kList;
}

}  // namespace

int run_snapshot(const GlobalOptions& options, const std::string& action, const std::string& tag) {
  Client client(options.hosts, options.timeout_ms, options.credentials);
  auto reply = client.call(wire::SnapshotRequest{action_of(action), tag});
  if (!reply) {
    std::fprintf(stderr, "kv: %s\n", reply.error().message.c_str());
    return reply.error().kind == ClientErrorKind::kUnreachable ? kExitUnreachable : kExitClusterError;
  }
  const auto* snapshots = std::get_if<wire::SnapshotReply>(&reply->body);
  if (snapshots == nullptr) {
    const auto* error = std::get_if<wire::ErrorReply>(&reply->body);
    std::fprintf(stderr, "kv: %s: %s\n", error ? std::string(wire::error_code_name(error->code)).c_str() : "error",
                 error ? error->message.c_str() : "unexpected reply to snapshot");
    return error ? exit_code_for(*error) : kExitClusterError;
  }
  if (options.json) {
    std::string json = "{\"node\": " + json_string(snapshots->node_name) + ", \"action\": " + json_string(action) +
                       ", \"snapshots\": [";
    for (size_t i = 0; i < snapshots->snapshots.size(); ++i) {
      const wire::SnapshotEntry& s = snapshots->snapshots[i];
      json += (i ? ", " : "") + std::string("{\"tag\": ") + json_string(s.tag) +
              ", \"time\": " + json_string(utc_time(s.created_us)) + ", \"created_us\": " +
              std::to_string(s.created_us) + ", \"bytes\": " + std::to_string(s.bytes) + "}";
    }
    std::puts((json + "]}").c_str());
    return kExitOk;
  }
  if (action == "create") std::printf("snapshot made on %s:\n", snapshots->node_name.c_str());
  if (action == "remove") std::printf("snapshot removed on %s:\n", snapshots->node_name.c_str());
  for (const wire::SnapshotEntry& s : snapshots->snapshots) {
    std::printf("%s  %s  %llu bytes\n", s.tag.c_str(), utc_time(s.created_us).c_str(),
                static_cast<unsigned long long>(s.bytes));
  }
  return kExitOk;
}

}  // namespace ringkv::cli
