// Topology: removenode (the operator's steps and every member's part).
#include "node/core/topology.h"

#include <algorithm>

#include "node/core/topology_plans.h"

namespace ringkv::core {
namespace {

// A member being removed whose operator has been silent this long is
// removed by this node instead.
constexpr membership::TimeMs kRemovalTakeoverMs = 20 * 1000;
// How long a removal waits for members held dead to come back and pull what
// they gain. Bounded so that two nodes dead for good can both be removed, one
// after the other.
constexpr membership::TimeMs kDeadMemberWaitMs = 10 * 60 * 1000;

}  // namespace

using membership::Liveness;
using membership::RingStatus;
using topology_detail::add_pulls;
using topology_detail::live;
using topology_detail::refuse;

wire::Body Topology::removenode(const std::string& node, Now now) {
  if (phase_ != Phase::kNormal) {
    return refuse("this node is " + std::string(to_string(phase_)) + "; run removenode on a normal node");
  }
  std::optional<membership::Member> target;
  for (const membership::Member& m : swim_.members()) {
    if (m.name == node || membership::id_to_hex(m.id) == node) target = m;
  }
  if (!target) return refuse("no member named " + node + "; nothing changed");
  if (target->id == view_.self_id) return refuse("a node cannot remove itself: use decommission");
  if (target->liveness == Liveness::kLeft) return refuse(node + " has already left the ring");
  if (live(*target)) {
    return refuse(node + " is " + std::string(membership::to_string(target->liveness)) +
                  ": removenode is for a dead node; decommission a live one");
  }
  // Removing a joining or leaving node that died is how its change ends.
  if (auto other = change_in_progress(false, target->id); !other.empty()) {
    return refuse("another topology change is in progress (" + other + "); nothing changed");
  }
  if (!removal_target_.empty()) return refuse("this node is already removing another member");
  drive_removal(target->id, now);
  // Persisted: an operator restarted mid-removal carries on.
  removal_marker_clear_pending_ = false;  // this marker replaces the one to clear
  if (auto put = store_.engine().meta_put(kRemovingMeta, membership::id_to_hex(target->id)); !put) {
    errors_.record("removenode: persisting the removal of " + node, put.error());
  }
  (void)member_removing(membership::id_to_hex(target->id), now);
  notices_.push_back("removenode: removing " + node + "; its new owners pull its ranges");
  return wire::TopologyReply{"removing " + node + ": its new owners pull its ranges from the other replicas"};
}

wire::Body Topology::member_removing(const std::string& node, Now now) {
  for (const membership::Member& m : swim_.members()) {
    if (membership::id_to_hex(m.id) != node || m.id == view_.self_id) continue;
    if (m.liveness == Liveness::kLeft) return wire::TopologyReply{"done"};
    if (live(m)) return refuse(m.name + " is " + std::string(membership::to_string(m.liveness)) + " here");
    if (removing_.insert(m.id).second) {
      ring_status_changed_ = true;  // the future ring loses it
      removal_to_plan_.insert(m.id);
    }
    removing_heard_ms_[m.id] = now.monotonic_ms;
    // A node not yet in the ring replicates nothing now: it gains nothing to
    // pull (a joiner's plan follows the rings until it is normal). Without this
    // a joiner waiting behind the removed node's decommission never said
    // "done" and the removal never completed (cluster_sim mixed seed 703).
    if (phase_ == Phase::kWaiting || phase_ == Phase::kJoining) return wire::TopologyReply{"done"};
    const bool done = removal_pulled_.contains(m.id) && streamer_.done();
    return wire::TopologyReply{done ? "done" : "pulling"};
  }
  return refuse("no member with id " + node);
}

void Topology::start_removal_pulls(const std::string& id, Now now) {
  removal_pulled_.insert(id);
  std::vector<StreamTask> tasks;
  for (const RangeMove& move : range_moves(*view_.ring, *view_.future_ring, config_.replicas)) {
    if (std::find(move.to.begin(), move.to.end(), view_.self_id) == move.to.end()) continue;
    std::vector<std::string> sources;
    for (const std::string& source : move.from) {
      if (source != id && source != view_.self_id) sources.push_back(source);
    }
    add_pulls(tasks, move, sources, config_.replicas, false);
  }
  if (tasks.empty()) return;
  notices_.push_back("removenode: pulling " + std::to_string(tasks.size()) + " ranges this node gains");
  streamer_.add(std::move(tasks), now);
}

void Topology::drive_removal(const std::string& id, Now now) {
  removal_target_ = id;
  removal_announcing_ = false;
  removal_done_.clear();
  removal_gave_up_on_.clear();
  removal_deadline_ms_ = now.monotonic_ms + kDeadMemberWaitMs;
  next_removal_ms_ = now.monotonic_ms;
}

void Topology::clear_removal_marker() {
  removal_marker_clear_pending_ = true;
  retry_removal_marker_clear();
}

void Topology::retry_removal_marker_clear() {
  if (!removal_marker_clear_pending_) return;
  if (auto put = store_.engine().meta_put(kRemovingMeta, ""); !put) {
    errors_.record("removenode: clearing the removal marker (retried)", put.error());
    return;
  }
  removal_marker_clear_pending_ = false;
}

void Topology::removal_tick(Now now) {
  retry_removal_marker_clear();
  if (!resume_removal_hex_.empty()) {
    // This node was the operator of a removal when it stopped: carry on once
    // membership knows the member again.
    for (const membership::Member& m : swim_.members()) {
      if (membership::id_to_hex(m.id) != resume_removal_hex_) continue;
      if (m.liveness == Liveness::kLeft || live(m)) {
        clear_removal_marker();  // done, or it came back
      } else {
        drive_removal(m.id, now);
        (void)member_removing(resume_removal_hex_, now);
        notices_.push_back("removenode: resuming the removal of " + m.name);
      }
      resume_removal_hex_.clear();
      break;
    }
  }
  for (const std::string& id : std::exchange(removal_to_plan_, {})) start_removal_pulls(id, now);
  // An operator that stopped mid-removal leaves its members waiting: one
  // that has not heard from it for a while drives the removal itself (two
  // doing so at once is harmless: every step is idempotent).
  for (const auto& [id, heard_ms] : removing_heard_ms_) {
    if (!removal_target_.empty() || !removing_.contains(id)) break;
    if (now.monotonic_ms - heard_ms < kRemovalTakeoverMs) continue;
    drive_removal(id, now);
    notices_.push_back("removenode: its operator went quiet; this node completes the removal");
  }
  if (removal_target_.empty() || now.monotonic_ms < next_removal_ms_) return;
  next_removal_ms_ = now.monotonic_ms + config_.confirm_retry_ms;
  const std::string target_hex = membership::id_to_hex(removal_target_);
  if (!removal_announcing_) {
    // Another operator (or a takeover) already declared it left: this
    // node's pulls were dropped with the removal (on_membership), so it
    // would wait for its own "done" forever (cluster_sim remove seed 34).
    const auto target = swim_.member(removal_target_);
    if (!target || target->liveness == Liveness::kLeft) {
      notices_.push_back("removenode: " + (target ? target->name : target_hex) +
                         " has left (another member completed its removal)");
      removal_target_.clear();
      removal_asked_.clear();
      clear_removal_marker();
      return;
    }
  }
  bool all = true;
  for (const membership::Member& m : swim_.members()) {
    // Announcing, members held dead are told too (until the deadline): one
    // may be alive behind a stale verdict, and would otherwise keep the
    // removed node in its ring for good (cluster_sim mixed seed 356).
    // Pulling, a member held dead is waited for too (for kDeadMemberWaitMs):
    // it may gain ranges, and declaring the node left before it pulled them
    // would make it a natural replica of ranges it lacks (cluster_sim long-any
    // seed 100042 with hint replay paused after every failed delivery: a
    // QUORUM read missed a write).
    const bool waited_for = removal_announcing_ || now.monotonic_ms < removal_deadline_ms_;
    const bool tell = live(m) || (waited_for && m.liveness == Liveness::kDead);
    if (!tell && !removal_announcing_ && m.liveness == Liveness::kDead && !removal_done_[m.id] &&
        removal_gave_up_on_.insert(m.id).second) {
      notices_.push_back("removenode: " + m.name + " stayed dead " + std::to_string(kDeadMemberWaitMs / 60000) +
                         " min without pulling what it gains; going on without it (anti-entropy mends it "
                         "if it comes back; removenode it if it is gone for good)");
    }
    if (m.id == removal_target_ || !tell) continue;
    if (m.id == view_.self_id) {
      removal_done_[m.id] = removal_announcing_ || (removal_pulled_.contains(removal_target_) && streamer_.done());
    }
    if (removal_done_[m.id]) continue;
    all = false;
    const bool asked = std::any_of(removal_asked_.begin(), removal_asked_.end(),
                                   [&](const auto& entry) { return entry.second == m.id; });
    if (asked) continue;
    const PeerRoute route = ids_.next();
    removal_asked_.emplace(route.id, m.id);
    const auto action = removal_announcing_ ? wire::TopologyAction::kLeft : wire::TopologyAction::kRemoving;
    peer_requests_.push_back(PeerRequest{route, m.address, wire::TopologyRequest{action, target_hex}});
  }
  if (removal_announcing_ && (all || now.monotonic_ms >= removal_deadline_ms_)) {
    notices_.push_back(all ? "removenode: every member knows the node left"
                           : "removenode: not every member confirmed the removal; gossip carries it");
    removal_target_.clear();
    clear_removal_marker();
    return;
  }
  if (!all) return;
  // Every live member pulled what it gains: the member leaves the ring.
  swim_.declare_left(removal_target_, now.monotonic_ms);
  removal_announcing_ = true;
  removal_deadline_ms_ = now.monotonic_ms + 30 * 1000;
  removal_done_.clear();
  next_removal_ms_ = now.monotonic_ms;
  notices_.push_back("removenode: every member pulled its ranges; declared left");
}

wire::Body Topology::member_left(const std::string& node, Now now) {
  for (const membership::Member& m : swim_.members()) {
    if (membership::id_to_hex(m.id) != node || m.id == view_.self_id) continue;
    if (m.liveness == Liveness::kLeft) return wire::TopologyReply{"already left"};
    if (m.ring_status != RingStatus::kLeaving && !removing_.contains(m.id)) {
      return refuse(m.name + " is neither leaving nor being removed");
    }
    swim_.declare_left(m.id, now.monotonic_ms);
    return wire::TopologyReply{"left"};
  }
  return refuse("no member with id " + node);
}

}  // namespace ringkv::core
