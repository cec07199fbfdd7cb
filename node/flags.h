// kvnode's command line (DESIGN.md "Command lines"), and the module
// configurations derived from it. Every flag can also come from --config
// (TOML/INI with the same names).
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "membership/config.h"
#include "node/core/node_core.h"

namespace ringkv::node {

struct Flags {
  std::string name;
  std::string listen;
  std::string data;
  std::vector<std::string> seeds;
  std::string cluster = "ringkv";
  // Replicas per key, tombstone grace, hint window and TTL: the same on every
  // node (cluster_settings.h; a node with others cannot join).
  core::ClusterSettings settings;
  int vnodes = 0;  // 0: core::kDefaultVnodes
  // Failure domain for placement (node/core/ring.h); empty: the default rack. Kept in the
  // node's meta at first start; a restart naming another rack is refused.
  std::string rack;
  int probe_interval_ms = 1000;
  // Membership knobs; 0 derives them from the probe interval (memberlist's
  // LAN ratios: timeout 1/2, gossip 1/5, push-pull and reconnect 30x).
  int probe_timeout_ms = 0;
  int gossip_interval_ms = 0;
  int push_pull_interval_ms = 0;
  int indirect_checks = 3;
  int suspicion_mult = 4;
  int retransmit_mult = 4;
  // A member whose wall clock is further than this from ours (beyond the measurement's
  // uncertainty) is logged as a warning, once per member per minute.
  int max_clock_offset_ms = 500;
  int request_timeout_ms = 2000;
  // Ranges a node no longer replicates are dropped this long after a
  // topology change completed (0: only by `kv cleanup`).
  int cleanup_grace_s = 3600;
  // Anti-entropy: compare every shared range with its other replicas this
  // often and pull what differs (0: never).
  int repair_interval_s = 600;
  std::string log_level = "info";
  // Log to this file, rotated by size (log_max_bytes per file, log_files
  // rotated files kept beside it); empty: standard error (systemd's journal).
  std::string log_file;
  int64_t log_max_bytes = 100 * 1024 * 1024;
  int log_files = 5;
  // Offline restore: swap snapshot TAG into --data (the node stopped), then exit.
  std::string restore_snapshot;
  bool sync = false;
  // Redis protocol (RESP2) listener: off unless an address is given.
  std::string resp_listen;
  std::string resp_consistency = "quorum";
  // Prometheus metrics (GET /metrics): off unless an address is given.
  std::string metrics_listen;
  // Trust (DESIGN.md "Trust"): the cluster keyring, the transitional
  // rollout mode ("", "accept" or "seal"), and the explicit opt-out.
  std::string keyring;
  std::string keyring_transition;
  bool insecure = false;
  // Per listening port (node and RESP): open connections at most, and the
  // seconds a connection may send nothing before it is closed (0: never).
  int max_connections = 1024;
  int idle_timeout_s = 300;
  // Overload (issue 13 item 3): client requests in flight and their bytes,
  // per node and per connection, over which new ones are refused BUSY
  // (core/admission.h); unsent reply bytes over which a connection is not
  // read (backpressure); RocksDB's block cache and memtables.
  int max_inflight_requests = 1024;
  int max_inflight_bytes_mib = 32;
  int max_connection_inflight_requests = 1024;
  int max_connection_inflight_bytes_mib = 8;
  int max_connection_unsent_kib = 1024;
  int rocksdb_block_cache_mib = 32;
  int rocksdb_write_buffers_mib = 32;
  // The record cache in front of RocksDB (storage/record_cache.h); 0: none.
  int row_cache_mib = 16;
  // Users file (kv users add); empty: clients need no credentials.
  std::string users;
};

// The parsed flags, or the exit code to return (0 after --help, 2 on a
// usage error, with the message already printed).
std::variant<Flags, int> parse_flags(int argc, char** argv);

membership::Config membership_config(const Flags& flags);
core::NodeConfig node_config(const Flags& flags);
// --resp-consistency as the wire enum (the flag is validated when parsed).
wire::Consistency resp_consistency(const Flags& flags);

}  // namespace ringkv::node
