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
//   4. check: replicas on disk (C1 local, C2, C4), then QUORUM reads of every acknowledged
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
#include "tests/sim/cluster/plant.h"
#include "tests/sim/cluster/tolerances.h"

namespace ringkv::cluster_sim {

struct ScenarioOptions {
  uint64_t seed = 1;
  int nodes = 0;        // 0: drawn from the seed (3..7)
  int duration_s = 20;  // fault phase
  Plant plant = Plant::kNone;
  bool verbose = false;
  Tolerances tolerances;  // known defects to excuse (tolerances.h)
  std::string trace_key;  // trace the replica traffic of this key
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
};

ScenarioResult run_scenario(const ScenarioOptions& options);

}  // namespace ringkv::cluster_sim
