// kv endpoints / ring / stats: read-only views of the cluster from one node.
//
// endpoints KEY: the key's ring position and its natural replicas in
//   preference order; --json {"key", "position", "endpoints": [{"name",
//   "address"}, ...]}.
// ring: every node's vnodes and ownership (share of the ring it replicates,
//   and its primary share), plus the max/mean ownership ratio; --json
//   {"replicas", "nodes": [{"name", "address", "vnodes", "ownership",
//   "primary_ownership"}], "ownership_max_over_mean"}.
// stats: the node's counters and latency percentiles; --json an object of
//   name -> number.
#pragma once

#include <string>

#include "cli/options.h"

namespace ringkv::cli {

int run_endpoints(const GlobalOptions& options, const std::string& key);
int run_ring(const GlobalOptions& options);
int run_stats(const GlobalOptions& options);

}  // namespace ringkv::cli
