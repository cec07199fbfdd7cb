#include "cli/cluster_info.h"

#include <algorithm>
#include <cstdio>
#include <optional>

#include "cli/client.h"
#include "cli/json.h"

namespace ringkv::cli {
namespace {

// One request; prints the failure and sets the exit code when there is no
// reply of type T.
template <typename T>
std::optional<T> ask(const GlobalOptions& options, wire::Body request, int& exit_code) {
  Client client(options.hosts, options.timeout_ms, options.credentials);
  auto reply = client.call(std::move(request));
  if (!reply) {
    std::fprintf(stderr, "kv: %s\n", reply.error().message.c_str());
    exit_code = reply.error().kind == ClientErrorKind::kUnreachable ? kExitUnreachable : kExitClusterError;
    return std::nullopt;
  }
  if (auto* typed = std::get_if<T>(&reply->body)) return std::move(*typed);
  const auto* error = std::get_if<wire::ErrorReply>(&reply->body);
  std::fprintf(stderr, "kv: %s%s%s\n", error ? std::string(wire::error_code_name(error->code)).c_str() : "",
               error ? ": " : "", error ? error->message.c_str() : "unexpected reply type");
  exit_code = error ? exit_code_for(*error) : kExitClusterError;
  return std::nullopt;
}

// One rack's part of `kv ring`: its nodes and the sum of their shares.
struct RackShare {
  std::string rack;
  size_t nodes = 0;
  double ownership = 0;
  double primary_ownership = 0;
};

std::vector<RackShare> rack_shares(const std::vector<wire::RingMember>& members) {
  std::vector<RackShare> racks;
  for (const auto& m : members) {
    auto it = std::find_if(racks.begin(), racks.end(), [&](const RackShare& r) { return r.rack == m.rack; });
    if (it == racks.end()) it = racks.insert(racks.end(), RackShare{m.rack});
    ++it->nodes;
    it->ownership += static_cast<double>(m.ownership_ppm) / 1e6;
    it->primary_ownership += static_cast<double>(m.primary_ownership_ppm) / 1e6;
  }
  std::sort(racks.begin(), racks.end(), [](const RackShare& a, const RackShare& b) { return a.rack < b.rack; });
  return racks;
}

}  // namespace

std::string rack_text(const std::string& rack) { return rack.empty() ? "-" : rack; }

int run_endpoints(const GlobalOptions& options, const std::string& key) {
  int exit_code = kExitOk;
  auto reply = ask<wire::EndpointsReply>(options, wire::EndpointsRequest{key}, exit_code);
  if (!reply) return exit_code;
  if (options.json) {
    std::string json = "{";
    append_bytes_field(json, "key", key, "key_encoding");
    json += ", \"position\": " + std::to_string(reply->position) + ", \"endpoints\": [";
    for (size_t i = 0; i < reply->endpoints.size(); ++i) {
      json += (i ? ", " : "") + std::string("{\"name\": ") + json_string(reply->endpoints[i].name) +
              ", \"address\": " + json_string(reply->endpoints[i].address) +
              ", \"rack\": " + json_string(reply->endpoints[i].rack) + "}";
    }
    std::puts((json + "]}").c_str());
    return kExitOk;
  }
  std::printf("position %llu\n", static_cast<unsigned long long>(reply->position));
  for (const auto& endpoint : reply->endpoints) {
    std::printf("%-12s %-22s %s\n", endpoint.name.c_str(), endpoint.address.c_str(),
                rack_text(endpoint.rack).c_str());
  }
  return kExitOk;
}

int run_ring(const GlobalOptions& options) {
  int exit_code = kExitOk;
  auto reply = ask<wire::RingReply>(options, wire::RingRequest{}, exit_code);
  if (!reply) return exit_code;
  auto& members = reply->members;
  std::sort(members.begin(), members.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  double total = 0;
  double most = 0;
  for (const auto& m : members) {
    total += static_cast<double>(m.ownership_ppm);
    most = std::max(most, static_cast<double>(m.ownership_ppm));
  }
  const double ratio = members.empty() || total == 0 ? 0 : most / (total / static_cast<double>(members.size()));
  const std::vector<RackShare> racks = rack_shares(members);
  if (options.json) {
    std::string json = "{\"replicas\": " + std::to_string(reply->replicas) + ", \"nodes\": [";
    for (size_t i = 0; i < members.size(); ++i) {
      const auto& m = members[i];
      char numbers[128];
      std::snprintf(numbers, sizeof(numbers), "\"ownership\": %.6f, \"primary_ownership\": %.6f",
                    static_cast<double>(m.ownership_ppm) / 1e6, static_cast<double>(m.primary_ownership_ppm) / 1e6);
      json += (i ? ", " : "") + std::string("{\"name\": ") + json_string(m.name) +
              ", \"address\": " + json_string(m.address) + ", \"rack\": " + json_string(m.rack) +
              ", \"vnodes\": " + std::to_string(m.vnodes) + ", " + numbers + "}";
    }
    json += "], \"racks\": [";
    for (size_t i = 0; i < racks.size(); ++i) {
      char numbers[128];
      std::snprintf(numbers, sizeof(numbers), "\"ownership\": %.6f, \"primary_ownership\": %.6f",
                    racks[i].ownership, racks[i].primary_ownership);
      json += (i ? ", " : "") + std::string("{\"rack\": ") + json_string(racks[i].rack) +
              ", \"nodes\": " + std::to_string(racks[i].nodes) + ", " + numbers + "}";
    }
    char tail[64];
    std::snprintf(tail, sizeof(tail), "], \"ownership_max_over_mean\": %.4f}", ratio);
    std::puts((json + tail).c_str());
    return kExitOk;
  }
  std::printf("replicas %u\n%-12s %-22s %-12s %7s %10s %10s\n", reply->replicas, "NAME", "ADDRESS", "RACK",
              "VNODES", "OWNS", "PRIMARY");
  for (const auto& m : members) {
    std::printf("%-12s %-22s %-12s %7u %9.2f%% %9.2f%%\n", m.name.c_str(), m.address.c_str(),
                rack_text(m.rack).c_str(), m.vnodes, static_cast<double>(m.ownership_ppm) / 1e4,
                static_cast<double>(m.primary_ownership_ppm) / 1e4);
  }
  // Per rack: the share of keys with a replica in the rack is at most 100% when there are at
  // least as many racks as replicas; its nodes split it, so a smaller rack's nodes carry more.
  std::printf("\n%-12s %5s %10s %10s %14s\n", "RACK", "NODES", "OWNS", "PRIMARY", "OWNS_PER_NODE");
  for (const RackShare& rack : racks) {
    std::printf("%-12s %5zu %9.2f%% %9.2f%% %13.2f%%\n", rack_text(rack.rack).c_str(), rack.nodes,
                rack.ownership * 100, rack.primary_ownership * 100,
                rack.ownership * 100 / static_cast<double>(rack.nodes));
  }
  std::printf("ownership max/mean %.3f\n", ratio);
  return kExitOk;
}

int run_stats(const GlobalOptions& options) {
  int exit_code = kExitOk;
  auto reply = ask<wire::StatsReply>(options, wire::StatsRequest{}, exit_code);
  if (!reply) return exit_code;
  if (options.json) {
    std::string json = "{";
    for (size_t i = 0; i < reply->values.size(); ++i) {
      json += (i ? ", " : "") + json_string(reply->values[i].first) + ": " + std::to_string(reply->values[i].second);
    }
    std::puts((json + "}").c_str());
    return kExitOk;
  }
  for (const auto& [name, value] : reply->values) {
    std::printf("%-32s %llu\n", name.c_str(), static_cast<unsigned long long>(value));
  }
  return kExitOk;
}

}  // namespace ringkv::cli
