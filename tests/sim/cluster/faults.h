// FaultInjector: the fault schedule of a run's fault phase.
//
// Every `interval` (drawn afresh each time) it injects one fault, each undone after a drawn
// duration: a crash (restart later, on the same disk), a symmetric partition into two random
// sides, the isolation of one node, or a one-way cut between two nodes. At most `max_down`
// nodes are down at once. Durations stay far inside the hint window (3 h), so hinted handoff
// is always meant to cover a down replica. stop() ends the phase: nothing new is injected and
// pending undo steps do nothing, since the caller heals everything at once.
#pragma once

#include <cstdint>
#include <vector>

#include "tests/sim/cluster/cluster.h"
#include "tests/sim/cluster/network.h"
#include "tests/sim/cluster/world.h"

namespace ringkv::cluster_sim {

struct FaultSettings {
  SimTimeUs interval_min_us = 500 * kUsPerMs;
  SimTimeUs interval_max_us = 4 * kUsPerS;
  SimTimeUs duration_min_us = 500 * kUsPerMs;
  SimTimeUs duration_max_us = 8 * kUsPerS;
  int max_down = 1;
};

struct FaultCounters {
  uint64_t crashes = 0;  // also those the storage asked for
  uint64_t partitions = 0;
  uint64_t isolations = 0;
  uint64_t one_way_cuts = 0;

  uint64_t total() const { return crashes + partitions + isolations + one_way_cuts; }
};

class FaultInjector {
 public:
  FaultInjector(World& world, Network& network, Cluster& cluster, FaultSettings settings,
                bool verbose);

  void start();
  void stop() { running_ = false; }
  // A crash between write and flush that node `index`'s storage asked for
  // (faulty_engine.h): from an event of its own, only while running and within max_down,
  // restarted after a drawn duration like any crash.
  void crash_for_storage(int index);
  const FaultCounters& counters() const { return counters_; }

 private:
  void inject();
  bool crash_one();
  void crash_and_restart(int victim);
  void partition_halves();
  void isolate_one();
  void cut_one_way();
  SimTimeUs duration();
  void trace(const std::string& line) const;

  World& world_;
  Network& network_;
  Cluster& cluster_;
  FaultSettings settings_;
  bool verbose_;
  bool running_ = false;
  FaultCounters counters_;
};

}  // namespace ringkv::cluster_sim
