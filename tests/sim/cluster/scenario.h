// Scenario: one seed's whole run, from an empty cluster to the checkers' verdict.
//
//   1. form: start N nodes (3-7 from the seed, N = 3 replicas), wait until every node sees
//      every node alive and in its ring;
//   2. fault phase (duration_s): clients write and read while the network delays, reorders,
//      loses and duplicates datagrams, connections break, partitions come and go and nodes
//      crash (losing what they had not flushed, sim_disk.h) and restart;
//   3. heal: stop the clients, remove partitions and loss, restart every crashed node, and
//      run until quiescent (every node sees every node alive, no hints held, no replica
//      traffic in flight, twice, more than a request timeout apart), at most 120 s;
//      With a topology plan (topology_driver.h), joins, decommissions and removals happen
//      during the fault phase (with crashes aimed at the middle of their streams), the wait
//      also covers the changes completing (every member normal in every view, every gone node
//      left, no ring change in progress), and then `cleanup` runs on every member (retried
//      while it refuses: a member still streaming refuses it);
//   4. check: replicas on disk (C1 local, C2, C4; C6 placement after a topology change:
//      no member holds a key the final ring does not give it), then QUORUM reads of every acknowledged
//      key (C1), then the reads of the whole run (C3), and the protocol anomalies the
//      network and the clients saw (a request answered twice, a coordinator that never
//      answered, an error code a client should never see).
//
// Everything is drawn from the seed; options given explicitly (nodes, duration) override the
// seed's choice, and the replay command repeats them.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "tests/sim/cluster/faults.h"
#include "tests/sim/cluster/faulty_engine.h"
#include "tests/sim/cluster/plant.h"
#include "tests/sim/cluster/tolerances.h"
#include "tests/sim/cluster/topology_driver.h"

namespace ringkv::cluster_sim {

struct ScenarioOptions {
  uint64_t seed = 1;
  int nodes = 0;        // 0: drawn from the seed (3..7)
  int duration_s = 20;  // fault phase
  Plant plant = Plant::kNone;
  bool verbose = false;
  Tolerances tolerances;  // known defects to excuse (tolerances.h)
  std::string trace_key;  // trace the replica traffic of this key
  // Topology changes during the fault phase (topology_driver.h); with one, `nodes` counts the
  // founders.
  TopologyMode topology = TopologyMode::kNone;
  // Every node's engine fails at seeded rates during the fault phase (faulty_engine.h).
  bool storage_faults = false;
  // Node i (joiners too) is in rack "r" + i % racks; 0 or 1: every node in the default rack.
  int racks = 0;
};

struct OpCounts {
  uint64_t ok = 0;
  uint64_t fail = 0;
  uint64_t info = 0;
};

struct ScenarioResult {
  bool passed = true;
  std::vector<std::string> violations;
  std::string setup;  // one line: nodes, probe interval, loss...
  OpCounts puts;
  OpCounts gets;
  uint64_t final_reads = 0;
  FaultCounters faults;
  StorageFaultCounters storage_faults;
  uint64_t restarts = 0;
  uint64_t planted_hint_drops = 0;
  uint64_t planted_writes_lost = 0;
  uint64_t unflushed_writes_lost = 0;         // changes crashes took that were never flushed
  std::map<std::string, uint64_t> tolerated;  // excused replica gaps, by tolerance
  uint64_t events = 0;
  double simulated_s = 0;
  // A digest of the whole history and the event count: two runs of one seed must agree.
  uint64_t fingerprint = 0;
  double quiesce_s = 0;  // from heal to quiescent
  // Topology runs.
  std::string topology;  // the plan, one line ("" without one)
  TopologyCounters topology_counters;
  uint64_t cleanup_requests = 0;
  uint64_t stale_hints = 0;  // hints members still hold for gone nodes at the end
  uint64_t placement_checked = 0;  // (key, node) copies C6 looked at
};

ScenarioResult run_scenario(const ScenarioOptions& options);

}  // namespace ringkv::cluster_sim
