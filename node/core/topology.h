// Topology: this node's part in changing the ring (DESIGN.md "Join, leave,
// removal"), as a state machine.
//
// Lifecycle of the node's ring status (persisted in meta as `ring_state`):
//   waiting   a new node that will join; it waits while its view shows another
//             member joining or leaving, or a live waiting member with a lower
//             id (one topology change at a time), then gossips `joining`;
//   joining   it asks every live member for its status until all of them list
//             it as joining (so every coordinator sends it the writes of its
//             pending ranges), then pulls each range it will own from its current
//             replicas (Streamer), pulls a new plan whenever the rings change
//             before it is done, and only when every range of the plan of that
//             moment is complete persists `normal` and gossips it.
//             Killed while joining, it starts over from waiting (streams are
//             idempotent: last write wins);
//   normal    owns its ranges. `kv decommission` (TopologyRequest) makes it
//   leaving   which it confirms like joining, then pushes every range it holds
//             to its new owners, hands its hints over (to their target when up,
//             else as hints to another live node), persists `left`, gossips
//             `left`, tells every live member directly (gossip alone may be
//             lost) and reports finished() so the process exits. A node that
//             remembers `left` refuses to start (decommissioned()).
// removenode (any normal node, the operator): tells every live member that the
// dead member is being removed (kRemoving); each then keeps it in its current
// ring (reads skip it as down) but not in its future ring (writes also reach
// the new owners) and pulls the ranges it gains from every surviving replica.
// Once every live member answered "done", the operator declares the member
// left and tells every live member so (gossip alone may be lost). A member
// that missed all this pulls its gains when it learns of the removal. Cleanup drops data of ranges this node no longer replicates
// (RocksDB DeleteRange), on request or automatically `cleanup_grace_ms` after
// a change completed. Refused with a reason, changing nothing: a change while
// another is in progress, decommission leaving fewer than N nodes or with a
// member down, removenode of a live, unknown or already removed node, cleanup
// during a change.
//
// Code: topology.cc (lifecycle, join, decommission, cleanup),
// topology_removal.cc (removenode), topology_plans.h (stream plans).
//
// Pure state machine: inputs are requests, membership events, replies and
// ticks with the current time (the owner ticks it at least every few hundred
// ms: that paces confirmations, retries and cleanup); outputs are PeerRequests
// (routed as peer_route.h says) and ring status changes through Swim.
// Single-threaded.
#pragma once

#include <cstdint>
#include <expected>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "membership/swim.h"
#include "node/core/cluster_view.h"
#include "node/core/error_counter.h"
#include "node/core/peer_request.h"
#include "node/core/replica_store.h"
#include "node/core/streamer.h"

namespace ringkv::core {

struct TopologyConfig {
  uint32_t replicas = 3;
  StreamConfig stream;
  membership::TimeMs confirm_retry_ms = 250;
  // Automatic cleanup this long after a change completed; 0 = only `kv cleanup`.
  membership::TimeMs cleanup_grace_ms = 3600 * 1000;
};

// Numeric codes are published in `kv stats` (ring_state).
enum class Phase : uint8_t {
  kWaiting = 0,
  kJoining = 1,
  kNormal = 2,
  kLeaving = 3,
  kLeft = 4,
};
std::string_view to_string(Phase phase);

inline constexpr std::string_view kRingStateMeta = "ring_state";
inline constexpr std::string_view kRemovingMeta = "removing";  // hex id, on a removal's operator

class Topology {
 public:
  // Reads the persisted ring state; a node that remembers `normal` publishes
  // it, one without a state keeps the ring status it was created with
  // (normal for a founder, waiting for a node that joins).
  Topology(TopologyConfig config, ClusterView& view, ReplicaStore& store, membership::Swim& swim, Now now);

  Phase phase() const { return phase_; }
  // The node was decommissioned: it must not start (its data is stale).
  bool decommissioned() const { return decommissioned_; }
  // The decommission completed and `left` was gossiped: stop the process.
  bool finished() const { return phase_ == Phase::kLeft && leave_done_ && swim_.leave_complete(); }

  wire::Body handle_request(const wire::TopologyRequest& request, Now now);
  // Called with the membership events just applied and the current ring
  // before them (removals start their pulls here).
  void on_membership(const std::vector<membership::Event>& events, const Ring& ring_before, Now now);
  void tick(Now now);
  // Replies by route id (peer_route.h): to this unit's own requests
  // (PeerOwner::kTopology) and to its streamer's (kTopologyStream); false
  // when it awaits no such reply.
  bool handle_reply(uint64_t id, const std::expected<wire::Message, std::string>& reply, Now now);
  bool handle_stream_reply(uint64_t id, const std::expected<wire::Message, std::string>& reply, Now now) {
    return streamer_.handle_reply(id, reply, now);
  }
  std::vector<PeerRequest> take_peer_requests();

  // True once after this node's own ring status changed (the ring needs a rebuild).
  bool take_ring_status_changed() { return std::exchange(ring_status_changed_, false); }
  // Members being removed: in the current ring, not in the future one.
  const std::set<std::string>& removing() const { return removing_; }
  // True once after a member was removed (removenode): every replica should
  // compare its ranges now (anti-entropy), beyond the pulls started here.
  bool take_repair_wanted() { return std::exchange(repair_wanted_, false); }

  void add_stats(std::vector<std::pair<std::string, uint64_t>>& values, Now now) const;
  // One line per step of a change (for the node's log), drained by the caller.
  std::vector<std::string> take_notices() {
    for (std::string& notice : errors_.take_notices()) notices_.push_back(std::move(notice));
    return std::exchange(notices_, {});
  }
  // Storage errors of background steps (persisting state, hints, the removal
  // marker), each counted and logged (error_counter.h).
  uint64_t storage_errors() const { return errors_.count(); }

 private:
  // Another member (not `except_id`) joining or leaving, or for a join also a
  // live member waiting ahead of this one: the reason, or "".
  std::string change_in_progress(bool for_join, std::string_view except_id = {}) const;
  void publish(membership::RingStatus status, Now now);
  void start_confirm(Now now);
  void confirm_tick(Now now);
  void on_status(const std::string& member_id, const wire::StatusReply& reply);
  // The address of a member (of any liveness but left) others reported that
  // this node knows neither from membership nor from its ring, or "".
  std::string unknown_member() const;
  // The ranges this node gains from the current ring to the future one, each
  // from its current replicas.
  std::vector<StreamTask> join_plan() const;
  void start_join_streams(Now now);
  // Until a join completes: when the rings changed since its plan (another
  // change overlapped) and the plan with them, pulls the new plan instead;
  // returns whether it did.
  bool replan_join_if_ring_changed(Now now);
  void start_leave_streams(Now now);
  void finish_join(Now now);
  void hand_over_hints(Now now);
  wire::Body decommission(Now now);
  wire::Body removenode(const std::string& node, Now now);
  wire::Body cleanup(Now now);
  wire::Body member_left(const std::string& node, Now now);
  wire::Body member_removing(const std::string& node, Now now);
  void removal_tick(Now now);
  // This node becomes the operator of the removal of `id` (from its first step).
  void drive_removal(const std::string& id, Now now);
  void start_removal_pulls(const std::string& id, Now now);
  void persist(std::string_view state);
  // Clears the removal operator's marker in meta (kRemovingMeta); a failed
  // clear is retried every tick until it succeeds: a marker left behind would
  // make a restarted node resume a finished removal.
  void clear_removal_marker();
  void retry_removal_marker_clear();

  TopologyConfig config_;
  ClusterView& view_;
  ReplicaStore& store_;
  membership::Swim& swim_;
  Streamer streamer_;
  Phase phase_ = Phase::kWaiting;
  bool decommissioned_ = false;
  bool ring_status_changed_ = false;
  bool repair_wanted_ = false;
  // Confirmation: member id -> confirmed; a member asked but not answered is
  // in status_asked_.
  std::map<std::string, bool> confirmed_;
  std::map<std::string, std::string> members_elsewhere_;  // id -> address, from status replies
  std::set<std::string> members_live_elsewhere_;          // ids some reply listed alive or suspect
  membership::TimeMs next_confirm_ms_ = 0;
  membership::TimeMs confirm_started_ms_ = 0;
  bool streams_started_ = false;
  // After `left`: every live member was told (or the deadline passed).
  bool leave_done_ = false;
  membership::TimeMs leave_deadline_ms_ = 0;
  std::vector<StreamTask> planned_;  // the join's tasks, to detect a re-plan
  // The rings the current join or decommission plan was made from.
  std::shared_ptr<const Ring> planned_ring_;
  std::shared_ptr<const Ring> planned_future_;
  // Hints handed over: route id -> hint.
  std::map<uint64_t, storage::Hint> hints_in_flight_;
  uint64_t hints_handed_over_ = 0;
  std::map<uint64_t, std::string> status_asked_;  // route id -> member id
  // removenode, on every member: ids being removed, and those whose gains
  // this node pulled (or still has to plan, on the next tick).
  std::set<std::string> removing_;
  std::set<std::string> removal_pulled_;
  std::set<std::string> removal_to_plan_;
  std::map<std::string, membership::TimeMs> removing_heard_ms_;  // last kRemoving about it
  // removenode, on the operator: the member, the stage, who answered.
  std::string removal_target_;
  std::string resume_removal_hex_;  // from meta after a restart
  bool removal_announcing_ = false;
  // Pulling: until when members held dead are waited for; announcing: until
  // when members are told the node left.
  membership::TimeMs removal_deadline_ms_ = 0;
  std::set<std::string> removal_gave_up_on_;  // members held dead no longer waited for
  membership::TimeMs next_removal_ms_ = 0;
  std::map<std::string, bool> removal_done_;
  std::map<uint64_t, std::string> removal_asked_;  // route id -> member id
  PeerIds ids_{PeerOwner::kTopology};
  std::optional<membership::TimeMs> cleanup_due_ms_;
  uint64_t cleanup_ranges_dropped_ = 0;
  std::string waiting_for_;  // logged reason the join waits (for stats/status)
  std::vector<PeerRequest> peer_requests_;
  bool removal_marker_clear_pending_ = false;
  std::vector<std::string> notices_;
  ErrorCounter errors_{"topology"};
};

}  // namespace ringkv::core
