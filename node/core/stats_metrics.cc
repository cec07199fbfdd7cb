#include "node/core/stats_metrics.h"

#include <array>

namespace ringkv::core {
namespace {

constexpr StatMetric counter(std::string_view stat, std::string_view metric, std::string_view help,
                             std::string_view label = {}, std::string_view label_value = {}) {
  return StatMetric{stat, false, metric, true, help, label, label_value};
}
constexpr StatMetric gauge(std::string_view stat, std::string_view metric, std::string_view help,
                           std::string_view label = {}, std::string_view label_value = {}) {
  return StatMetric{stat, false, metric, false, help, label, label_value};
}
constexpr StatMetric hidden(std::string_view stat) { return StatMetric{stat, false, {}, false, {}, {}, {}}; }
constexpr StatMetric per(StatMetric metric) {
  metric.prefix = true;
  return metric;
}

constexpr std::string_view kRefusals = "Client requests refused, by reason.";
constexpr std::string_view kOpen = "Open connections, per listening port.";
constexpr std::string_view kOverCap = "Connections refused because the port's connection cap was reached.";
constexpr std::string_view kIdle = "Connections closed after sending nothing for the idle timeout.";

constexpr std::array kStatMetrics{
    counter("writes", "ringkv_coordinator_writes_total", "Writes (put, delete) this node coordinated."),
    counter("reads", "ringkv_coordinator_reads_total", "Reads this node coordinated."),
    counter("scan_pages", "ringkv_scan_pages_total", "Scan pages (SCAN, KEYS, kv scan) this node coordinated."),
    counter("unavailable", "ringkv_coordinator_unavailable_total",
            "Requests answered UNAVAILABLE: too few replicas alive to try."),
    counter("timeouts", "ringkv_coordinator_timeouts_total",
            "Requests answered TIMEOUT: tried, too few replicas answered in time."),
    counter("failed", "ringkv_coordinator_failed_total", "Requests that failed with another error."),
    counter("writes_restamped", "ringkv_writes_restamped_total",
            "Writes given a newer timestamp because a replica held a newer version."),
    counter("writes_superseded", "ringkv_writes_superseded_total",
            "Writes hidden by a newer version already stored."),
    counter("reads_coalesced", "ringkv_reads_coalesced_total",
            "Reads answered by another read of the same key and level that had not been sent yet."),
    counter("writes_coalesced", "ringkv_writes_coalesced_total",
            "Writes a newer write of the same key and level took over before they were sent."),
    counter("read_repairs", "ringkv_read_repairs_total", "Stale replicas a read wrote the newest version back to."),
    counter("read_repair_failures", "ringkv_read_repair_failures_total", "Read repair writes that failed."),
    counter("storage_errors", "ringkv_storage_errors_total", "Storage errors on the request path."),
    counter("row_cache_hits", "ringkv_storage_row_cache_hits_total",
            "Record lookups answered by the row cache in front of RocksDB (--row-cache-mib)."),
    counter("row_cache_misses", "ringkv_storage_row_cache_misses_total",
            "Record lookups the row cache passed on to RocksDB."),
    counter("row_cache_evictions", "ringkv_storage_row_cache_evictions_total",
            "Row cache entries evicted to stay within its capacity."),
    gauge("row_cache_bytes", "ringkv_storage_row_cache_bytes",
          "Bytes the row cache holds (keys, values and a fixed overhead per entry)."),
    gauge("row_cache_entries", "ringkv_storage_row_cache_entries", "Records (and absent keys) the row cache holds."),
    counter("peer_replies_dropped", "ringkv_peer_replies_dropped_total",
            "Replies from other nodes that no request awaited any more (late or unknown), dropped."),
    counter("hint_storage_errors", "ringkv_hint_storage_errors_total", "Storage errors of hinted handoff."),
    counter("auth_failures", "ringkv_auth_failures_total", "Client authentications that failed."),
    counter("client_refused_noauth", "ringkv_client_refusals_total", kRefusals, "reason", "not_authenticated"),
    counter("client_refused_forbidden", "ringkv_client_refusals_total", kRefusals, "reason", "forbidden"),
    counter("internode_on_client_refused", "ringkv_client_refusals_total", kRefusals, "reason",
            "internode_on_client_connection"),
    counter("client_refused_not_ready", "ringkv_client_refusals_total", kRefusals, "reason", "node_not_ready"),
    // Load shedding (node/core/admission.h on main): the total first, so the
    // per-bound prefix below does not take it.
    counter("requests_shed_busy", "ringkv_requests_busy_total", "Client requests refused BUSY (load shedding)."),
    per(counter("requests_shed_", "ringkv_requests_shed_total", "Client requests refused BUSY, by the bound they met.",
                "bound")),
    gauge("client_requests_inflight", "ringkv_client_requests_in_flight", "Client requests admitted and not yet answered."),
    gauge("client_bytes_inflight", "ringkv_client_in_flight_bytes", "Bytes of the client requests admitted and not yet answered."),
    counter("settings_mismatches", "ringkv_settings_mismatches_total",
            "Push-pulls refused because the other node runs with other cluster settings."),
    counter("clock_offset_warnings", "ringkv_clock_offset_warnings_total",
            "Warnings about a member whose clock is off by more than --max-clock-offset-ms."),
    counter("membership_claims_refused_rack", "ringkv_membership_claims_refused_rack_total",
            "Newer records of a known member naming another rack, refused (a node's rack never changes)."),
    hidden("write_latency_p50_us"),
    hidden("write_latency_p99_us"),
    hidden("write_latency_p999_us"),
    hidden("read_latency_p50_us"),
    hidden("read_latency_p99_us"),
    hidden("read_latency_p999_us"),
    counter("hints_written", "ringkv_hints_written_total", "Hints stored for replicas that were down."),
    counter("hints_refused", "ringkv_hints_refused_total",
            "Hints not stored: the target's cap was reached or the write was older than the hint TTL."),
    gauge("hints_in_flight", "ringkv_hints_in_flight", "Hints sent to their target and not yet acknowledged."),
    per(gauge("hints_stored:", "ringkv_hints_pending", "Hints stored on this node, per target.", "target")),
    per(counter("hints_replayed:", "ringkv_hints_replayed_total", "Hints delivered to their target.", "target")),
    per(counter("hints_expired:", "ringkv_hints_expired_total", "Hints dropped undelivered after their TTL.",
                "target")),
    hidden("ring_state"),
    counter("stream_ranges_total", "ringkv_stream_ranges_planned_total", "Token ranges this node planned to stream."),
    counter("stream_ranges_done", "ringkv_stream_ranges_done_total", "Token ranges streamed completely."),
    counter("stream_keys_received", "ringkv_stream_received_keys_total", "Keys received by streaming."),
    counter("stream_bytes_received", "ringkv_stream_received_bytes_total", "Bytes received by streaming."),
    counter("stream_keys_sent", "ringkv_stream_sent_keys_total", "Keys sent by streaming."),
    counter("stream_bytes_sent", "ringkv_stream_sent_bytes_total", "Bytes sent by streaming."),
    gauge("stream_rate_bytes_per_s", "ringkv_stream_rate_bytes_per_second",
          "Throughput of the current (or last) stream."),
    counter("stream_failed_batches", "ringkv_stream_failed_batches_total", "Stream batches that failed (retried)."),
    counter("hints_handed_over", "ringkv_hints_handed_over_total", "Hints handed to another node on decommission."),
    counter("cleanup_ranges_dropped", "ringkv_cleanup_ranges_dropped_total",
            "Token ranges dropped because this node no longer replicates them."),
    counter("topology_storage_errors", "ringkv_topology_storage_errors_total", "Storage errors of topology changes."),
    counter("repair_rounds", "ringkv_anti_entropy_rounds_started_total", "Anti-entropy rounds started."),
    counter("repair_rounds_completed", "ringkv_anti_entropy_rounds_completed_total", "Anti-entropy rounds finished."),
    counter("repair_storage_errors", "ringkv_anti_entropy_storage_errors_total", "Storage errors of anti-entropy."),
    counter("repair_ranges_compared", "ringkv_anti_entropy_ranges_compared_total",
            "Token ranges whose digests anti-entropy compared with another replica."),
    counter("repair_ranges_repaired", "ringkv_anti_entropy_ranges_repaired_total",
            "Token ranges anti-entropy found different and repaired."),
    counter("repair_keys_pulled", "ringkv_anti_entropy_keys_repaired_total", "Keys anti-entropy pulled from a replica."),
    per(counter("sealed_refused_", "ringkv_sealed_refusals_total", "Internode traffic refused, by reason.", "reason")),
    counter("sealed_sessions_accepted", "ringkv_sealed_sessions_accepted_total", "Sealed sessions other nodes opened."),
    counter("sealed_sessions_opened", "ringkv_sealed_sessions_opened_total", "Sealed sessions this node opened."),
    counter("sealed_handshakes_refused_by_peer", "ringkv_sealed_handshakes_refused_total",
            "Sealed session handshakes another node refused."),
    gauge("connections_open", "ringkv_connections_open", kOpen, "port", "node"),
    counter("connections_refused_over_cap", "ringkv_connections_refused_over_cap_total", kOverCap, "port", "node"),
    counter("connections_closed_idle", "ringkv_connections_closed_idle_total", kIdle, "port", "node"),
    gauge("resp_connections_open", "ringkv_connections_open", kOpen, "port", "resp"),
    counter("resp_connections_refused_over_cap", "ringkv_connections_refused_over_cap_total", kOverCap, "port", "resp"),
    counter("resp_connections_closed_idle", "ringkv_connections_closed_idle_total", kIdle, "port", "resp"),
    gauge("metrics_connections_open", "ringkv_connections_open", kOpen, "port", "metrics"),
    counter("metrics_connections_refused_over_cap", "ringkv_connections_refused_over_cap_total", kOverCap, "port",
            "metrics"),
    counter("metrics_connections_closed_idle", "ringkv_connections_closed_idle_total", kIdle, "port", "metrics"),
    counter("metrics_requests_refused", "ringkv_metrics_requests_refused_total",
            "Requests to the metrics port answered with an HTTP error (malformed, unknown path, other method)."),
};

}  // namespace

const StatMetric* metric_for_stat(std::string_view stat) {
  for (const StatMetric& entry : kStatMetrics) {
    if (entry.prefix ? stat.starts_with(entry.stat) : stat == entry.stat) return &entry;
  }
  return nullptr;
}

}  // namespace ringkv::core
