// Topology: this node's part in changing the ring (DESIGN.md "Join, leave,
// removal"), as a state machine.
//
// Lifecycle of the node's ring status (persisted in meta as `ring_state`):
//   waiting   a new node that will join; it waits while its view shows another
//             member joining or leaving, or a live waiting member with a lower
//             id (one topology change at a time), then gossips `joining`;
//   joining   it asks every live member for its status until all of them list
//             it as joining (so every coordinator sends it the writes of its
//             pending ranges), then pulls each range it will own from a current
//             replica (Streamer), re-plans against the rings of that moment, and
//             only when every range is complete persists `normal` and gossips it.
//             Killed while joining, it starts over from waiting (streams are
//             idempotent: last write wins);
//   normal    owns its ranges. `kv decommission` (TopologyRequest) makes it
//   leaving   which it confirms like joining, then pushes every range it holds
//             to its new owners, hands its hints over (to their target when up,
//             else as hints to another live node), persists `left`, gossips
//             `left` and reports finished() so the process exits. A node that
//             remembers `left` refuses to start (decommissioned()).
// removenode (any normal node): declares a dead member left; then every node
// that gained ranges from the removal pulls them from the surviving replicas
// (on_membership). Cleanup drops data of ranges this node no longer replicates
// (RocksDB DeleteRange), on request or automatically `cleanup_grace_ms` after
// a change completed. Refused with a reason, changing nothing: a change while
// another is in progress, decommission leaving fewer than N nodes or with a
// member down, removenode of a live, unknown or already removed node, cleanup
// during a change.
//
// Pure state machine: inputs are requests, membership events, replies and
// ticks with the current time (the owner ticks it at least every few hundred
// ms: that paces confirmations, retries and cleanup); outputs are PeerRequests (tokens with kTokenBit
// set) and ring status changes through Swim. Single-threaded.
#pragma once

#include <cstdint>
#include <expected>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "membership/swim.h"
#include "node/core/cluster_view.h"
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

class Topology {
 public:
  static constexpr uint64_t kTokenBit = 1ull << 61;

  // Reads the persisted ring state; a node that remembers `normal` publishes
  // it, one without a state keeps the ring status it was created with
  // (normal for a founder, waiting for a node that joins).
  Topology(TopologyConfig config, ClusterView& view, ReplicaStore& store, membership::Swim& swim, Now now);

  Phase phase() const { return phase_; }
  // The node was decommissioned: it must not start (its data is stale).
  bool decommissioned() const { return decommissioned_; }
  // The decommission completed and `left` was gossiped: stop the process.
  bool finished() const { return phase_ == Phase::kLeft && swim_.leave_complete(); }

  wire::Body handle_request(const wire::TopologyRequest& request, Now now);
  // Called with the membership events just applied and the current ring
  // before them (removals start their pulls here).
  void on_membership(const std::vector<membership::Event>& events, const Ring& ring_before, Now now);
  void tick(Now now);
  void handle_reply(uint64_t token, const std::expected<wire::Message, std::string>& reply, Now now);
  std::vector<PeerRequest> take_peer_requests();

  // True once after this node's own ring status changed (the ring needs a rebuild).
  bool take_ring_status_changed() { return std::exchange(ring_status_changed_, false); }

  void add_stats(std::vector<std::pair<std::string, uint64_t>>& values, Now now) const;
  // One line per step of a change (for the node's log), drained by the caller.
  std::vector<std::string> take_notices() { return std::exchange(notices_, {}); }

 private:
  // Another member (not `except_id`) joining or leaving, or for a join also a
  // live member waiting ahead of this one: the reason, or "".
  std::string change_in_progress(bool for_join, std::string_view except_id = {}) const;
  void publish(membership::RingStatus status, Now now);
  void start_confirm(Now now);
  void confirm_tick(Now now);
  void on_status(const std::string& member_id, const wire::StatusReply& reply);
  // The ranges this node gains from the current ring to the future one, each
  // from its current replicas.
  std::vector<StreamTask> join_plan() const;
  void start_join_streams(Now now);
  void start_leave_streams(Now now);
  void finish_join(Now now);
  void hand_over_hints(Now now);
  wire::Body decommission(Now now);
  wire::Body removenode(const std::string& node, Now now);
  wire::Body cleanup(Now now);
  uint64_t token();
  void persist(std::string_view state);

  TopologyConfig config_;
  ClusterView& view_;
  ReplicaStore& store_;
  membership::Swim& swim_;
  Streamer streamer_;
  Phase phase_ = Phase::kWaiting;
  bool decommissioned_ = false;
  bool ring_status_changed_ = false;
  // Confirmation: member id -> confirmed; a member asked but not answered has
  // a token in asked_.
  std::map<std::string, bool> confirmed_;
  membership::TimeMs next_confirm_ms_ = 0;
  bool streams_started_ = false;
  std::vector<StreamTask> planned_;  // the join's tasks, to detect a re-plan
  // Hints handed over: token -> hint.
  std::map<uint64_t, storage::Hint> hints_in_flight_;
  uint64_t hints_handed_over_ = 0;
  std::map<uint64_t, std::string> status_tokens_;  // token -> member id
  uint64_t next_token_ = 1;
  std::optional<membership::TimeMs> cleanup_due_ms_;
  uint64_t cleanup_ranges_dropped_ = 0;
  std::string waiting_for_;  // logged reason the join waits (for stats/status)
  std::vector<PeerRequest> peer_requests_;
  std::vector<std::string> notices_;
};

}  // namespace ringkv::core
