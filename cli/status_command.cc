#include "cli/status_command.h"

#include <algorithm>
#include <cstdio>
#include <optional>

#include "cli/client.h"
#include "cli/cluster_info.h"
#include "cli/json.h"

namespace ringkv::cli {
namespace {

std::string hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

struct Figures {
  uint64_t keys = 0;
  uint64_t bytes = 0;
};

// Storage figures straight from the member itself (bounded wait).
std::optional<Figures> ask_member(const wire::MemberStatus& member, int timeout_ms, const Credentials& credentials) {
  if (member.liveness != "alive" && member.liveness != "suspect") return std::nullopt;
  Client client({member.address}, timeout_ms, credentials);
  auto reply = client.call(wire::StatusRequest{});
  if (!reply) return std::nullopt;
  const auto* status = std::get_if<wire::StatusReply>(&reply->body);
  if (status == nullptr) return std::nullopt;
  return Figures{status->keys, status->bytes};
}

std::string or_null(const std::optional<Figures>& figures, uint64_t Figures::*field) {
  return figures ? std::to_string((*figures).*field) : "null";
}

// A member's clock offset from the answering node in milliseconds: "+60001" for people,
// "60001" (a JSON number) for scripts, `none` when not measured.
std::string clock_offset_text(const wire::MemberStatus& member, bool json, const char* none) {
  if (!member.clock_offset_ms) return none;
  std::string text = std::to_string(*member.clock_offset_ms);
  if (!json && *member.clock_offset_ms >= 0) text.insert(0, 1, '+');
  return text;
}

// "U" (up) / "D" (down) + "N" (normal) / "J" (joining) / "L" (leaving).
std::string state_code(const wire::MemberStatus& member) {
  const char up = member.liveness == "alive" || member.liveness == "suspect" ? 'U' : 'D';
  const char ring = member.ring_status == "joining" ? 'J' : member.ring_status == "leaving" ? 'L' : 'N';
  return std::string{up, ring};
}

}  // namespace

int run_status(const GlobalOptions& options) {
  Client client(options.hosts, options.timeout_ms, options.credentials);
  auto reply = client.call(wire::StatusRequest{});
  if (!reply) {
    std::fprintf(stderr, "kv: %s\n", reply.error().message.c_str());
    return reply.error().kind == ClientErrorKind::kUnreachable ? kExitUnreachable : kExitClusterError;
  }
  const auto* status = std::get_if<wire::StatusReply>(&reply->body);
  if (status == nullptr) {
    const auto* error = std::get_if<wire::ErrorReply>(&reply->body);
    std::fprintf(stderr, "kv: %s\n", error ? error->message.c_str() : "unexpected reply to status");
    return error ? exit_code_for(*error) : kExitClusterError;
  }
  // Listed by name, as people look for a node by its name.
  std::vector<wire::MemberStatus> members = status->members;
  std::sort(members.begin(), members.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  std::vector<std::optional<Figures>> figures;
  for (const auto& member : members) {
    figures.push_back(ask_member(member, std::min(options.timeout_ms, 1000), options.credentials));
  }

  if (options.json) {
    std::string json = "{\"node\": " + json_string(status->node_name) + ", \"members\": [";
    for (size_t i = 0; i < members.size(); ++i) {
      const auto& m = members[i];
      json += (i ? ", " : "") + std::string("{\"name\": ") + json_string(m.name) +
              ", \"id\": " + json_string(hex(m.id)) + ", \"address\": " + json_string(m.address) +
              ", \"liveness\": " + json_string(m.liveness) + ", \"ring_status\": " + json_string(m.ring_status) +
              ", \"incarnation\": " + std::to_string(m.incarnation) + ", \"vnodes\": " + std::to_string(m.vnodes) +
              ", \"rack\": " + json_string(m.rack) +
              ", \"keys\": " + or_null(figures[i], &Figures::keys) +
              ", \"bytes\": " + or_null(figures[i], &Figures::bytes) +
              ", \"clock_offset_ms\": " + clock_offset_text(m, true, "null") + "}";
    }
    json += "], \"trust_problem\": " +
            (status->trust_problem.empty() ? std::string("null") : json_string(status->trust_problem));
    std::puts((json + "}").c_str());
    return kExitOk;
  }
  std::printf("Cluster as seen by %s (%s)\n", status->node_name.c_str(), client.connected_host().c_str());
  if (!status->trust_problem.empty()) std::printf("Trust problem: %s\n", status->trust_problem.c_str());
  std::printf("%-3s %-12s %-32s %-22s %-12s %-8s %-8s %-14s %10s %12s %10s\n", "", "NAME", "ID", "ADDRESS",
              "RACK", "LIVENESS", "RING", "INCARNATION", "KEYS", "BYTES", "CLOCK_MS");
  for (size_t i = 0; i < members.size(); ++i) {
    const auto& m = members[i];
    std::printf("%-3s %-12s %-32s %-22s %-12s %-8s %-8s %-14llu %10s %12s %10s\n", state_code(m).c_str(),
                m.name.c_str(), hex(m.id).c_str(), m.address.c_str(), rack_text(m.rack).c_str(),
                m.liveness.c_str(), m.ring_status.c_str(),
                static_cast<unsigned long long>(m.incarnation), or_null(figures[i], &Figures::keys).c_str(),
                or_null(figures[i], &Figures::bytes).c_str(), clock_offset_text(m, false, "-").c_str());
  }
  return kExitOk;
}

}  // namespace ringkv::cli
