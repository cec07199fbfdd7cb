// kv endpoints / ring / stats: read-only views of the cluster from one node.
//
// endpoints KEY: the key's ring position and its natural replicas in
//   preference order, with their racks; --json {"key", "position",
//   "endpoints": [{"name", "address", "rack"}, ...]}.
// ring: every node's rack, vnodes and ownership (share of the ring it
//   replicates, and its primary share), the max/mean ownership ratio, and
//   per rack its node count and summed shares; --json {"replicas", "nodes":
//   [{"name", "address", "rack", "vnodes", "ownership", "primary_ownership"}],
//   "racks": [{"rack", "nodes", "ownership", "primary_ownership"}],
//   "ownership_max_over_mean"}.
// Racks: "" in JSON and "-" in tables is the default rack.
// stats: the node's counters and latency percentiles; --json an object of
//   name -> number.
#pragma once

#include <string>

#include "cli/options.h"

namespace ringkv::cli {

int run_endpoints(const GlobalOptions& options, const std::string& key);
int run_ring(const GlobalOptions& options);
int run_stats(const GlobalOptions& options);

// A rack as the tables show it: "-" for the default rack.
std::string rack_text(const std::string& rack);

}  // namespace ringkv::cli
