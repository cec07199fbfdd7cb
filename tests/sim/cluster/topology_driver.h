// TopologyDriver: the operator of a run's topology changes (TESTING.md T6, C6), during the
// fault phase and after it, until every planned change completed.
//
// A plan (drawn from the seed by draw_topology_plan) names up to three changes, each with a
// time in the fault phase, while clients write and faults strike:
//   join    start a new node (not a founder: it waits, gossips joining, pulls its ranges,
//           then gossips normal);
//   leave   send `decommission` (TopologyRequest) to a founder, again whenever it is normal
//           (refused: another change in progress, a node down; or it crashed while leaving
//           and came back normal, its decommission abandoned), until it reports finished()
//           and stops for good;
//   remove  kill a founder for good, then send `removenode` about it to a random live member
//           until the members all see it left;
//   join-dies (its own mode, not drawn by `any`) a new node starts to join and is killed for
//           good at its first pull (or, with nothing to pull, once every member lists it
//           joining); every member that knows it must then list it dead
//           (what `kv status` shows) until `removenode` through a live member removes it,
//           and no member may keep hints for it afterwards (scenario.cc: stale hints fail).
// A node that refuses to start because it had persisted `left` (a decommission that finished
// on its disk but crashed before its `left` spread) is removed the same way, as an operator
// would.
//
// Mid-stream crashes: the plan may also name the k-th stream request (StreamRead or
// StreamWrite) of the run at which to crash, a few milliseconds later, the node streaming
// (the joiner, the leaver, or a node pulling after a removal) or the node serving the stream
// (its source, or a push's target); the victim restarts after a drawn while. Restarts are
// the documented recoveries: a joiner starts its join over, a leaver comes back normal.
//
// done() once every planned change has been carried out as far as the driver goes (the
// joiner started, the leaver stopped, the removed node killed); the scenario then waits for
// the cluster to agree (every member normal, every gone node left: Cluster::quiescence_gaps).
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "tests/sim/cluster/cluster.h"
#include "tests/sim/cluster/world.h"

namespace ringkv::cluster_sim {

enum class TopologyMode { kNone, kJoin, kLeave, kRemove, kMixed, kAny, kJoinDies };

std::optional<TopologyMode> parse_topology_mode(std::string_view text);
std::string_view topology_mode_name(TopologyMode mode);

struct TopologyPlan {
  TopologyMode mode = TopologyMode::kNone;  // never kAny: drawn
  int founders = 0;
  int joiner = -1;   // node index, or -1
  int leaver = -1;
  int removed = -1;
  bool joiner_dies = false;  // join-dies: the joiner is killed for good mid-join, then removed
  SimTimeUs join_at_us = 0;  // from the start of the fault phase
  SimTimeUs leave_at_us = 0;
  SimTimeUs remove_at_us = 0;
  // Crash at these stream requests (1-based counts over the run), 0 = none.
  std::vector<uint64_t> stream_crash_at;
  std::vector<bool> stream_crash_server;  // per crash: the server (true) or the requester
  // Stream batches as small as this, so a range takes several batches (resume by cursor).
  uint32_t stream_batch_bytes = 1024 * 1024;

  bool any() const { return joiner >= 0 || leaver >= 0 || removed >= 0; }
  // Nodes the cluster needs (founders, plus the joiner's slot).
  int nodes() const { return founders + (joiner >= 0 ? 1 : 0); }
  std::string describe() const;
};

// `mode` kAny draws one of the others; `founders` 0 draws a size that fits the mode.
// Consumes the world's generator only when mode is not kNone.
TopologyPlan draw_topology_plan(TopologyMode mode, int founders, int duration_s,
                                SimRandom& random);

struct TopologyCounters {
  uint64_t joins_started = 0;
  uint64_t decommissions_sent = 0;
  uint64_t decommissions_accepted = 0;
  uint64_t decommissions_finished = 0;
  uint64_t removals_sent = 0;
  uint64_t removals_accepted = 0;
  uint64_t stream_requests = 0;
  uint64_t stream_crashes = 0;
  uint64_t refused_starts = 0;
};

class TopologyDriver {
 public:
  TopologyDriver(World& world, Cluster& cluster, TopologyPlan plan, bool verbose);

  // Starts the plan's clock (the fault phase begins now).
  void start();
  // Faults are over: restarts the driver's own crash victims now rather than later.
  void heal();
  bool done() const;
  // What the driver still waits for ("" when done()).
  std::string gaps() const;
  const TopologyCounters& counters() const { return counters_; }
  const TopologyPlan& plan() const { return plan_; }

 private:
  void step();
  void decommission_step();
  void remove_step(int victim);
  void on_stream_request(int requester, int server);
  void send(int server, wire::TopologyRequest request, std::function<void(const Reply&)> then);
  void trace(const std::string& line) const;

  World& world_;
  Cluster& cluster_;
  TopologyPlan plan_;
  bool verbose_;
  bool running_ = false;
  bool healed_ = false;
  SimTimeUs started_us_ = 0;
  bool joined_ = false;   // the joiner was started
  bool killed_ = false;   // the removal victim was killed
  bool joiner_killed_ = false;      // join-dies: killed for good while joining
  bool joiner_seen_dead_ = false;   // join-dies: every member listed it dead before removal
  void join_dies_step();
  bool decommission_open_ = false;  // a decommission request awaits its reply
  bool remove_open_ = false;
  SimTimeUs next_remove_us_ = 0;
  std::set<int> to_remove_;  // gone nodes the members must all see left
  size_t next_stream_crash_ = 0;
  std::set<int> crashed_by_driver_;  // down, to restart
  TopologyCounters counters_;
};

}  // namespace ringkv::cluster_sim
