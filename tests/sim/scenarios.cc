#include "tests/sim/scenarios.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "membership/suspicion.h"
#include "tests/sim/simulation.h"

namespace ringkv::membership::sim {

namespace {

constexpr TimeMs kPollMs = 250;

std::string node_label(int node) {
  std::string label = "n";
  label += std::to_string(node);
  return label;
}

std::string describe(const Simulation& sim, int node) {
  return sim.swim(node) ? node_label(node) : node_label(node).append("(stopped)");
}

bool anyone_saw_left(const Simulation& sim, int node) {
  for (int observer = 0; observer < sim.size(); ++observer) {
    if (sim.status(observer) != NodeStatus::kUp) continue;
    const auto seen = sim.swim(observer)->member(sim.node_id(node));
    if (seen && seen->liveness == Liveness::kLeft) return true;
  }
  return false;
}

// The first way in which some running node's view differs from the truth, or nothing.
std::optional<std::string> divergence(const Simulation& sim) {
  for (int observer = 0; observer < sim.size(); ++observer) {
    if (sim.status(observer) != NodeStatus::kUp) continue;
    const Swim& view = *sim.swim(observer);
    for (int node = 0; node < sim.size(); ++node) {
      if (node == observer) continue;
      const std::optional<Member> seen = view.member(sim.node_id(node));
      const std::string where =
          node_label(observer) + "'s view of " + describe(sim, node) + ": ";
      switch (sim.status(node)) {
        case NodeStatus::kUp:
        case NodeStatus::kPaused: {
          const Member& truth = sim.swim(node)->self();
          if (!seen) return where + "missing";
          if (seen->liveness != Liveness::kAlive) {
            return where + std::string(to_string(seen->liveness));
          }
          if (seen->incarnation != truth.incarnation) {
            return where + "incarnation " + std::to_string(seen->incarnation) + " instead of " +
                   std::to_string(truth.incarnation);
          }
          if (seen->ring_status != truth.ring_status) return where + "stale ring status";
          break;
        }
        case NodeStatus::kDown:
          if (seen && seen->liveness != Liveness::kDead && seen->liveness != Liveness::kLeft) {
            return where + std::string(to_string(seen->liveness)) + " but crashed";
          }
          break;
        case NodeStatus::kLeft:
          // A node that left while cut off told no one; then it is rightly dead everywhere.
          // Otherwise `left` (final at its incarnation) must have reached everyone.
          if (seen && seen->liveness != Liveness::kLeft &&
              !(seen->liveness == Liveness::kDead && !anyone_saw_left(sim, node))) {
            return where + std::string(to_string(seen->liveness)) + " but left";
          }
          break;
        case NodeStatus::kNotStarted:
          if (seen) return where + "known but never started";
          break;
      }
    }
  }
  return std::nullopt;
}

// Safety: only a member raises its own incarnation, so no view may be ahead of it.
std::optional<std::string> incarnation_overtaken(const Simulation& sim) {
  for (int node = 0; node < sim.size(); ++node) {
    if (!sim.is_running(node)) continue;
    const uint64_t own = sim.swim(node)->self().incarnation;
    for (int observer = 0; observer < sim.size(); ++observer) {
      if (observer == node || !sim.is_running(observer)) continue;
      const auto seen = sim.swim(observer)->member(sim.node_id(node));
      if (seen && seen->incarnation > own) {
        return node_label(observer) + " holds incarnation " +
               std::to_string(seen->incarnation) + " of n" + std::to_string(node) +
               ", above its own " + std::to_string(own);
      }
    }
  }
  return std::nullopt;
}

std::string at_time(const Simulation& sim, TimeMs origin, const std::string& what) {
  return "t=" + std::to_string(sim.now() - origin) + "ms: " + what;
}

int random_node(Simulation& sim, NodeStatus status) {
  std::vector<int> candidates;
  for (int i = 0; i < sim.size(); ++i) {
    if (sim.status(i) == status) candidates.push_back(i);
  }
  if (candidates.empty()) return -1;
  return candidates[uniform_below(sim.rng(), candidates.size())];
}

int count_running(const Simulation& sim) {
  int running = 0;
  for (int i = 0; i < sim.size(); ++i) running += sim.is_running(i) ? 1 : 0;
  return running;
}

void start_all(Simulation& sim, TimeMs spread_ms) {
  for (int i = 0; i < sim.size(); ++i) {
    sim.at(sim.now() + uniform_between(sim.rng(), 0, spread_ms), [&sim, i] { sim.start(i); });
  }
}

// Runs until the views converge or `limit_ms` passes; returns how long it took.
std::optional<TimeMs> run_until_converged(Simulation& sim, TimeMs limit_ms,
                                          std::string* last_divergence) {
  const TimeMs from = sim.now();
  while (sim.now() - from <= limit_ms) {
    auto diverged = divergence(sim);
    if (!diverged) return sim.now() - from;
    *last_divergence = *diverged;
    sim.run_until(sim.now() + kPollMs);
  }
  return std::nullopt;
}

// Waits up to 60 s for the views to converge. On failure marks `outcome` failed with `what`
// and the last divergence, and returns nullopt; else how long it took.
std::optional<TimeMs> converge_or_fail(Simulation& sim, TimeMs origin, const std::string& what,
                                       Outcome& outcome) {
  std::string last;
  auto converged = run_until_converged(sim, 60000, &last);
  if (!converged) {
    outcome.ok = false;
    outcome.failure = at_time(sim, origin, what + "; " + last);
  }
  return converged;
}

struct Log {
  bool verbose;
  TimeMs origin;
  void operator()(const Simulation& sim, const std::string& what) const {
    if (verbose) std::printf("  t=%8" PRId64 "ms %s\n", sim.now() - origin, what.c_str());
  }
};

// One random fault (or repair) of the churn scenario.
void churn_step(Simulation& sim, const Log& log) {
  Rng& rng = sim.rng();
  const uint64_t choice = uniform_below(rng, 100);
  const int n = sim.size();
  if (choice < 20) {
    const int node = random_node(sim, NodeStatus::kUp);
    if (node >= 0 && count_running(sim) >= 2) {
      log(sim, "crash n" + std::to_string(node));
      sim.crash(node);
    }
  } else if (choice < 40) {
    int node = random_node(sim, NodeStatus::kDown);
    if (node < 0) node = random_node(sim, NodeStatus::kLeft);
    if (node >= 0) {
      log(sim, "restart n" + std::to_string(node));
      sim.restart(node);
    }
  } else if (choice < 55) {
    const int node = random_node(sim, NodeStatus::kUp);
    if (node >= 0) {
      const TimeMs pause_ms = uniform_between(rng, 100, 8000);
      log(sim, "pause n" + std::to_string(node) + " for " + std::to_string(pause_ms) + "ms");
      sim.pause(node);
      sim.at(sim.now() + pause_ms, [&sim, node] { sim.resume(node); });
    }
  } else if (choice < 65) {
    std::vector<int> groups(n);
    for (int& group : groups) group = static_cast<int>(uniform_below(rng, 2));
    log(sim, "partition into random halves");
    sim.partition(std::move(groups));
  } else if (choice < 72) {
    std::vector<int> groups(n, 0);
    const int isolated = static_cast<int>(uniform_below(rng, n));
    groups[isolated] = 1;
    log(sim, "isolate n" + std::to_string(isolated));
    sim.partition(std::move(groups));
  } else if (choice < 77) {
    const int from = static_cast<int>(uniform_below(rng, n));
    const int to = static_cast<int>(uniform_below(rng, n));
    if (from != to) {
      log(sim, "cut n" + std::to_string(from) + " -> n" + std::to_string(to));
      sim.cut_one_way(from, to);
    }
  } else if (choice < 85) {
    log(sim, "heal partitions");
    sim.heal();
  } else if (choice < 92) {
    static constexpr double kLosses[] = {0.0, 0.01, 0.05, 0.10, 0.20};
    sim.network().loss = kLosses[uniform_below(rng, 5)];
    log(sim, "loss " + std::to_string(sim.network().loss));
  } else if (choice < 97) {
    const int node = random_node(sim, NodeStatus::kUp);
    if (node >= 0) {
      const auto status = static_cast<RingStatus>(uniform_below(rng, kRingStatusMax + 1));
      log(sim, node_label(node) + " ring status " + std::string(to_string(status)));
      sim.set_ring_status(node, status);
    }
  } else {
    const int node = random_node(sim, NodeStatus::kUp);
    if (node >= 0 && count_running(sim) >= 2) {
      log(sim, node_label(node) + " leaves");
      sim.leave(node);
    }
  }
}

Outcome run_churn(Simulation& sim, const Log& log) {
  Outcome outcome;
  Rng& rng = sim.rng();
  const TimeMs origin = sim.now();
  sim.network() = NetworkProfile{0.0, 0.02, 1, static_cast<TimeMs>(uniform_between(rng, 2, 40))};
  start_all(sim, 3000);
  const TimeMs faults_end = origin + 5000 + 60000;
  for (TimeMs t = origin + 5000 + uniform_between(rng, 0, 2000); t < faults_end;
       t += uniform_between(rng, 1000, 5000)) {
    sim.at(t, [&sim, &log] { churn_step(sim, log); });
  }
  while (sim.now() < faults_end) {
    sim.run_until(sim.now() + kPollMs);
    if (auto violation = incarnation_overtaken(sim)) {
      outcome.ok = false;
      outcome.failure = at_time(sim, origin, *violation);
      return outcome;
    }
  }

  // Faults stop: heal, resume, and bring back about half of the stopped nodes. Restarted
  // nodes need a running seed to join through, so one is guaranteed.
  log(sim, "faults stop");
  sim.heal();
  sim.network().loss = 0.0;
  for (int i = 0; i < sim.size(); ++i) sim.resume(i);
  for (int i = 0; i < sim.size(); ++i) {
    const NodeStatus status = sim.status(i);
    if ((status == NodeStatus::kDown || status == NodeStatus::kLeft) && uniform_below(rng, 2)) {
      log(sim, "restart n" + std::to_string(i));
      sim.restart(i);
    }
  }
  bool seed_running = false;
  for (int seed = 0; seed < std::min(3, sim.size()); ++seed) {
    seed_running = seed_running || sim.is_running(seed);
  }
  if (!seed_running) {
    log(sim, "restart seed n0");
    sim.restart(0);
  }

  // Bound: a crashed node must first be found (a probe round, stretched by health) and
  // out-wait the longest suspicion (29 s at 12 nodes); a healed partition waits for the
  // reconnect timer (12.5 s at most) and a push-pull, and refutations must spread.
  const TimeMs bound_ms = 120000;
  std::string last;
  auto converged = run_until_converged(sim, bound_ms, &last);
  if (!converged) {
    outcome.ok = false;
    outcome.failure = at_time(
        sim, origin,
        "no convergence within " + std::to_string(bound_ms) + "ms after faults stopped; " + last);
    return outcome;
  }
  outcome.convergence_ms = *converged;
  if (auto violation = incarnation_overtaken(sim)) {
    outcome.ok = false;
    outcome.failure = at_time(sim, origin, *violation);
  }
  return outcome;
}

Outcome run_lossy(Simulation& sim, const Log& log) {
  Outcome outcome;
  Rng& rng = sim.rng();
  const TimeMs origin = sim.now();
  sim.network() = NetworkProfile{0.10, 0.01, 1, 30};
  struct Unhook {
    Simulation& sim;
    ~Unhook() { sim.on_event = nullptr; }
  } unhook{sim};
  sim.on_event = [&](int observer, const Event& event) {
    if (event.kind != EventKind::kDead || !outcome.ok) return;
    const int node = sim.node_by_id(event.member.id);
    if (node >= 0 && sim.is_running(node)) {
      outcome.ok = false;
      outcome.failure = at_time(
          sim, origin,
          node_label(observer) + " declared running n" + std::to_string(node) + " dead");
    }
  };
  start_all(sim, 2000);
  sim.run_until(origin + 3000);
  if (!converge_or_fail(sim, origin, "initial convergence under 10% loss failed", outcome)) return outcome;

  // One pause at a time, always shorter than the smallest suspicion timeout by a probe
  // interval, so a suspicion raised during it can be refuted in time.
  const Config& config = sim.config();
  const TimeMs suspicion_min_ms = suspicion_min_timeout_ms(
      config.suspicion_mult, static_cast<std::size_t>(sim.size()), config.probe_interval_ms);
  const TimeMs pause_max_ms = suspicion_min_ms - config.probe_interval_ms;
  const TimeMs faults_end = sim.now() + 90000;
  TimeMs next_pause_at = sim.now() + uniform_between(rng, 1000, 5000);
  while (sim.now() < faults_end && outcome.ok) {
    if (sim.now() >= next_pause_at) {
      const int node = random_node(sim, NodeStatus::kUp);
      const TimeMs pause_ms = uniform_between(rng, 100, pause_max_ms);
      log(sim, "pause n" + std::to_string(node) + " for " + std::to_string(pause_ms) + "ms");
      sim.pause(node);
      sim.at(sim.now() + pause_ms, [&sim, node] { sim.resume(node); });
      next_pause_at = sim.now() + pause_ms + uniform_between(rng, 1000, 8000);
      if (uniform_below(rng, 4) == 0) {
        const int changer = random_node(sim, NodeStatus::kUp);
        if (changer >= 0) {
          sim.set_ring_status(changer,
                              static_cast<RingStatus>(uniform_below(rng, kRingStatusMax + 1)));
        }
      }
    }
    sim.run_until(sim.now() + kPollMs);
  }
  if (!outcome.ok) return outcome;
  sim.run_until(sim.now() + pause_max_ms);  // the last pause ends
  sim.network().loss = 0.0;
  if (auto converged = converge_or_fail(sim, origin, "no convergence after loss stopped", outcome)) {
    outcome.convergence_ms = *converged;
  }
  return outcome;
}

Outcome run_crash(Simulation& sim, const Log& log) {
  Outcome outcome;
  Rng& rng = sim.rng();
  const TimeMs origin = sim.now();
  sim.network() = NetworkProfile{uniform_below(rng, 2) ? 0.01 : 0.0, 0.01, 1, 30};
  start_all(sim, 2000);
  sim.run_until(origin + 3000);
  if (!converge_or_fail(sim, origin, "initial convergence failed", outcome)) return outcome;
  sim.run_until(sim.now() + uniform_between(rng, 0, 5000));

  const int victims_wanted = sim.size() >= 6 ? 1 + static_cast<int>(uniform_below(rng, 2)) : 1;
  std::vector<int> victims;
  std::vector<uint64_t> incarnation_before;
  while (static_cast<int>(victims.size()) < victims_wanted) {
    const int node = random_node(sim, NodeStatus::kUp);
    victims.push_back(node);
    incarnation_before.push_back(sim.swim(node)->self().incarnation);
    log(sim, "crash n" + std::to_string(node));
    sim.crash(node);
  }
  const TimeMs crashed_at = sim.now();

  // Detection bound: within (members + 1) stretched probe periods some node probes the victim
  // (round-robin), the suspicion lasts at most max timeout, then the verdict spreads.
  const Config& config = sim.config();
  const std::size_t members = static_cast<std::size_t>(sim.size());
  const TimeMs suspicion_max_ms =
      suspicion_min_timeout_ms(config.suspicion_mult, members, config.probe_interval_ms) *
      config.suspicion_max_timeout_mult;
  outcome.detection_bound_ms =
      static_cast<TimeMs>(members + 1) * config.probe_interval_ms * 2 + suspicion_max_ms + 5000;
  auto everyone_sees = [&](int victim, auto&& predicate) {
    for (int observer = 0; observer < sim.size(); ++observer) {
      if (sim.status(observer) != NodeStatus::kUp) continue;
      const auto seen = sim.swim(observer)->member(sim.node_id(victim));
      if (!seen || !predicate(*seen)) return false;
    }
    return true;
  };
  auto all_dead = [&] {
    return std::all_of(victims.begin(), victims.end(), [&](int victim) {
      return everyone_sees(victim, [](const Member& m) { return m.liveness == Liveness::kDead; });
    });
  };
  while (!all_dead()) {
    if (sim.now() - crashed_at > outcome.detection_bound_ms) {
      outcome.ok = false;
      outcome.failure = at_time(sim, origin,
                                "crashed node not dead everywhere within " +
                                    std::to_string(outcome.detection_bound_ms) + "ms");
      return outcome;
    }
    sim.run_until(sim.now() + 50);
  }
  outcome.detection_ms = sim.now() - crashed_at;

  sim.run_until(sim.now() + uniform_between(rng, 0, 3000));
  for (int victim : victims) {
    log(sim, "restart n" + std::to_string(victim));
    sim.restart(victim);
  }
  const TimeMs restarted_at = sim.now();
  constexpr TimeMs kRejoinBoundMs = 30000;
  auto all_back = [&] {
    for (std::size_t i = 0; i < victims.size(); ++i) {
      const uint64_t before = incarnation_before[i];
      const bool back = everyone_sees(victims[i], [&](const Member& m) {
        return m.liveness == Liveness::kAlive && m.incarnation > before;
      });
      if (!back) return false;
    }
    return true;
  };
  while (!all_back()) {
    if (sim.now() - restarted_at > kRejoinBoundMs) {
      outcome.ok = false;
      outcome.failure = at_time(sim, origin,
                                "restarted node not alive with a higher incarnation everywhere "
                                "within " +
                                    std::to_string(kRejoinBoundMs) + "ms");
      return outcome;
    }
    sim.run_until(sim.now() + 50);
  }
  outcome.rejoin_ms = sim.now() - restarted_at;
  converge_or_fail(sim, origin, "no convergence after the restart", outcome);
  return outcome;
}

// One datagram from an outsider with claims about `victim` (its record as the receiver holds
// it): one of the three forgeries of the scenario, at random.
std::string forged_claims(Simulation& sim, const Member& victim) {
  const std::string outsider_id(kNodeIdBytes, '\xee');
  Member dead = victim;
  dead.liveness = Liveness::kDead;
  Member left = victim;
  left.liveness = Liveness::kLeft;
  std::vector<Member> claims;
  switch (uniform_below(sim.rng(), 3)) {
    case 0:  // dead, which anyone may say, then left while it is dead
      dead.incarnation = left.incarnation = victim.incarnation + 1;
      claims = {dead, left};
      break;
    case 1:
      dead.incarnation = victim.incarnation + kIncarnationJumpMax;
      claims = {dead};
      break;
    default:
      left.incarnation = UINT64_MAX;
      claims = {left};
      break;
  }
  PacketWriter writer(PacketHeader{kProtocolVersion, sim.config().cluster_name, outsider_id, 0},
                      Gossip{}, sim.config().datagram_bytes_max);
  for (const Member& claim : claims) (void)writer.try_add(encode_update(Update{claim, outsider_id}));
  return std::move(writer).finish();
}

Outcome run_forged(Simulation& sim, const Log& log) {
  Outcome outcome;
  const TimeMs origin = sim.now();
  start_all(sim, 2000);
  sim.run_until(origin + 3000);
  if (!converge_or_fail(sim, origin, "initial convergence failed", outcome)) return outcome;
  sim.network() = NetworkProfile{0.05, 0.01, 1, 30};
  const TimeMs forging_end = sim.now() + 60000;
  while (sim.now() < forging_end) {
    const int victim = random_node(sim, NodeStatus::kUp);
    const int told = random_node(sim, NodeStatus::kUp);
    if (victim >= 0 && told >= 0 && victim != told) {
      if (auto record = sim.swim(told)->member(sim.node_id(victim))) {
        std::string what = "outsider tells ";
        what.append(node_label(told)).append(" about ").append(node_label(victim));
        log(sim, what);
        sim.inject_datagram(told, "10.255.255.1:7000", forged_claims(sim, *record));
      }
    }
    sim.run_until(sim.now() + uniform_between(sim.rng(), 500, 3000));
  }
  sim.network().loss = 0.0;
  if (auto converged = converge_or_fail(sim, origin, "no convergence after forging stopped", outcome)) {
    outcome.convergence_ms = *converged;
  }
  return outcome;
}

}  // namespace

const char* to_string(Scenario scenario) {
  switch (scenario) {
    case Scenario::kChurn:
      return "churn";
    case Scenario::kLossy:
      return "lossy";
    case Scenario::kCrash:
      return "crash";
    case Scenario::kForged:
      return "forged";
  }
  return "unknown";
}

Config simulation_config() {
  Config config;  // memberlist LAN: probe 1 s / 500 ms, gossip 200 ms x 3, suspicion 4 (x6)
  config.push_pull_interval_ms = 15000;
  config.reconnect_interval_ms = 10000;
  config.join_retry_initial_ms = 500;
  config.join_retry_max_ms = 8000;
  return config;
}

Outcome run_scenario(Scenario scenario, uint64_t seed, int nodes, bool verbose) {
  Simulation sim(seed, nodes, simulation_config());
  const Log log{verbose, sim.now()};
  if (verbose) {
    sim.on_trace = [&sim, &log](int node, const Event& event) {
      const int about = sim.node_by_id(event.member.id);
      log(sim, "  n" + std::to_string(node) + " sees n" + std::to_string(about) + " " +
                   std::string(to_string(event.kind)) + " at incarnation " +
                   std::to_string(event.member.incarnation & 0xffffffffu) + " of generation " +
                   std::to_string(event.member.incarnation >> 32));
    };
  }
  Outcome outcome;
  switch (scenario) {
    case Scenario::kChurn:
      outcome = run_churn(sim, log);
      break;
    case Scenario::kLossy:
      outcome = run_lossy(sim, log);
      break;
    case Scenario::kCrash:
      outcome = run_crash(sim, log);
      break;
    case Scenario::kForged:
      outcome = run_forged(sim, log);
      break;
  }
  outcome.datagrams = sim.counters().datagrams_sent;
  outcome.events_processed = sim.counters().events_processed;
  return outcome;
}

}  // namespace ringkv::membership::sim
