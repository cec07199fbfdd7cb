// Workload: simulated clients issuing QUORUM puts of unique keys and QUORUM gets of keys whose
// put was acknowledged, each to a random live coordinator, recording every operation in the
// History.
//
// Each client runs one operation at a time, then thinks for a random while. A client gives up
// on a request after `reply_deadline_us`: a coordinator that stays up must answer within its
// own request timeout (TIMEOUT at worst), so a request that outlives the deadline is recorded
// as an anomaly, not just as `info`.
//
// read_all() is the checker's client: after quiescence it reads a list of keys at QUORUM,
// a few at a time.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "tests/sim/cluster/cluster.h"
#include "tests/sim/cluster/history.h"
#include "tests/sim/cluster/world.h"

namespace ringkv::cluster_sim {

struct WorkloadSettings {
  int clients = 3;
  SimTimeUs think_min_us = 1 * kUsPerMs;
  SimTimeUs think_max_us = 20 * kUsPerMs;
  double get_fraction = 0.4;
  SimTimeUs reply_deadline_us = 10 * kUsPerS;
};

class Workload {
 public:
  Workload(World& world, Cluster& cluster, History& history, WorkloadSettings settings,
           bool verbose);

  void start();
  // No new operations; those in flight finish.
  void stop() { running_ = false; }
  size_t in_flight() const { return in_flight_; }

  // Reads every key at QUORUM through random coordinators, `parallel` at a time.
  void read_all(std::vector<std::string> keys, int parallel);
  bool reads_done() const { return read_queue_.empty() && in_flight_ == 0; }

  const std::vector<std::string>& anomalies() const { return anomalies_; }

 private:
  void wake(int client);
  void next_read();
  // Sends the op at `index` to its coordinator; `then` runs once it ended, however it ended.
  void send(size_t index, wire::Body body, std::function<void()> then);
  void record(size_t index, const Reply& reply);
  int pick_coordinator();

  World& world_;
  Cluster& cluster_;
  History& history_;
  WorkloadSettings settings_;
  bool verbose_;
  bool running_ = false;
  size_t in_flight_ = 0;
  std::vector<uint64_t> next_key_;         // per client
  std::vector<std::string> acknowledged_;  // keys whose put was ok
  std::deque<std::string> read_queue_;
  std::vector<std::string> anomalies_;
};

}  // namespace ringkv::cluster_sim
