// The kvnode process on libuv: opens storage and identity, builds the node
// core and its membership, binds the TCP and UDP port (and the RESP and
// metrics ports when asked), and runs the loop
// until SIGTERM or SIGINT stop it cleanly (closing sockets, then storage).
// Stopping is not leaving: the node stays in the ring and others see it dead
// until it returns.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "membership/config.h"
#include "node/core/node_core.h"
#include "node/io/connection_limits.h"
#include "node/io/trust_context.h"
#include "node/wire/message.h"
#include "storage/engine.h"
#include "storage/record_cache.h"

namespace ringkv::io {

struct NodeSettings {
  std::string name;
  std::string listen;  // HOST:PORT for TCP and UDP
  std::string data;    // data directory
  std::vector<std::string> seeds;
  // HOST:PORT of the Redis-protocol (RESP2) listener; empty: none.
  std::string resp_listen;
  wire::Consistency resp_consistency = wire::Consistency::kQuorum;
  // HOST:PORT of the Prometheus metrics port (metrics_server.h); empty: none.
  std::string metrics_listen;
  bool sync = false;
  uint32_t vnodes = core::kDefaultVnodes;
  std::string rack;  // "" is the default rack
  membership::Config membership;
  core::NodeConfig node;
  TrustSettings trust;
  ConnectionLimitsConfig connections;  // each listening port's own
  storage::MemoryBudget storage_memory;  // RocksDB's block cache and memtables
  // The record cache in front of RocksDB (storage/record_cache.h);
  // capacity 0: none.
  storage::RecordCacheLimits row_cache;
  // Client credentials (kvnode --users); nullopt: clients need none.
  std::optional<std::vector<trust::User>> users;
  // Hands freed heap memory back to the system; the loop calls it every 5 s
  // so RSS falls after a burst. Default: glibc's malloc_trim (kvnode runs on
  // mimalloc and passes its own: node/heap.h).
  std::function<void()> release_free_heap;
};

// The process exit code: 0 after a clean stop, 1 when storage or the port
// cannot be opened or the keyring is refused, 2 for invalid membership
// settings.
int run_node_process(const NodeSettings& settings);

}  // namespace ringkv::io
