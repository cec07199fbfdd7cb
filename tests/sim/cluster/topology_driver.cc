#include "tests/sim/cluster/topology_driver.h"

#include <algorithm>
#include <cstdio>

namespace ringkv::cluster_sim {
namespace {

// How often the driver looks at the cluster (and re-sends refused requests).
constexpr SimTimeUs kStepMinUs = 300 * kUsPerMs;
constexpr SimTimeUs kStepMaxUs = 1000 * kUsPerMs;
// A mid-stream crash strikes this soon after the stream request it follows, and the victim
// restarts after a while in this range.
constexpr SimTimeUs kStreamCrashDelayMaxUs = 3 * kUsPerMs;
constexpr SimTimeUs kStreamCrashDownMinUs = 300 * kUsPerMs;
constexpr SimTimeUs kStreamCrashDownMaxUs = 5 * kUsPerS;
constexpr uint64_t kStreamCrashWithin = 60;  // the k-th stream request, k in 1..this

const char* reply_text(const Reply& reply) {
  static thread_local std::string text;
  if (!reply) {
    text = "connection failed: " + reply.error();
  } else if (const auto* error = std::get_if<wire::ErrorReply>(&reply->body)) {
    text = "refused: " + error->message;
  } else if (const auto* ok = std::get_if<wire::TopologyReply>(&reply->body)) {
    text = "accepted: " + ok->message;
  } else {
    text = "unexpected reply type " + std::to_string(static_cast<int>(wire::type_of(reply->body)));
  }
  return text.c_str();
}

bool accepted(const Reply& reply) {
  return reply && std::holds_alternative<wire::TopologyReply>(reply->body);
}

}  // namespace

std::optional<TopologyMode> parse_topology_mode(std::string_view text) {
  if (text == "none") return TopologyMode::kNone;
  if (text == "join") return TopologyMode::kJoin;
  if (text == "leave") return TopologyMode::kLeave;
  if (text == "remove") return TopologyMode::kRemove;
  if (text == "mixed") return TopologyMode::kMixed;
  if (text == "any") return TopologyMode::kAny;
  if (text == "join-dies") return TopologyMode::kJoinDies;
  return std::nullopt;
}

std::string_view topology_mode_name(TopologyMode mode) {
  switch (mode) {
    case TopologyMode::kNone:
      return "none";
    case TopologyMode::kJoin:
      return "join";
    case TopologyMode::kLeave:
      return "leave";
    case TopologyMode::kRemove:
      return "remove";
    case TopologyMode::kMixed:
      return "mixed";
    case TopologyMode::kAny:
      return "any";
    case TopologyMode::kJoinDies:
      return "join-dies";
  }
  return "?";
}

std::string TopologyPlan::describe() const {
  auto at = [](SimTimeUs us) {
    char text[32];
    std::snprintf(text, sizeof(text), " at +%.1f s", static_cast<double>(us) / kUsPerS);
    return std::string(text);
  };
  std::string text = "topology " + std::string(topology_mode_name(mode)) + ":";
  if (joiner >= 0) text += " join n" + std::to_string(joiner) + at(join_at_us) + ";";
  if (joiner_dies) text += " the joiner dies mid-join and is removed;";
  if (leaver >= 0) text += " decommission n" + std::to_string(leaver) + at(leave_at_us) + ";";
  if (removed >= 0) text += " removenode n" + std::to_string(removed) + at(remove_at_us) + ";";
  for (size_t i = 0; i < stream_crash_at.size(); ++i) {
    text += std::string(" crash the ") + (stream_crash_server[i] ? "server" : "requester") +
            " of stream request #" + std::to_string(stream_crash_at[i]) + ";";
  }
  text += " stream batches " + std::to_string(stream_batch_bytes) + " B";
  return text;
}

TopologyPlan draw_topology_plan(TopologyMode mode, int founders, int duration_s,
                                SimRandom& random) {
  TopologyPlan plan;
  plan.founders = founders;
  if (mode == TopologyMode::kNone) return plan;
  if (mode == TopologyMode::kAny) {
    static constexpr TopologyMode kModes[] = {TopologyMode::kJoin, TopologyMode::kLeave,
                                              TopologyMode::kRemove, TopologyMode::kMixed};
    mode = kModes[random.below(4)];
  }
  plan.mode = mode;
  bool join = mode == TopologyMode::kJoin || mode == TopologyMode::kJoinDies;
  plan.joiner_dies = mode == TopologyMode::kJoinDies;
  bool leave = mode == TopologyMode::kLeave;
  bool remove = mode == TopologyMode::kRemove;
  if (mode == TopologyMode::kMixed) {
    // Two or three changes: join+leave, join+remove, leave+remove, all three.
    const uint64_t pick = random.below(4);
    join = pick != 2;
    leave = pick != 1;
    remove = pick != 0;
  }
  // The final ring keeps at least N = 3 nodes (a decommission refuses to leave fewer).
  auto needed = [&] { return std::max(3, 3 + leave + remove - join); };
  if (founders == 0) {
    founders = needed() + static_cast<int>(random.below(static_cast<uint64_t>(7 - needed())));
  }
  // Founders given explicitly: drop what does not fit (removal first).
  if (founders < needed() && remove) remove = false;
  if (founders < needed() && leave) leave = false;
  plan.founders = founders;
  const SimTimeUs duration_us = static_cast<SimTimeUs>(duration_s) * kUsPerS;
  auto when = [&](double from, double to) {
    return random.between(static_cast<SimTimeUs>(from * duration_us),
                          static_cast<SimTimeUs>(to * duration_us));
  };
  if (join) {
    plan.joiner = founders;
    plan.join_at_us = when(0.05, 0.5);
  }
  if (leave) {
    plan.leaver = static_cast<int>(random.below(founders));
    plan.leave_at_us = when(0.05, 0.6);
  }
  if (remove) {
    do {
      plan.removed = static_cast<int>(random.below(founders));
    } while (plan.removed == plan.leaver);
    plan.remove_at_us = when(0.05, 0.6);
  }
  const uint64_t crashes = random.below(3);
  for (uint64_t i = 0; i < crashes; ++i) {
    plan.stream_crash_at.push_back(1 + random.below(kStreamCrashWithin));
    plan.stream_crash_server.push_back(random.chance(0.5));
  }
  // Sort the crash points (carrying their sides along).
  std::vector<std::pair<uint64_t, bool>> points;
  for (size_t i = 0; i < plan.stream_crash_at.size(); ++i) {
    points.emplace_back(plan.stream_crash_at[i], plan.stream_crash_server[i]);
  }
  std::sort(points.begin(), points.end());
  for (size_t i = 0; i < points.size(); ++i) {
    plan.stream_crash_at[i] = points[i].first;
    plan.stream_crash_server[i] = points[i].second;
  }
  static constexpr uint32_t kBatchBytes[] = {300, 2048, 1024 * 1024};
  plan.stream_batch_bytes = kBatchBytes[random.below(3)];
  return plan;
}

TopologyDriver::TopologyDriver(World& world, Cluster& cluster, TopologyPlan plan, bool verbose)
    : world_(world), cluster_(cluster), plan_(std::move(plan)), verbose_(verbose) {
  if (plan_.joiner >= 0) cluster_.set_role(plan_.joiner, Role::kAbsent);
  cluster_.on_stream_request = [this](int requester, int server) {
    on_stream_request(requester, server);
  };
  cluster_.on_finished = [this](int index) {
    ++counters_.decommissions_finished;
    if (index != plan_.leaver) trace(node_name(index) + " left, unplanned");
  };
  cluster_.on_refused = [this](int index) {
    // It persisted `left`: its decommission finished on its disk. If the others did not all
    // hear so before it stopped, the operator removes it.
    ++counters_.refused_starts;
    to_remove_.insert(index);
  };
}

void TopologyDriver::trace(const std::string& line) const {
  if (!verbose_) return;
  std::printf("  [%9.3f s] topology: %s\n", static_cast<double>(world_.now_us()) / kUsPerS,
              line.c_str());
}

void TopologyDriver::start() {
  running_ = true;
  started_us_ = world_.now_us();
  trace(plan_.describe());
  world_.after(world_.random().between(kStepMinUs, kStepMaxUs), [this] { step(); });
}

void TopologyDriver::heal() {
  healed_ = true;
  for (int index : crashed_by_driver_) {
    if (!cluster_.node(index).up() && cluster_.role(index) == Role::kMember) {
      trace("restart n" + std::to_string(index) + " (heal)");
      cluster_.start(index);
    }
  }
  crashed_by_driver_.clear();
}

bool TopologyDriver::done() const { return gaps().empty(); }

std::string TopologyDriver::gaps() const {
  std::string gaps;
  auto gap = [&](const std::string& text) { gaps += (gaps.empty() ? "" : "; ") + text; };
  if (plan_.joiner >= 0 && !joined_) gap(node_name(plan_.joiner) + " not started");
  if (plan_.leaver >= 0 && cluster_.role(plan_.leaver) != Role::kGone) {
    NodeHost& leaver = cluster_.node(plan_.leaver);
    gap(node_name(plan_.leaver) + " has not finished its decommission (" +
        (leaver.up() ? std::string(membership::to_string(
                           leaver.core().membership().self().ring_status))
                     : std::string("down")) +
        ")");
  }
  if (plan_.removed >= 0 && !killed_) gap(node_name(plan_.removed) + " not killed");
  if (plan_.joiner_dies && !joiner_killed_) {
    gap(node_name(plan_.joiner) + " never listed joining by every member (not killed)");
  }
  if (plan_.joiner_dies && joiner_killed_ && !joiner_seen_dead_) {
    gap("dead joiner " + node_name(plan_.joiner) + " never listed dead by every member");
  }
  return gaps;
}

void TopologyDriver::send(int server, wire::TopologyRequest request,
                          std::function<void(const Reply&)> then) {
  cluster_.client_request(server, std::move(request), std::move(then));
}

void TopologyDriver::step() {
  const SimTimeUs elapsed = world_.now_us() - started_us_;
  if (plan_.joiner >= 0 && !joined_ && elapsed >= plan_.join_at_us) {
    joined_ = true;
    ++counters_.joins_started;
    trace("start n" + std::to_string(plan_.joiner) + " to join");
    cluster_.start(plan_.joiner);
  }
  if (plan_.removed >= 0 && !killed_ && elapsed >= plan_.remove_at_us) {
    killed_ = true;
    trace("kill n" + std::to_string(plan_.removed) + " for good, to remove it");
    cluster_.kill_for_good(plan_.removed);
    to_remove_.insert(plan_.removed);
  }
  if (plan_.joiner_dies && joined_) join_dies_step();
  if (plan_.leaver >= 0 && elapsed >= plan_.leave_at_us) decommission_step();
  for (int victim : to_remove_) {
    // The operator of a dead joiner checks `kv status` everywhere first.
    if (plan_.joiner_dies && victim == plan_.joiner && !joiner_seen_dead_) continue;
    remove_step(victim);
  }
  world_.after(world_.random().between(kStepMinUs, kStepMaxUs), [this] { step(); });
}

void TopologyDriver::join_dies_step() {
  const std::string id = cluster_.node(plan_.joiner).id();
  // What each member that is up lists about the joiner (`kv status`).
  bool all_joining = true;
  bool all_dead = true;
  for (int index : cluster_.members()) {
    NodeHost& node = cluster_.node(index);
    if (index == plan_.joiner || !node.up()) continue;
    const auto member = node.core().membership().member(id);
    all_joining = all_joining && member && member->ring_status == membership::RingStatus::kJoining;
    // A member that restarted after the joiner died may never hear of it (a joiner is in no
    // remembered ring): it has nothing to show or remove. Every member that knows it must
    // list it dead.
    all_dead = all_dead && (!member || member->liveness == membership::Liveness::kDead);
  }
  if (!joiner_killed_) {
    // A join with nothing to pull never streams: killed once everyone lists it joining.
    if (!all_joining || !cluster_.node(plan_.joiner).up()) return;
    joiner_killed_ = true;
    trace("kill joiner n" + std::to_string(plan_.joiner) + " for good mid-join, to remove it");
    cluster_.kill_for_good(plan_.joiner);
    to_remove_.insert(plan_.joiner);
    return;
  }
  if (all_dead && !joiner_seen_dead_) {
    joiner_seen_dead_ = true;
    trace("every member lists dead joiner n" + std::to_string(plan_.joiner) + " dead");
  }
}

void TopologyDriver::decommission_step() {
  const int leaver = plan_.leaver;
  if (decommission_open_ || cluster_.role(leaver) != Role::kMember) return;
  NodeHost& node = cluster_.node(leaver);
  // Sent while the node is normal: again after it crashed while leaving and came back normal.
  if (!node.up() || node.core().membership().self().ring_status != membership::RingStatus::kNormal) {
    return;
  }
  decommission_open_ = true;
  ++counters_.decommissions_sent;
  send(leaver, wire::TopologyRequest{wire::TopologyAction::kDecommission, ""},
       [this, leaver](const Reply& reply) {
         decommission_open_ = false;
         if (accepted(reply)) ++counters_.decommissions_accepted;
         trace("decommission n" + std::to_string(leaver) + ": " + reply_text(reply));
       });
}

void TopologyDriver::remove_step(int victim) {
  if (remove_open_ || world_.now_us() < next_remove_us_) return;
  // Done when every member that is up sees it left.
  std::vector<int> candidates;  // members that do not know yet and see it dead
  bool all_left = true;
  for (int index : cluster_.members()) {
    NodeHost& node = cluster_.node(index);
    if (!node.up()) continue;
    const auto member = node.core().membership().member(cluster_.node(victim).id());
    if (!member || member->liveness == membership::Liveness::kLeft) continue;
    all_left = false;
    if (member->liveness == membership::Liveness::kDead &&
        node.core().membership().self().ring_status == membership::RingStatus::kNormal) {
      candidates.push_back(index);
    }
  }
  if (all_left || candidates.empty()) return;
  const int server = candidates[world_.random().below(candidates.size())];
  remove_open_ = true;
  ++counters_.removals_sent;
  send(server,
       wire::TopologyRequest{wire::TopologyAction::kRemoveNode, cluster_.node(victim).name()},
       [this, server, victim](const Reply& reply) {
         remove_open_ = false;
         // Give an accepted removal time to spread before asking again.
         next_remove_us_ = world_.now_us() + (accepted(reply) ? 3 * kUsPerS : 0);
         if (accepted(reply)) ++counters_.removals_accepted;
         trace("removenode n" + std::to_string(victim) + " via n" + std::to_string(server) + ": " +
               reply_text(reply));
       });
}

void TopologyDriver::on_stream_request(int requester, int server) {
  ++counters_.stream_requests;
  // join-dies: the joiner's first pull proves it is mid-join (every member confirmed it
  // joining before it streams): it dies right there, before the join can complete.
  if (plan_.joiner_dies && !joiner_killed_ && requester == plan_.joiner) {
    joiner_killed_ = true;
    trace("kill joiner n" + std::to_string(plan_.joiner) + " for good at its first pull");
    world_.after(0, [this] { cluster_.kill_for_good(plan_.joiner); });
    to_remove_.insert(plan_.joiner);
    return;
  }
  if (!running_ || healed_ || next_stream_crash_ >= plan_.stream_crash_at.size()) return;
  if (counters_.stream_requests < plan_.stream_crash_at[next_stream_crash_]) return;
  const bool at_server = plan_.stream_crash_server[next_stream_crash_];
  ++next_stream_crash_;
  const int victim = at_server ? server : requester;
  if (victim < 0) return;
  world_.after(world_.random().between(0, kStreamCrashDelayMaxUs), [this, victim, at_server] {
    if (healed_ || !cluster_.node(victim).up() || cluster_.role(victim) != Role::kMember) return;
    ++counters_.stream_crashes;
    const SimTimeUs down_for = world_.random().between(kStreamCrashDownMinUs, kStreamCrashDownMaxUs);
    trace(std::string("crash the stream's ") + (at_server ? "server" : "requester") + " n" +
          std::to_string(victim) + " mid-stream for " + std::to_string(down_for / kUsPerMs) +
          " ms");
    cluster_.crash(victim);
    crashed_by_driver_.insert(victim);
    const uint64_t epoch = cluster_.node(victim).epoch();
    world_.after(down_for, [this, victim, epoch] {
      NodeHost& node = cluster_.node(victim);
      if (healed_ || node.up() || node.epoch() != epoch || cluster_.role(victim) != Role::kMember) {
        return;
      }
      crashed_by_driver_.erase(victim);
      trace("restart n" + std::to_string(victim) + " (after a mid-stream crash)");
      cluster_.start(victim);
    });
  });
}

}  // namespace ringkv::cluster_sim
