// INFO: renders the Redis-style "# Section\r\nfield:value\r\n" text from the
// node's status and stats replies (the same data `kv status` and `kv stats`
// print). Sections: server, cluster (membership as this node sees it),
// keyspace (db0 with the key estimate), stats. Pure.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "node/wire/message.h"

namespace ringkv::resp {

struct ServerInfo;

// The version reported as redis_version: the Redis release whose RESP2
// command subset ringkv answers (tools such as redis-benchmark read it).
inline constexpr std::string_view kRedisCompatibleVersion = "7.0.0";

// True when INFO accepts `section` (any case): server, cluster, keyspace,
// stats, or all/default/everything for every section.
bool is_info_section(std::string_view section);

// `section` is empty for every section. REQUIRES: section empty or
// is_info_section(section).
std::string render_info(std::string_view section, const ServerInfo& server, uint64_t uptime_s,
                        wire::Consistency consistency, const wire::StatusReply& status,
                        const wire::StatsReply& stats);

}  // namespace ringkv::resp
