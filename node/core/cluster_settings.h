// ClusterSettings: the settings every node of a cluster must share, because
// they decide where data lives and when it may be forgotten.
//
//   replicas           N, replicas per key: placement, quorums, streaming
//   tombstone_grace_s  a tombstone older than this may be purged by compaction
//   hint_window_s      a replica down longer than this gets no new hints
//   hint_ttl_s         a hint whose write is older than this is dropped, not delivered
//
// Rule checked by validate(): hints expire before tombstones may be purged
// (hint_ttl_s < tombstone_grace_s), or a hint delivered late could bring
// back a value whose delete was already forgotten (Cassandra's
// gc_grace_seconds vs max_hint_window). hint_window_s <= hint_ttl_s.
//
// One owner: NodeConfig::settings, set from kvnode's flags and copied once
// into the modules that use a value (node_core.cc). Agreement: membership
// carries encode() in every push-pull (membership::Config::settings); a node
// whose settings differ from the cluster's is refused, and one that is
// joining stops with first_difference() as the reason. Pure values.
#pragma once

#include <cstdint>
#include <expected>
#include <string>
#include <string_view>

namespace ringkv::core {

struct ClusterSettings {
  uint32_t replicas = 3;
  uint64_t tombstone_grace_s = 10 * 24 * 3600;  // Cassandra's gc_grace_seconds default
  uint64_t hint_window_s = 3 * 3600;            // Cassandra's max_hint_window default
  uint64_t hint_ttl_s = 24 * 3600;

  // "" when consistent, else what is wrong (naming the settings).
  std::string validate() const;
  // "replicas=3 tombstone_grace_s=864000 hint_window_s=10800 hint_ttl_s=86400".
  std::string encode() const;
  static std::expected<ClusterSettings, std::string> decode(std::string_view text);

  bool operator==(const ClusterSettings&) const = default;
};

// The first setting in which `ours` and `theirs` differ, as
// "replicas: this node 2, the cluster 3", or "" when they agree. `theirs` may
// be text that does not decode (a newer node): then it is quoted whole.
std::string first_difference(const ClusterSettings& ours, std::string_view theirs);

}  // namespace ringkv::core
