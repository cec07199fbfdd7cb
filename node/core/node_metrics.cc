// NodeCore::write_metrics: the node core's part of a Prometheus scrape
// (node_core.h). Names follow Prometheus conventions: the ringkv_ prefix,
// base units (seconds, bytes), _total on counters.
#include <array>
#include <utility>

#include "node/core/node_core.h"
#include "node/core/stats_metrics.h"

namespace ringkv::core {
namespace {

// Bucket upper bounds of every latency histogram, in seconds: 100 µs to 10 s.
constexpr std::array kLatencyBoundsSeconds{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                           0.05,   0.1,     0.25,   0.5,   1.0,    2.5,   5.0,  10.0};

metrics::HistogramSample to_sample(const LatencyHistogram& histogram) {
  metrics::HistogramSample sample;
  for (double bound : kLatencyBoundsSeconds) {
    sample.cumulative_buckets.emplace_back(bound, histogram.count_at_or_under(static_cast<uint64_t>(bound * 1e6)));
  }
  sample.sum = static_cast<double>(histogram.sum_micros()) / 1e6;
  sample.count = histogram.count();
  return sample;
}

void write_stat(metrics::Exposition& out, const std::string& name, uint64_t value) {
  const StatMetric* entry = metric_for_stat(name);
  if (entry == nullptr || entry->metric.empty()) return;
  metrics::Labels labels;
  if (!entry->label.empty()) {
    const std::string_view label_value =
        entry->label_value.empty() ? std::string_view(name).substr(entry->stat.size()) : entry->label_value;
    labels.emplace_back(std::string(entry->label), std::string(label_value));
  }
  const auto figure = static_cast<double>(value);
  if (entry->counter) {
    out.counter(entry->metric, entry->help, figure, std::move(labels));
  } else {
    out.gauge(entry->metric, entry->help, figure, std::move(labels));
  }
}

std::string op_name(int op) {
  static constexpr std::array kNames{"get", "put", "delete"};
  return kNames.at(static_cast<size_t>(op));
}

}  // namespace

void NodeCore::write_metrics(metrics::Exposition& out, Now now) {
  const wire::Body counters = stats(now);
  for (const auto& [name, value] : std::get<wire::StatsReply>(counters).values) write_stat(out, name, value);

  constexpr std::string_view kClientHelp =
      "Client requests this node coordinated, from arrival to reply, per operation and consistency level.";
  const RequestLatencies& latencies = coordinator_.latencies();
  for (const auto& [key, histogram] : latencies.by_op) {
    out.histogram("ringkv_request_duration_seconds", kClientHelp, to_sample(histogram),
                  {{"op", op_name(static_cast<int>(key.first))},
                   {"consistency", std::string(wire::consistency_name(key.second))}});
  }
  constexpr std::string_view kReplicaHelp =
      "Replica requests this node's coordinator sent, from sending to the replica's answer.";
  out.histogram("ringkv_replica_request_duration_seconds", kReplicaHelp, to_sample(latencies.replica_reads),
                {{"op", "read"}});
  out.histogram("ringkv_replica_request_duration_seconds", kReplicaHelp, to_sample(latencies.replica_writes),
                {{"op", "write"}});
  out.gauge("ringkv_replica_requests_in_flight", "Replica requests sent and not yet answered.",
            static_cast<double>(coordinator_.replica_requests_in_flight()));

  // Hints: their bytes, and how old the oldest one is, per target (its
  // sequence is the hybrid-clock time it was stored, in µs).
  for (const auto& [target, bytes] : store_.hint_bytes()) {
    out.gauge("ringkv_hints_pending_bytes", "Payload bytes (keys and values) of the hints stored, per target.",
              static_cast<double>(bytes), {{"target", name_of(target)}});
  }
  for (const auto& [target, count] : store_.hint_counts()) {
    auto oldest = store_.hints_for(target, 1, 0);
    if (!oldest || oldest->empty()) continue;
    const uint64_t stored_us = oldest->front().sequence;
    out.gauge("ringkv_hints_oldest_age_seconds", "Age of the oldest hint stored for each target.",
              now.wall_us > stored_us ? static_cast<double>(now.wall_us - stored_us) / 1e6 : 0.0,
              {{"target", name_of(target)}});
  }

  // Membership.
  std::array<uint64_t, 4> by_liveness{};
  for (const membership::Member& member : swim_.members()) ++by_liveness.at(static_cast<size_t>(member.liveness));
  for (auto liveness : {membership::Liveness::kAlive, membership::Liveness::kSuspect, membership::Liveness::kDead,
                        membership::Liveness::kLeft}) {
    out.gauge("ringkv_members", "Members in this node's membership table (itself included), by liveness.",
              static_cast<double>(by_liveness[static_cast<size_t>(liveness)]),
              {{"liveness", std::string(membership::to_string(liveness))}});
  }
  const membership::Stats& swim = swim_.stats();
  out.counter("ringkv_membership_suspicions_total", "Members this node started to suspect.",
              static_cast<double>(swim.suspicions_started));
  out.counter("ringkv_membership_refutations_total", "Times this node refuted a suspicion of itself.",
              static_cast<double>(swim.refutations));
  out.counter("ringkv_membership_declared_dead_total", "Members this node declared dead.",
              static_cast<double>(swim.members_declared_dead));
  out.counter("ringkv_membership_probes_failed_total", "Probes that got no ack, directly or indirectly.",
              static_cast<double>(swim.probes_failed));
  out.gauge("ringkv_membership_health_score", "Lifeguard local health score (0 = healthy; higher stretches timeouts).",
            static_cast<double>(swim_.health_score()));
  out.counter("ringkv_gossip_sent_bytes_total", "Gossip datagram bytes sent.", static_cast<double>(swim.datagram_bytes_sent));
  out.counter("ringkv_gossip_received_bytes_total", "Gossip datagram bytes received and accepted.",
              static_cast<double>(swim.datagram_bytes_received));
  out.counter("ringkv_gossip_datagrams_dropped_total", "Gossip inputs dropped as malformed, foreign or out of range.",
              static_cast<double>(swim.dropped_total()));
  constexpr std::string_view kPushPullHelp = "Full-state push-pull exchanges, by direction.";
  out.counter("ringkv_gossip_push_pulls_total", kPushPullHelp, static_cast<double>(swim.push_pull_requests_sent),
              {{"direction", "sent"}});
  out.counter("ringkv_gossip_push_pulls_total", kPushPullHelp, static_cast<double>(swim.push_pulls_received),
              {{"direction", "received"}});
  for (const membership::Member& member : swim_.members()) {
    const auto offset = swim_.clock_offset(member.id);
    if (!offset) continue;
    out.gauge("ringkv_clock_offset_seconds", "The member's wall clock minus this node's, from recent probes.",
              static_cast<double>(offset->offset_us) / 1e6, {{"member", member.name}});
  }

  // Ring.
  const Phase phase = topology_.phase();
  for (auto state : {Phase::kWaiting, Phase::kJoining, Phase::kNormal, Phase::kLeaving, Phase::kLeft}) {
    out.gauge("ringkv_ring_state", "This node's ring state (1 for the current one).", state == phase ? 1 : 0,
              {{"state", std::string(to_string(state))}});
  }
  const auto& [ring, replicated, primary] = ownership();
  const auto nodes = ring->nodes();
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (nodes[i].id != swim_.self().id) continue;
    constexpr std::string_view kOwnershipHelp =
        "Fraction of the ring's positions this node holds, as primary or as any replica.";
    out.gauge("ringkv_ring_ownership_ratio", kOwnershipHelp, primary[i], {{"kind", "primary"}});
    out.gauge("ringkv_ring_ownership_ratio", kOwnershipHelp, replicated[i], {{"kind", "replica"}});
  }
  out.gauge("ringkv_ring_nodes", "Nodes in this node's ring.", static_cast<double>(nodes.size()));

  // Storage.
  const storage::Stats storage = store_.engine().stats();
  out.gauge("ringkv_storage_keys_estimate", "Keys stored (RocksDB's estimate, tombstones included).",
            static_cast<double>(storage.data_keys_estimate));
  out.gauge("ringkv_storage_live_sst_bytes", "Bytes of live SST files.", static_cast<double>(storage.live_sst_bytes));
  out.gauge("ringkv_storage_memtable_bytes", "Bytes held in memtables.", static_cast<double>(storage.memtable_bytes));
  out.gauge("ringkv_storage_pending_compaction_bytes", "Bytes compaction estimates it still has to rewrite.",
            static_cast<double>(storage.pending_compaction_bytes));
  constexpr std::string_view kStallHelp = "Writes RocksDB slowed down or stopped while compaction caught up.";
  out.counter("ringkv_storage_write_stalls_total", kStallHelp, static_cast<double>(storage.write_slowdowns),
              {{"kind", "slowdown"}});
  out.counter("ringkv_storage_write_stalls_total", kStallHelp, static_cast<double>(storage.write_stops),
              {{"kind", "stop"}});
}

}  // namespace ringkv::core
