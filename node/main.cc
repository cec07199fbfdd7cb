// kvnode: one ringkv node process. Parses flags, sets up logging and hands
// over to the libuv process in node/io (node_process.h), which runs until
// SIGTERM/SIGINT (clean stop) or SIGKILL (acknowledged writes are already in
// the WAL). With --restore-snapshot TAG it instead restores a snapshot into
// the stopped node's data directory and exits.
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>

#include "node/data_layout.h"
#include "node/flags.h"
#include "node/heap.h"
#include "node/io/node_process.h"
#include "node/log_setup.h"
#include "node/trust/users_file.h"
#include "storage/engine.h"

namespace {

// 0 after the restore, 1 when it was refused or failed (the reason is logged).
int restore_snapshot(const ringkv::node::Flags& flags) {
  ringkv::storage::Options options;
  options.path = ringkv::node::database_path(flags.data);
  options.snapshots_path = ringkv::node::snapshots_path(flags.data);
  options.clock_us = [] {
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count());
  };
  auto report = ringkv::storage::restore_rocksdb_snapshot(options, flags.restore_snapshot);
  if (!report) {
    spdlog::error("restore of snapshot {} failed: {}", flags.restore_snapshot,
                  report.error().message);
    return 1;
  }
  spdlog::info("restored snapshot {} into {} ({}); the next start runs with generation {}", report->tag,
               options.path, report->replaced_data ? "the data there was replaced" : "there was no data",
               report->generation + 1);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  ringkv::node::configure_heap();
  auto parsed = ringkv::node::parse_flags(argc, argv);
  if (const int* exit_code = std::get_if<int>(&parsed)) return *exit_code;
  const auto& flags = std::get<ringkv::node::Flags>(parsed);
  if (auto logging = ringkv::node::setup_logging(flags); !logging) {
    std::fprintf(stderr, "kvnode: %s\n", logging.error().c_str());
    return 2;
  }
  if (!flags.restore_snapshot.empty()) return restore_snapshot(flags);
  std::optional<std::vector<ringkv::trust::User>> users;
  if (!flags.users.empty()) {
    auto loaded = ringkv::trust::load_users_file(flags.users);
    if (!loaded) {
      spdlog::error("{}", loaded.error());
      return 2;
    }
    spdlog::info("clients must authenticate: {} users in {}", loaded->size(), flags.users);
    users = std::move(*loaded);
  }
  const ringkv::io::NodeSettings settings{
      .name = flags.name,
      .listen = flags.listen,
      .data = flags.data,
      .seeds = flags.seeds,
      .resp_listen = flags.resp_listen,
      .resp_consistency = ringkv::node::resp_consistency(flags),
      .metrics_listen = flags.metrics_listen,
      .sync = flags.sync,
      .vnodes = flags.vnodes ? static_cast<uint32_t>(flags.vnodes) : ringkv::core::kDefaultVnodes,
      .rack = flags.rack,
      .membership = ringkv::node::membership_config(flags),
      .node = ringkv::node::node_config(flags),
      .trust = {.keyring_path = flags.keyring,
                .transition = flags.keyring_transition,
                .insecure = flags.insecure,
                .listen = flags.listen,
                .data = flags.data},
      .connections = {.connections_max = static_cast<size_t>(flags.max_connections),
                      .idle_timeout_ms = static_cast<uint64_t>(flags.idle_timeout_s) * 1000,
                      .unsent_bytes_max = static_cast<size_t>(flags.max_connection_unsent_kib) << 10},
      .storage_memory = {.block_cache_bytes = static_cast<uint64_t>(flags.rocksdb_block_cache_mib) << 20,
                         .write_buffers_bytes = static_cast<uint64_t>(flags.rocksdb_write_buffers_mib) << 20},
      .row_cache = {.capacity_bytes = static_cast<uint64_t>(flags.row_cache_mib) << 20},
      .users = std::move(users),
      .release_free_heap = ringkv::node::release_free_heap,
  };
  return ringkv::io::run_node_process(settings);
}
