// NodeHost: one simulated kvnode process, the simulator's stand-in for node/main.cc,
// node/io/core_driver.cc and node/io/gossip_driver.cc.
//
// It owns the node's disk (kept across crashes) and, while the process is up, its
// ReplicaStore and NodeCore. After every input it drains all of the core's output, as the real
// driver's pump() does: membership events first (they update the ring the rest relies on),
// then datagrams, push-pull requests, peer requests and client replies, each handed to the
// Transport; then it arms its one timer at the earlier of the core's and SWIM's deadlines.
//
// Clocks: the node's monotonic clock is the simulated clock plus a per-node offset (only
// differences matter); its wall clock is the simulated clock plus a fixed epoch and a small
// per-node skew, so versions from different coordinators interleave as on real machines.
//
// With NodeSettings::storage_faults the process sees its disk through a FaultyEngine
// (faulty_engine.h); start-up and the checkers' direct reads of disk() never fail.
//
// crash() drops the process (core, store, timers; pending work is lost) and tells the disk,
// which loses what was not flushed (sim_disk.h);
// start() after a crash reopens the same disk, which raises the persisted generation, so the
// node comes back with a higher incarnation. An epoch, bumped on every start, lets the
// network drop replies meant for an earlier life.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "membership/config.h"
#include "membership/swim.h"
#include "node/core/node_core.h"
#include "node/core/replica_store.h"
#include "tests/sim/cluster/faulty_engine.h"
#include "tests/sim/cluster/sim_disk.h"
#include "tests/sim/cluster/transport.h"
#include "tests/sim/cluster/world.h"

namespace ringkv::cluster_sim {

// 2023-11-14T22:13:20Z: wall clocks read like real ones, so hint TTLs and HLCs see plausible
// values.
inline constexpr uint64_t kWallEpochUs = 1'700'000'000'000'000ull;

struct NodeSettings {
  membership::Config membership;
  core::NodeConfig node;
  core::HintLimits hint_limits;
  uint32_t vnodes = 16;
  std::string rack;  // "" is the default rack
  std::vector<std::string> seed_addresses;
  int64_t wall_skew_us = 0;
  membership::TimeMs monotonic_offset_ms = 0;
  // Set: the lose-unsynced plant, with this window (sim_disk.h).
  std::optional<SimTimeUs> planted_window_us;
  // Set: the node's engine fails at these seeded rates while they are active
  // (faulty_engine.h). Owned by the scenario.
  StorageFaults* storage_faults = nullptr;
  // A founder owns the ring from its first start (ring status normal); any other node joins
  // (waiting, then joining, streaming its ranges), as kvnode decides from its seeds.
  bool founder = true;
};

class NodeHost {
 public:
  NodeHost(int index, std::string id, std::string name, std::string address, NodeSettings settings,
           World& world, Transport& transport);
  NodeHost(const NodeHost&) = delete;
  NodeHost& operator=(const NodeHost&) = delete;

  // Starts a process on this node's disk: a first start, or a restart after crash(). False
  // when the process refuses to run because the node was decommissioned (kvnode exits then).
  bool start();
  // Kills the process; returns what the disk lost with it.
  CrashLoss crash();
  // Stops the process cleanly (a finished decommission): the disk loses nothing.
  void stop();

  bool up() const { return core_ != nullptr; }
  uint64_t epoch() const { return epoch_; }
  uint64_t generation() const { return generation_; }
  int index() const { return index_; }
  const std::string& id() const { return id_; }
  const std::string& name() const { return name_; }
  const std::string& address() const { return address_; }
  core::Now now() const;

  // REQUIRES: up().
  core::NodeCore& core() { return *core_; }
  const core::NodeCore& core() const { return *core_; }
  const core::ReplicaStore& store() const { return *store_; }
  // The disk outlives every process of the node.
  SimDisk& disk() { return disk_; }

  // Inputs from the network. REQUIRES: up().
  void receive_datagram(const std::string& from_address, const std::string& bytes);
  void receive_request(core::ClientId client, const std::string& peer_address,
                       wire::Message request);

  // Called for every membership event this node's core reports (tracing).
  std::function<void(const NodeHost& node, const membership::Event& event)> on_event;
  // Called for every topology notice (the log lines of a change, tracing).
  std::function<void(const NodeHost& node, const std::string& notice)> on_notice;
  // Called once, from an event of its own, when the core reports finished() (a decommission
  // completed and `left` was gossiped): kvnode stops the process then.
  std::function<void(const NodeHost& node)> on_finished;

 private:
  void pump();
  void arm_timer();
  void on_timer(uint64_t timer_token);
  SimTimeUs to_sim_us(membership::TimeMs monotonic_ms) const;

  int index_;
  std::string id_;
  std::string name_;
  std::string address_;
  NodeSettings settings_;
  World& world_;
  Transport& transport_;
  SimDisk disk_;
  // While up with storage faults: the engine the process uses, over disk_.
  std::optional<FaultyEngine> faulty_;
  std::optional<core::ReplicaStore> store_;
  std::unique_ptr<core::NodeCore> core_;
  uint64_t epoch_ = 0;
  uint64_t generation_ = 0;
  // The one pending timer event: a new one is scheduled only when it must fire earlier than
  // the pending one (firing late is impossible, early is harmless), and a stale one is
  // recognised by its token.
  uint64_t timer_token_ = 0;
  std::optional<SimTimeUs> timer_at_us_;
  bool finish_reported_ = false;  // this process reported finished()
};

}  // namespace ringkv::cluster_sim
