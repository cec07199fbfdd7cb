#include "node/resp/info.h"

#include <fmt/format.h>

#include "node/resp/command_name.h"
#include "node/resp/session.h"

namespace ringkv::resp {
namespace {

bool wants(std::string_view section, std::string_view name) {
  return section.empty() || equals_ignoring_case(section, "all") ||
         equals_ignoring_case(section, "default") || equals_ignoring_case(section, "everything") ||
         equals_ignoring_case(section, name);
}

std::string hex(std::string_view bytes) {
  std::string out;
  for (unsigned char c : bytes) out += fmt::format("{:02x}", c);
  return out;
}

std::string_view port_of(std::string_view address) {
  const size_t colon = address.rfind(':');
  return colon == std::string_view::npos ? std::string_view() : address.substr(colon + 1);
}

}  // namespace

bool is_info_section(std::string_view section) {
  for (std::string_view name : {"server", "cluster", "keyspace", "stats", "all", "default", "everything"}) {
    if (equals_ignoring_case(section, name)) return true;
  }
  return false;
}

std::string render_info(std::string_view section, const ServerInfo& server, uint64_t uptime_s,
                        wire::Consistency consistency, const wire::StatusReply& status,
                        const wire::StatsReply& stats) {
  std::string out;
  auto line = [&out](std::string_view field, const auto& value) {
    out += fmt::format("{}:{}\r\n", field, value);
  };
  if (wants(section, "server")) {
    out += "# Server\r\n";
    line("redis_version", kRedisCompatibleVersion);
    line("server_name", "ringkv");
    line("redis_mode", "ringkv");
    line("process_id", server.process_id);
    line("tcp_port", port_of(server.resp_listen));
    line("uptime_in_seconds", uptime_s);
    line("uptime_in_days", uptime_s / 86400);
    line("ringkv_node", server.node_name);
    line("ringkv_listen", server.listen);
    line("ringkv_consistency", wire::consistency_name(consistency));
    out += "\r\n";
  }
  if (wants(section, "cluster")) {
    out += "# Cluster\r\n";
    line("cluster_enabled", 0);  // no Redis Cluster protocol: any node serves any key
    line("ringkv_members", status.members.size());
    size_t alive = 0;
    for (const auto& member : status.members) alive += member.liveness == "alive";
    line("ringkv_members_alive", alive);
    for (size_t i = 0; i < status.members.size(); ++i) {
      const wire::MemberStatus& m = status.members[i];
      line(fmt::format("member{}", i),
           fmt::format("name={},id={},address={},liveness={},ring={},incarnation={},vnodes={}", m.name,
                       hex(m.id), m.address, m.liveness, m.ring_status, m.incarnation, m.vnodes));
    }
    out += "\r\n";
  }
  if (wants(section, "keyspace")) {
    out += "# Keyspace\r\n";
    // Keys this node stores (its replicas, an estimate), not the cluster's total.
    if (status.keys > 0) line("db0", fmt::format("keys={},expires=0,avg_ttl=0", status.keys));
    out += "\r\n";
  }
  if (wants(section, "stats")) {
    out += "# Stats\r\n";
    for (const auto& [name, value] : stats.values) {
      std::string field = name;  // "hints_stored:node2" -> "hints_stored_node2"
      for (char& c : field) c = c == ':' ? '_' : c;
      line(field, value);
    }
    out += "\r\n";
  }
  return out;
}

}  // namespace ringkv::resp
