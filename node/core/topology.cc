#include "node/core/topology.h"

#include <algorithm>

#include "node/core/topology_plans.h"

namespace ringkv::core {
namespace {

// How long a leaver keeps telling the members it holds dead that it left.
constexpr membership::TimeMs kLeftTellsDeadMs = 20 * 1000;

}  // namespace

using membership::Liveness;
using membership::RingStatus;
using topology_detail::add_pulls;
using topology_detail::add_tasks;
using topology_detail::live;
using topology_detail::refuse;

std::string_view to_string(Phase phase) {
  switch (phase) {
    case Phase::kWaiting: return "waiting";
    case Phase::kJoining: return "joining";
    case Phase::kNormal: return "normal";
    case Phase::kLeaving: return "leaving";
    case Phase::kLeft: return "left";
  }
  return "unknown";
}

Topology::Topology(TopologyConfig config, ClusterView& view, ReplicaStore& store, membership::Swim& swim,
                   Now now)
    : config_(config), view_(view), store_(store), swim_(swim), streamer_(config.stream, view, store, PeerOwner::kTopologyStream) {
  auto state = store_.engine().meta_get(kRingStateMeta);
  const std::string remembered = state && *state ? **state : "";
  if (remembered == "left") {
    decommissioned_ = true;
    phase_ = Phase::kLeft;
  } else if (remembered == "normal" || swim_.self().ring_status == RingStatus::kNormal) {
    // A node killed while leaving comes back normal: its decommission is
    // abandoned (nothing was dropped) and can be run again.
    phase_ = Phase::kNormal;
    publish(RingStatus::kNormal, now);
    if (remembered != "normal") persist("normal");
  } else {
    phase_ = Phase::kWaiting;
    publish(RingStatus::kWaiting, now);
  }
  if (auto removing = store_.engine().meta_get(kRemovingMeta); removing && *removing && !(**removing).empty()) {
    resume_removal_hex_ = **removing;
  }
}

void Topology::publish(RingStatus status, Now now) {
  if (swim_.self().ring_status == status) return;
  swim_.set_ring_status(status, now.monotonic_ms);
  ring_status_changed_ = true;
}

void Topology::persist(std::string_view state) {
  // meta_put is fsynced: the state survives a crash right after.
  if (auto put = store_.engine().meta_put(kRingStateMeta, state); !put) {
    errors_.record("persisting ring state " + std::string(state), put.error());
  }
}

std::string Topology::change_in_progress(bool for_join, std::string_view except_id) const {
  for (const membership::Member& m : swim_.members()) {
    if (m.id == view_.self_id || m.id == except_id || m.liveness == Liveness::kLeft) continue;
    if (m.ring_status == RingStatus::kJoining) return m.name + " is joining";
    if (m.ring_status == RingStatus::kLeaving) return m.name + " is leaving";
    if (for_join && m.ring_status == RingStatus::kWaiting && live(m) && m.id < view_.self_id) {
      return m.name + " is waiting to join before this node";
    }
  }
  return "";
}

// ---------------------------------------------------------------------------
// Requests.

wire::Body Topology::handle_request(const wire::TopologyRequest& request, Now now) {
  switch (request.action) {
    case wire::TopologyAction::kDecommission:
      return decommission(now);
    case wire::TopologyAction::kRemoveNode:
      return removenode(request.node, now);
    case wire::TopologyAction::kCleanup:
      return cleanup(now);
    case wire::TopologyAction::kLeft:
      return member_left(request.node, now);
    case wire::TopologyAction::kRemoving:
      return member_removing(request.node, now);
  }
  return refuse("unknown topology action");
}

wire::Body Topology::decommission(Now now) {
  if (phase_ != Phase::kNormal) {
    return refuse("this node is " + std::string(to_string(phase_)) + ", not normal; nothing changed");
  }
  if (auto other = change_in_progress(false); !other.empty()) {
    return refuse("another topology change is in progress (" + other + "); nothing changed");
  }
  if (!streamer_.done()) {
    return refuse("this node is still pulling ranges from an earlier change; nothing changed");
  }
  const size_t remaining = view_.ring->node_count() - 1;
  if (remaining < config_.replicas) {
    return refuse("decommission would leave " + std::to_string(remaining) + " nodes for " +
                  std::to_string(config_.replicas) + " replicas per key; nothing changed");
  }
  for (const RingNode& node : view_.ring->nodes()) {
    if (!view_.is_up(node.id)) {
      return refuse(node.name + " is down: bring it back or removenode it first; nothing changed");
    }
  }
  phase_ = Phase::kLeaving;
  publish(RingStatus::kLeaving, now);
  start_confirm(now);
  notices_.push_back("decommission: leaving, waiting for every member to see it");
  return wire::TopologyReply{"decommissioning " + swim_.self().name +
                             ": streaming its ranges to their new owners"};
}

wire::Body Topology::cleanup(Now now) {
  if (phase_ != Phase::kNormal) {
    return refuse("this node is " + std::string(to_string(phase_)) + "; cleanup runs on a normal node");
  }
  if (view_.changing() || !streamer_.done()) {
    return refuse("a topology change is in progress: its old owners still serve; nothing dropped");
  }
  size_t dropped = 0;
  for (const PositionRange& range : unowned_ranges(*view_.ring, view_.self_id, config_.replicas)) {
    // Only ranges holding something: a range tombstone per empty range would
    // cost every later read for nothing.
    auto probe = store_.engine().scan(storage::ScanRange{range.begin, range.end, ""}, 1, 1);
    if (!probe) return wire::ErrorReply{wire::ErrorCode::kInternal, describe(probe.error())};
    if (probe->entries.empty()) continue;
    if (auto deleted = store_.engine().delete_range(range.begin, range.end); !deleted) {
      return wire::ErrorReply{wire::ErrorCode::kInternal, describe(deleted.error())};
    }
    ++dropped;
  }
  cleanup_due_ms_.reset();
  cleanup_ranges_dropped_ += dropped;
  (void)now;
  notices_.push_back("cleanup: dropped " + std::to_string(dropped) + " ranges this node no longer replicates");
  return wire::TopologyReply{"dropped " + std::to_string(dropped) + " ranges no longer replicated here"};
}

// ---------------------------------------------------------------------------
// Confirmation: every live member lists this node in its new ring status.

void Topology::start_confirm(Now now) {
  confirmed_.clear();
  members_elsewhere_.clear();
  members_live_elsewhere_.clear();
  streams_started_ = false;
  next_confirm_ms_ = now.monotonic_ms;
  confirm_started_ms_ = now.monotonic_ms;
}

void Topology::confirm_tick(Now now) {
  if (now.monotonic_ms < next_confirm_ms_) return;
  next_confirm_ms_ = now.monotonic_ms + config_.confirm_retry_ms;
  // Who must confirm: every live member this node knows, and every one that
  // a member answering us knows (this node's own table may still be filling
  // in by gossip: it must not miss a coordinator).
  std::map<std::string, std::string> everyone;
  for (const auto& [id, address] : members_elsewhere_) {
    // Known here: this node's verdict counts; unknown: it must confirm if
    // someone sees it live.
    if (!swim_.member(id) && members_live_elsewhere_.contains(id)) everyone[id] = address;
  }
  // A leaver also tells, for a while, the members it holds dead: one may be
  // alive behind a partition or a stale verdict, and a `left` that reaches
  // only the members this node holds alive can leave it in that member's
  // ring for good (cluster_sim leave seed 486). A member really dead by then
  // stops holding the leave back once the window is over.
  const bool tell_dead = phase_ == Phase::kLeft && now.monotonic_ms < confirm_started_ms_ + kLeftTellsDeadMs;
  for (const membership::Member& m : swim_.members()) {
    const bool dead_member = m.liveness == membership::Liveness::kDead;
    if (live(m) || (tell_dead && dead_member)) everyone[m.id] = m.address;
  }
  bool all = true;
  for (const auto& [id, address] : everyone) {
    if (id == view_.self_id || confirmed_[id]) continue;
    all = false;
    const bool asked = std::any_of(status_asked_.begin(), status_asked_.end(),
                                   [&](const auto& entry) { return entry.second == id; });
    if (asked) continue;
    const PeerRoute route = ids_.next();
    status_asked_.emplace(route.id, id);
    if (phase_ == Phase::kLeft) {
      peer_requests_.push_back(PeerRequest{
          route, address, wire::TopologyRequest{wire::TopologyAction::kLeft, membership::id_to_hex(view_.self_id)}});
    } else {
      peer_requests_.push_back(PeerRequest{route, address, wire::StatusRequest{}});
    }
  }
  if (!all) return;
  if (phase_ == Phase::kLeft) {
    leave_done_ = true;
    notices_.push_back("decommission: every member knows this node left");
  } else if (phase_ == Phase::kJoining) {
    notices_.push_back("join: every member sees this node joining; streaming its ranges");
    start_join_streams(now);
  } else {
    notices_.push_back("decommission: every member sees this node leaving; streaming its ranges");
    start_leave_streams(now);
  }
}

std::string Topology::unknown_member() const {
  for (const auto& [id, address] : members_elsewhere_) {
    if (!swim_.member(id) && view_.find(id) == nullptr) return address;
  }
  return "";
}

void Topology::on_status(const std::string& member_id, const wire::StatusReply& reply) {
  const std::string_view want = phase_ == Phase::kJoining ? "joining" : "leaving";
  for (const wire::MemberStatus& m : reply.members) {
    if (m.id == view_.self_id && m.ring_status == want) confirmed_[member_id] = true;
    // Dead members too: they stay in the ring, so this node must know them.
    if (m.id != view_.self_id && m.liveness != "left") members_elsewhere_[m.id] = m.address;
    if (m.id != view_.self_id && (m.liveness == "alive" || m.liveness == "suspect")) {
      members_live_elsewhere_.insert(m.id);
    }
  }
}

// ---------------------------------------------------------------------------
// Streams.

std::vector<StreamTask> Topology::join_plan() const {
  std::vector<StreamTask> tasks;
  for (const RangeMove& move : range_moves(*view_.ring, *view_.future_ring, config_.replicas)) {
    if (std::find(move.to.begin(), move.to.end(), view_.self_id) == move.to.end()) continue;
    std::vector<std::string> sources;
    for (const std::string& id : move.from) {
      if (id != view_.self_id) sources.push_back(id);
    }
    add_pulls(tasks, move, sources, config_.replicas, true);
  }
  return tasks;
}

void Topology::start_join_streams(Now now) {
  std::vector<StreamTask> tasks = join_plan();
  streams_started_ = true;
  planned_ = tasks;
  planned_ring_ = view_.ring;
  planned_future_ = view_.future_ring;
  notices_.push_back("join: pulling " + std::to_string(tasks.size()) + " ranges");
  streamer_.add(std::move(tasks), now);
}

bool Topology::replan_join_if_ring_changed(Now now) {
  if (view_.ring == planned_ring_ && view_.future_ring == planned_future_) return false;
  planned_ring_ = view_.ring;
  planned_future_ = view_.future_ring;
  std::vector<StreamTask> tasks = join_plan();
  auto same = [](const StreamTask& a, const StreamTask& b) {
    return a.range == b.range && a.peers == b.peers && a.sources_needed == b.sources_needed;
  };
  if (tasks.size() == planned_.size() && std::equal(tasks.begin(), tasks.end(), planned_.begin(), same)) {
    return false;
  }
  // A change that overlapped ours moved ranges, or a source of the old plan
  // left or was removed: a pull that waits for it would never finish (and
  // hold every later change off).
  notices_.push_back("join: the ring changed while streaming; pulling the new plan (" +
                     std::to_string(tasks.size()) + " ranges)");
  streamer_.clear();
  planned_ = tasks;
  streamer_.add(std::move(tasks), now);
  return true;
}

void Topology::finish_join(Now now) {
  // An owner coordinates: its own member table must hold everyone its peers
  // know alive before it serves (gossip fills it in).
  if (const std::string missing = unknown_member(); !missing.empty()) {
    if (missing != waiting_for_) notices_.push_back("join: waiting for membership to learn of " + missing);
    waiting_for_ = missing;
    return;
  }
  if (!store_.engine().flush_wal()) return;  // retried on the next tick
  persist("normal");
  phase_ = Phase::kNormal;
  publish(RingStatus::kNormal, now);
  const StreamStats& stats = streamer_.stats();
  notices_.push_back("join: complete, normal (" + std::to_string(stats.keys_received) + " keys, " +
                     std::to_string(stats.bytes_received) + " bytes at " +
                     std::to_string(streamer_.rate_bytes_per_s(now)) + " B/s)");
}

void Topology::start_leave_streams(Now now) {
  std::vector<StreamTask> tasks;
  for (const RangeMove& move : range_moves(*view_.ring, *view_.future_ring, config_.replicas)) {
    if (std::find(move.from.begin(), move.from.end(), view_.self_id) == move.from.end()) continue;
    for (const std::string& target : move.to) {
      add_tasks(tasks, StreamTask::Kind::kPush, move.range, {target});
    }
  }
  streams_started_ = true;
  planned_future_ = view_.future_ring;
  notices_.push_back("decommission: pushing " + std::to_string(tasks.size()) + " ranges");
  streamer_.add(std::move(tasks), now);
}

void Topology::hand_over_hints(Now now) {
  if (!hints_in_flight_.empty()) return;
  // The first live normal member other than this node takes hints whose
  // target is down; a target that is up gets its hints as data.
  const RingNode* heir = nullptr;
  for (const RingNode& node : view_.future_ring->nodes()) {
    if (node.id != view_.self_id && view_.is_up(node.id)) {
      heir = &node;
      break;
    }
  }
  bool any = false;
  // A copy: dropping a target's last hint erases its entry.
  const auto counts = store_.hint_counts();
  for (const auto& [target, count] : counts) {
    if (count == 0) continue;
    auto hints = store_.hints_for(target, 256, 0);
    if (!hints) {
      errors_.record("reading the hints for " + target + " to hand them over", hints.error());
      any = true;  // not done: the next tick reads them again
      continue;
    }
    const RingNode* owner = view_.find(target);
    for (storage::Hint& hint : *hints) {
      any = true;
      if (owner == nullptr) {  // the target left the ring: nobody needs it
        if (auto dropped = store_.drop_hint(hint); !dropped) {
          errors_.record("deleting a hint for departed " + target, dropped.error());
        }
        continue;
      }
      const bool direct = view_.is_up(target);
      if (!direct && heir == nullptr) continue;
      const PeerRoute route = ids_.next();
      peer_requests_.push_back(PeerRequest{
          route, direct ? owner->address : heir->address,
          wire::ReplicaWriteRequest{hint.user_key, to_wire(hint.record), direct ? "" : target}});
      hints_in_flight_.emplace(route.id, std::move(hint));
    }
  }
  if (any) return;
  // Every hint is handed over: leave.
  persist("left");
  phase_ = Phase::kLeft;
  swim_.leave(now.monotonic_ms);
  start_confirm(now);
  leave_deadline_ms_ = now.monotonic_ms + 30 * 1000;
  const StreamStats& stats = streamer_.stats();
  notices_.push_back("decommission: streamed " + std::to_string(stats.keys_sent) + " keys, " +
                     std::to_string(stats.bytes_sent) + " bytes at " +
                     std::to_string(streamer_.rate_bytes_per_s(now)) + " B/s, handed over " +
                     std::to_string(hints_handed_over_) + " hints; left");
}

// ---------------------------------------------------------------------------
// Inputs.

void Topology::on_membership(const std::vector<membership::Event>& events, const Ring& ring_before,
                             Now now) {
  bool ring_changed = false;
  for (const membership::Event& event : events) {
    const membership::Member& m = event.member;
    if (m.id == view_.self_id) continue;
    ring_changed = ring_changed || event.kind == membership::EventKind::kLeft ||
                   event.kind == membership::EventKind::kUpdated || event.kind == membership::EventKind::kJoined;
    // A member removed while it still owned ranges (removenode; a
    // decommissioned node was `leaving` and pushed its ranges itself): the
    // ranges this node gains come from the surviving replicas.
    if (event.kind != membership::EventKind::kLeft || m.ring_status != RingStatus::kNormal) continue;
    const bool pulled = removal_pulled_.contains(m.id);
    if (removing_.erase(m.id) > 0) ring_status_changed_ = true;
    removing_heard_ms_.erase(m.id);
    removal_pulled_.erase(m.id);
    removal_to_plan_.erase(m.id);
    if (phase_ != Phase::kNormal || ring_before.find(m.id) == nullptr) continue;
    repair_wanted_ = true;
    if (pulled) continue;
    std::vector<StreamTask> tasks;
    for (const RangeMove& move : range_moves(ring_before, *view_.ring, config_.replicas)) {
      if (std::find(move.to.begin(), move.to.end(), view_.self_id) == move.to.end()) continue;
      std::vector<std::string> sources;
      for (const std::string& id : move.from) {
        if (id != m.id && id != view_.self_id) sources.push_back(id);
      }
      add_pulls(tasks, move, sources, config_.replicas, false);
    }
    if (!tasks.empty()) {
      notices_.push_back(m.name + " was removed: pulling " + std::to_string(tasks.size()) +
                         " ranges this node now replicates");
      streamer_.add(std::move(tasks), now);
    }
  }
  if (ring_changed && config_.cleanup_grace_ms > 0 && phase_ == Phase::kNormal) {
    cleanup_due_ms_ = now.monotonic_ms + config_.cleanup_grace_ms;
  }
}

void Topology::tick(Now now) {
  switch (phase_) {
    case Phase::kWaiting: {
      if (!swim_.joined() || view_.ring->node_count() == 0) break;
      const std::string other = change_in_progress(true);
      if (!other.empty()) {
        if (other != waiting_for_) notices_.push_back("join: waiting, " + other);
        waiting_for_ = other;
        break;
      }
      waiting_for_.clear();
      phase_ = Phase::kJoining;
      publish(RingStatus::kJoining, now);
      start_confirm(now);
      notices_.push_back("join: joining, waiting for every member to see it");
      break;
    }
    case Phase::kJoining:
    case Phase::kLeaving:
      if (phase_ == Phase::kLeaving && streams_started_ && !streamer_.done()) {
        // A new owner went down mid-decommission: abandon it (this node stays
        // an owner, nothing was dropped) rather than wait; run it again later.
        for (const RingNode& node : view_.future_ring->nodes()) {
          if (view_.is_up(node.id)) continue;
          streamer_.clear();
          phase_ = Phase::kNormal;
          publish(RingStatus::kNormal, now);
          notices_.push_back("decommission: aborted, " + node.name + " went down; this node stays normal");
          break;
        }
        if (phase_ == Phase::kNormal) break;
        if (view_.future_ring != planned_future_) {
          // Another change overlapped (a joiner came or went): push to the
          // owners of the ring as it is now.
          streamer_.clear();
          notices_.push_back("decommission: the ring changed; re-planning");
          start_leave_streams(now);
          break;
        }
      }
      // A join's plan follows the rings (it is final only once `normal`).
      if (phase_ == Phase::kJoining && streams_started_ && replan_join_if_ring_changed(now)) break;
      if (!streams_started_) {
        confirm_tick(now);
      } else if (streamer_.done()) {
        if (phase_ == Phase::kJoining) {
          finish_join(now);
        } else {
          hand_over_hints(now);
        }
      }
      break;
    case Phase::kNormal:
      removal_tick(now);
      if (cleanup_due_ms_ && now.monotonic_ms >= *cleanup_due_ms_) {
        if (!view_.changing() && streamer_.done()) {
          const wire::Body done = cleanup(now);
          if (const auto* error = std::get_if<wire::ErrorReply>(&done)) {
            errors_.record("automatic cleanup", error->message);
            cleanup_due_ms_ = now.monotonic_ms + config_.cleanup_grace_ms;
          }
        } else {
          cleanup_due_ms_ = now.monotonic_ms + config_.cleanup_grace_ms;
        }
      }
      break;
    case Phase::kLeft:
      if (decommissioned_ || leave_done_) break;
      confirm_tick(now);
      if (!leave_done_ && now.monotonic_ms >= leave_deadline_ms_) {
        leave_done_ = true;
        notices_.push_back("decommission: not every member confirmed the departure; stopping anyway");
      }
      break;
  }
  streamer_.tick(now);
}

bool Topology::handle_reply(uint64_t id, const std::expected<wire::Message, std::string>& reply, Now) {
  if (auto it = status_asked_.find(id); it != status_asked_.end()) {
    const std::string member = it->second;
    status_asked_.erase(it);
    if (const auto* status = reply ? std::get_if<wire::StatusReply>(&reply->body) : nullptr) {
      on_status(member, *status);
    } else if (reply && std::holds_alternative<wire::TopologyReply>(reply->body)) {
      confirmed_[member] = true;  // told that this node left
    }
    return true;
  }
  if (auto it = removal_asked_.find(id); it != removal_asked_.end()) {
    const std::string member = it->second;
    removal_asked_.erase(it);
    const auto* answer = reply ? std::get_if<wire::TopologyReply>(&reply->body) : nullptr;
    if (answer != nullptr && (removal_announcing_ || answer->message == "done")) removal_done_[member] = true;
    return true;
  }
  if (auto it = hints_in_flight_.find(id); it != hints_in_flight_.end()) {
    storage::Hint hint = std::move(it->second);
    hints_in_flight_.erase(it);
    if (reply && std::holds_alternative<wire::ReplicaWriteReply>(reply->body)) {
      if (auto dropped = store_.drop_hint(hint); dropped) {
        ++hints_handed_over_;
      } else {
        errors_.record("deleting a hint handed over for " + hint.target, dropped.error());
      }
    }
    return true;
  }
  return false;
}

std::vector<PeerRequest> Topology::take_peer_requests() {
  for (PeerRequest& request : streamer_.take_peer_requests()) peer_requests_.push_back(std::move(request));
  return std::exchange(peer_requests_, {});
}

void Topology::add_stats(std::vector<std::pair<std::string, uint64_t>>& values, Now now) const {
  const StreamStats& s = streamer_.stats();
  values.emplace_back("ring_state", static_cast<uint64_t>(phase_));
  values.emplace_back("stream_ranges_total", s.tasks_total);
  values.emplace_back("stream_ranges_done", s.tasks_done);
  values.emplace_back("stream_keys_received", s.keys_received);
  values.emplace_back("stream_bytes_received", s.bytes_received);
  values.emplace_back("stream_keys_sent", s.keys_sent);
  values.emplace_back("stream_bytes_sent", s.bytes_sent);
  values.emplace_back("stream_rate_bytes_per_s", streamer_.rate_bytes_per_s(now));
  values.emplace_back("stream_failed_batches", s.failed_batches);
  values.emplace_back("hints_handed_over", hints_handed_over_);
  values.emplace_back("cleanup_ranges_dropped", cleanup_ranges_dropped_);
  values.emplace_back("topology_storage_errors", errors_.count());
}

}  // namespace ringkv::core
