#include "node/flags.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>

#include "node/wire/address.h"

namespace ringkv::node {

std::variant<Flags, int> parse_flags(int argc, char** argv) {
  Flags flags;
  CLI::App app{"kvnode: one node of a ringkv cluster"};
  app.set_config("--config", "", "read flags from a TOML/INI file");
  app.add_option("--name", flags.name, "node name, unique in the cluster")->required();
  app.add_option("--listen", flags.listen, "HOST:PORT for TCP and UDP")->required();
  app.add_option("--data", flags.data, "data directory")->required();
  app.add_option("--seeds", flags.seeds, "HOST:PORT of nodes to join through")->delimiter(',');
  app.add_option("--cluster", flags.cluster, "cluster name; members of other clusters are refused")
      ->capture_default_str();
  app.add_option("--replicas", flags.settings.replicas, "replicas per key (N); the same on every node")
      ->check(CLI::Range(1, 15))->capture_default_str();
  app.add_option("--tombstone-grace-s", flags.settings.tombstone_grace_s,
                 "deletes are remembered this long before compaction may purge them; the same on every node")
      ->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--hint-window-s", flags.settings.hint_window_s,
                 "a replica down longer than this gets no new hints (repair catches it up); the same on every node")
      ->capture_default_str();
  app.add_option("--hint-ttl-s", flags.settings.hint_ttl_s,
                 "hints older than this are dropped, not delivered; below --tombstone-grace-s; the same on every node")
      ->capture_default_str();
  app.add_option("--vnodes", flags.vnodes, "virtual nodes per node (default 1024)")
      ->check(CLI::Range(1, static_cast<int>(core::kVnodesMax)));
  app.add_option("--rack", flags.rack,
                 "failure domain (rack, zone) for placement: a key's replicas go to distinct racks as far "
                 "as there are racks; default: one rack for all. Fixed for the life of the node's data");
  app.add_option("--probe-interval-ms", flags.probe_interval_ms, "SWIM protocol period")
      ->check(CLI::Range(10, 60000))->capture_default_str();
  app.add_option("--probe-timeout-ms", flags.probe_timeout_ms, "direct ping timeout (default: period/2)")
      ->check(CLI::Range(1, 60000));
  app.add_option("--gossip-interval-ms", flags.gossip_interval_ms, "gossip period (default: period/5)")
      ->check(CLI::Range(1, 60000));
  app.add_option("--push-pull-interval-ms", flags.push_pull_interval_ms,
                 "full-state sync period (default: 30 periods)")
      ->check(CLI::Range(10, 3600000));
  app.add_option("--indirect-checks", flags.indirect_checks, "ping-req helpers per failed probe")
      ->check(CLI::Range(0, 16))->capture_default_str();
  app.add_option("--suspicion-mult", flags.suspicion_mult, "suspicion timeout multiplier")
      ->check(CLI::Range(1, 100))->capture_default_str();
  app.add_option("--retransmit-mult", flags.retransmit_mult, "gossip retransmit multiplier")
      ->check(CLI::Range(1, 100))->capture_default_str();
  app.add_option("--max-clock-offset-ms", flags.max_clock_offset_ms,
                 "warn when a member's wall clock is further than this from ours")
      ->check(CLI::Range(1, 3600000))->capture_default_str();
  app.add_option("--request-timeout-ms", flags.request_timeout_ms, "coordinator timeout for replicas")
      ->check(CLI::Range(10, 600000))->capture_default_str();
  app.add_option("--cleanup-grace-s", flags.cleanup_grace_s,
                 "drop ranges this node no longer replicates this long after a topology change (0: only kv cleanup)")
      ->check(CLI::Range(0, 365 * 24 * 3600))->capture_default_str();
  app.add_option("--repair-interval-s", flags.repair_interval_s,
                 "anti-entropy: compare ranges with the other replicas this often and repair (0: never)")
      ->check(CLI::Range(0, 30 * 24 * 3600))->capture_default_str();
  app.add_option("--log-level", flags.log_level, "trace|debug|info|warn|error")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}))->capture_default_str();
  app.add_option("--log-file", flags.log_file,
                 "log to this file, rotated by size (default: standard error, e.g. for systemd's journal)");
  app.add_option("--log-max-bytes", flags.log_max_bytes, "rotate the --log-file when it reaches this size")
      ->check(CLI::Range(int64_t{1024}, int64_t{1} << 40))->capture_default_str();
  app.add_option("--log-files", flags.log_files, "rotated log files kept beside the --log-file")
      ->check(CLI::Range(1, 1000))->capture_default_str();
  app.add_option("--restore-snapshot", flags.restore_snapshot,
                 "offline: replace the data in --data with snapshot TAG (from `kv snapshot`; the node must be "
                 "stopped), keeping the node's identity with a newer generation, then exit");
  app.add_flag("--sync", flags.sync, "fsync the WAL before acknowledging writes");
  app.add_option("--resp-listen", flags.resp_listen,
                 "HOST:PORT for the Redis protocol (RESP2: redis-cli, redis-benchmark, Redis "
                 "clients); default: off");
  app.add_option("--resp-consistency", flags.resp_consistency,
                 "consistency of RESP reads and writes: one|quorum|all|any")
      ->check(CLI::IsMember({"one", "quorum", "all", "any"}))->capture_default_str();
  app.add_option("--metrics-listen", flags.metrics_listen,
                 "HOST:PORT serving Prometheus metrics at GET /metrics; default: off");
  app.add_option("--keyring", flags.keyring,
                 "cluster key file (base64 keys, one per line, the first primary; mode 600); seeds a new "
                 "node, whose keyring is then kept in DATA/keyring");
  app.add_option("--keyring-transition", flags.keyring_transition,
                 "rolling change from plaintext: accept (take plaintext and sealed, send plaintext) or seal "
                 "(take both, send sealed); default: sealed only")
      ->check(CLI::IsMember({"accept", "seal"}));
  app.add_flag("--insecure", flags.insecure,
               "allow listening outside 127.0.0.0/8 without a keyring (internode traffic unprotected)");
  app.add_option("--max-connections", flags.max_connections,
                 "open connections per port (node and RESP); one over the cap gets an error and is closed")
      ->check(CLI::Range(1, 1'000'000))->capture_default_str();
  app.add_option("--idle-timeout-s", flags.idle_timeout_s,
                 "close a connection that sent nothing for this long (0: never)")
      ->check(CLI::Range(0, 7 * 24 * 3600))->capture_default_str();
  app.add_option("--max-inflight-requests", flags.max_inflight_requests,
                 "client puts/deletes/gets in flight on this node; more are refused BUSY at once")
      ->check(CLI::Range(1, 1'000'000))->capture_default_str();
  app.add_option("--max-inflight-bytes-mib", flags.max_inflight_bytes_mib,
                 "bytes (keys + values) of client requests in flight on this node; more are refused BUSY")
      ->check(CLI::Range(1, 65536))->capture_default_str();
  app.add_option("--max-connection-inflight-requests", flags.max_connection_inflight_requests,
                 "client requests in flight on one connection; more are refused BUSY")
      ->check(CLI::Range(1, 1'000'000))->capture_default_str();
  app.add_option("--max-connection-inflight-bytes-mib", flags.max_connection_inflight_bytes_mib,
                 "bytes of client requests in flight on one connection (a request alone always passes)")
      ->check(CLI::Range(1, 65536))->capture_default_str();
  app.add_option("--max-connection-unsent-kib", flags.max_connection_unsent_kib,
                 "stop reading a connection while its unsent replies exceed this (backpressure)")
      ->check(CLI::Range(16, 1 << 20))->capture_default_str();
  app.add_option("--rocksdb-block-cache-mib", flags.rocksdb_block_cache_mib,
                 "RocksDB block cache (data, index and filter blocks)")
      ->check(CLI::Range(1, 1 << 20))->capture_default_str();
  app.add_option("--rocksdb-write-buffers-mib", flags.rocksdb_write_buffers_mib,
                 "RocksDB memtables of all column families together (write buffer manager)")
      ->check(CLI::Range(1, 1 << 20))->capture_default_str();
  app.add_option("--row-cache-mib", flags.row_cache_mib,
                 "records of hot keys kept in memory in front of RocksDB, for reads and the read before each "
                 "write (0: none)")
      ->check(CLI::Range(0, 1 << 20))->capture_default_str();
  app.add_option("--users", flags.users,
                 "users file (kv users add): clients must authenticate; default: no credentials needed");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  if (const std::string problem = flags.settings.validate(); !problem.empty()) {
    std::fprintf(stderr, "kvnode: %s\n", problem.c_str());
    return 2;
  }
  if (auto address = wire::parse_address(flags.listen); !address) {
    std::fprintf(stderr, "kvnode: --listen: %s\n", address.error().c_str());
    return 2;
  }
  if (auto address = wire::parse_address(flags.resp_listen); !flags.resp_listen.empty() && !address) {
    std::fprintf(stderr, "kvnode: --resp-listen: %s\n", address.error().c_str());
    return 2;
  }
  if (!flags.resp_listen.empty() && flags.resp_listen == flags.listen) {
    std::fprintf(stderr, "kvnode: --resp-listen must differ from --listen\n");
    return 2;
  }
  if (const std::string problem = node_config(flags).admission.validate(); !problem.empty()) {
    std::fprintf(stderr, "kvnode: --%s\n", problem.c_str());
    return 2;
  }
  if (!flags.metrics_listen.empty()) {
    if (auto address = wire::parse_address(flags.metrics_listen); !address) {
      std::fprintf(stderr, "kvnode: --metrics-listen: %s\n", address.error().c_str());
      return 2;
    }
    if (flags.metrics_listen == flags.listen || flags.metrics_listen == flags.resp_listen) {
      std::fprintf(stderr, "kvnode: --metrics-listen must differ from --listen and --resp-listen\n");
      return 2;
    }
  }
  if (!membership::is_valid_rack(flags.rack)) {
    std::fprintf(stderr, "kvnode: --rack must be at most %zu bytes of [A-Za-z0-9._:-]: '%s'\n",
                 membership::kRackBytesMax, flags.rack.c_str());
    return 2;
  }
  for (const auto& seed : flags.seeds) {
    if (auto address = wire::parse_address(seed); !address) {
      std::fprintf(stderr, "kvnode: --seeds: %s\n", address.error().c_str());
      return 2;
    }
  }
  return flags;
}

membership::Config membership_config(const Flags& flags) {
  membership::Config config;
  const int period = flags.probe_interval_ms;
  config.cluster_name = flags.cluster;
  config.probe_interval_ms = period;
  config.probe_timeout_ms = flags.probe_timeout_ms ? flags.probe_timeout_ms : period / 2;
  config.gossip_interval_ms = flags.gossip_interval_ms ? flags.gossip_interval_ms : std::max(10, period / 5);
  config.push_pull_interval_ms = flags.push_pull_interval_ms ? flags.push_pull_interval_ms : 30 * period;
  config.reconnect_interval_ms = 30 * period;
  config.join_retry_initial_ms = std::min(1000, period);
  config.indirect_checks = static_cast<uint32_t>(flags.indirect_checks);
  config.suspicion_mult = static_cast<uint32_t>(flags.suspicion_mult);
  config.retransmit_mult = static_cast<uint32_t>(flags.retransmit_mult);
  config.max_clock_offset_ms = flags.max_clock_offset_ms;
  config.settings = flags.settings.encode();
  return config;
}

core::NodeConfig node_config(const Flags& flags) {
  core::NodeConfig config;
  config.settings = flags.settings;
  config.coordinator.request_timeout_ms = flags.request_timeout_ms;
  config.topology.cleanup_grace_ms = static_cast<membership::TimeMs>(flags.cleanup_grace_s) * 1000;
  config.repair.interval_ms = static_cast<membership::TimeMs>(flags.repair_interval_s) * 1000;
  config.admission.requests_inflight_max = static_cast<size_t>(flags.max_inflight_requests);
  config.admission.bytes_inflight_max = static_cast<uint64_t>(flags.max_inflight_bytes_mib) << 20;
  // A connection's caps never exceed the node's (lowering the node's lowers them).
  config.admission.connection_requests_inflight_max =
      std::min(config.admission.requests_inflight_max, static_cast<size_t>(flags.max_connection_inflight_requests));
  config.admission.connection_bytes_inflight_max = std::min(
      config.admission.bytes_inflight_max, static_cast<uint64_t>(flags.max_connection_inflight_bytes_mib) << 20);
  return config;
}

wire::Consistency resp_consistency(const Flags& flags) {
  wire::Consistency level = wire::Consistency::kQuorum;
  wire::parse_consistency(flags.resp_consistency, level);
  return level;
}

}  // namespace ringkv::node
