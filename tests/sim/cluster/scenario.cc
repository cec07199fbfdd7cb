#include "tests/sim/cluster/scenario.h"

#include <cstdio>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>

#include "tests/sim/cluster/checkers.h"
#include "tests/sim/cluster/cluster.h"
#include "tests/sim/cluster/history.h"
#include "tests/sim/cluster/network.h"
#include "tests/sim/cluster/workload.h"
#include "tests/sim/cluster/world.h"

namespace ringkv::cluster_sim {
namespace {

constexpr size_t kReplicas = 3;
// Far above what a healthy run needs (a few hundred thousand events); a livelock stops here.
constexpr uint64_t kEventBudget = 30'000'000;
constexpr SimTimeUs kFormLimitUs = 30 * kUsPerS;
constexpr SimTimeUs kQuiesceLimitUs = 120 * kUsPerS;
constexpr SimTimeUs kPollUs = 100 * kUsPerMs;
// Longer than the coordinator's request timeout (2 s): operations still open at the first
// quiet poll have finished (and stored any hints they were going to) by the second.
constexpr SimTimeUs kSettleUs = 2500 * kUsPerMs;
// kvnode's --repair-interval-s, scaled down so that a round runs within the quiescence wait.
constexpr membership::TimeMs kRepairIntervalMs = 3000;

bool repair_masks(Plant plant) { return plant == Plant::kDropHints || plant == Plant::kLoseUnsynced; }
constexpr SimTimeUs kFinalReadsLimitUs = 120 * kUsPerS;
constexpr int kFinalReadsParallel = 8;
// After a topology change: every member must accept `cleanup` within this long (a member
// refuses it while it still streams).
constexpr SimTimeUs kCleanupLimitUs = 60 * kUsPerS;
constexpr SimTimeUs kCleanupRetryUs = 500 * kUsPerMs;
constexpr SimTimeUs kStaleHintsLimitUs = 90 * kUsPerS;
// The lose-unsynced plant forgets the writes of a crashed node's last this long.
constexpr SimTimeUs kLoseUnsyncedWindowUs = 500 * kUsPerMs;

// Everything a run draws from its seed before the cluster starts.
struct Setup {
  int nodes = 3;  // every node the run may start (founders, and a joiner's slot)
  TopologyPlan topology;
  membership::TimeMs probe_interval_ms = 1000;
  uint32_t vnodes = 16;
  int clients = 3;
  NetworkProfile fault_network;
  FaultSettings faults;
  std::optional<StorageFaultRates> storage_faults;  // --storage-faults
};

Setup draw_setup(const ScenarioOptions& options, SimRandom& random) {
  Setup setup;
  if (options.topology == TopologyMode::kNone) {
    setup.nodes = options.nodes > 0 ? options.nodes : static_cast<int>(3 + random.below(5));
    setup.topology.founders = setup.nodes;
  } else {
    setup.topology =
        draw_topology_plan(options.topology, options.nodes, options.duration_s, random);
    setup.nodes = setup.topology.nodes();
  }
  static constexpr membership::TimeMs kProbeIntervals[] = {200, 500, 1000};
  setup.probe_interval_ms = kProbeIntervals[random.below(3)];
  setup.vnodes = static_cast<uint32_t>(16 + random.below(17));
  setup.clients = static_cast<int>(2 + random.below(3));
  NetworkProfile& network = setup.fault_network;
  network.loss = random.chance(0.2) ? 0.0 : random.unit() * 0.15;
  network.duplicate = random.unit() * 0.05;
  network.tcp_failure = random.chance(0.5) ? random.unit() * 0.02 : 0.0;
  network.delay_max_us = random.between(1 * kUsPerMs, 5 * kUsPerMs);
  setup.faults.max_down = random.chance(0.3) ? 2 : 1;
  if (options.storage_faults) {
    // Per call, each between half and one and a half times its base rate.
    auto around = [&random](double base) { return base * (0.5 + random.unit()); };
    setup.storage_faults = StorageFaultRates{.write_error = around(0.02),
                                             .flush_error = around(0.01),
                                             .read_error = around(0.02),
                                             .crash_before_flush = around(0.001)};
  }
  return setup;
}

// Membership timing scaled from the probe interval, as kvnode does (node/main.cc), with
// anti-entropy and partition healing a little more frequent so runs stay short.
membership::Config membership_config(membership::TimeMs probe_interval_ms) {
  membership::Config config;
  config.probe_interval_ms = probe_interval_ms;
  config.probe_timeout_ms = probe_interval_ms / 2;
  config.gossip_interval_ms = std::max<membership::TimeMs>(10, probe_interval_ms / 5);
  config.gossip_to_dead_ms = 30 * probe_interval_ms;
  config.push_pull_interval_ms = 15 * probe_interval_ms;
  config.reconnect_interval_ms = 10 * probe_interval_ms;
  config.join_retry_initial_ms = std::min<membership::TimeMs>(1000, probe_interval_ms);
  config.join_retry_max_ms = 8 * probe_interval_ms;
  return config;
}

std::string describe_setup(const Setup& setup) {
  char line[256];
  std::snprintf(
      line, sizeof(line),
      "%d nodes, %u vnodes, probe %lld ms, %d clients, loss %.3f, dup %.3f, "
      "tcp failure %.4f, delay <= %.1f ms, max down %d",
      setup.nodes, setup.vnodes, static_cast<long long>(setup.probe_interval_ms), setup.clients,
      setup.fault_network.loss, setup.fault_network.duplicate, setup.fault_network.tcp_failure,
      static_cast<double>(setup.fault_network.delay_max_us) / kUsPerMs, setup.faults.max_down);
  std::string text = line;
  if (setup.storage_faults) {
    const StorageFaultRates& rates = *setup.storage_faults;
    std::snprintf(line, sizeof(line),
                  "; storage faults: write %.4f, flush %.4f, read %.4f, crash before flush %.5f",
                  rates.write_error, rates.flush_error, rates.read_error, rates.crash_before_flush);
    text += line;
  }
  if (setup.topology.any()) {
    return text + "; " + std::to_string(setup.topology.founders) + " founders; " +
           setup.topology.describe();
  }
  return text;
}

// Runs the world in steps of kPollUs until `done` holds; false if `limit_us` passes first or
// the event budget runs out.
bool run_until(World& world, SimTimeUs limit_us, const std::function<bool()>& done) {
  while (!done()) {
    if (world.now_us() >= limit_us) return false;
    if (!world.run_until(world.now_us() + kPollUs)) return false;
  }
  return true;
}

void count(const History& history, ScenarioResult& result) {
  for (const Op& op : history.ops()) {
    if (op.client < 0) {
      ++result.final_reads;
      continue;
    }
    OpCounts& counts = op.kind == OpKind::kPut ? result.puts : result.gets;
    switch (op.outcome) {
      case Outcome::kOk:
        ++counts.ok;
        break;
      case Outcome::kFail:
        ++counts.fail;
        break;
      default:
        ++counts.info;
    }
  }
}

// Anti-entropy: every member completes a whole round that started after the heal (the
// replicas a crashed coordinator or a late hint left behind converge), then quiet again.
// Not with the plants that run without repair. False if that takes more than 120 s.
bool wait_for_repair(World& world, Cluster& cluster, Workload& workload, Plant plant) {
  if (repair_masks(plant)) return true;
  std::map<int, uint64_t> rounds_at_heal;
  for (int i : cluster.members()) rounds_at_heal[i] = cluster.node(i).core().repair_rounds_completed();
  return run_until(world, world.now_us() + kQuiesceLimitUs, [&] {
    for (const auto& [i, rounds] : rounds_at_heal) {
      if (cluster.node(i).up() && cluster.node(i).core().repair_rounds_completed() < rounds + 2) {
        return false;
      }
    }
    return cluster.quiescence_gaps().empty() && workload.in_flight() == 0;
  });
}

// `cleanup` on every member, retried while one refuses (it still streams), at most 60 s.
// False (with a violation per member) if some member never accepted it.
template <typename Say, typename Fail>
bool run_cleanup(World& world, Cluster& cluster, ScenarioResult& result, Say& say, Fail& fail) {
  // Shared with the reply handlers: a reply may land after this function gave up.
  struct State {
    std::map<int, std::string> refused;  // member -> last refusal; absent once accepted
    std::set<int> asking;
    std::vector<std::string> accepted;  // "nI: message", said once collected
  };
  auto state = std::make_shared<State>();
  for (int index : cluster.members()) state->refused[index] = "not asked";
  const SimTimeUs limit = world.now_us() + kCleanupLimitUs;
  SimTimeUs next_round = world.now_us();
  const bool cleaned = run_until(world, limit, [&] {
    for (std::string& line : std::exchange(state->accepted, {})) say("cleanup " + line);
    if (state->refused.empty()) return true;
    if (world.now_us() < next_round) return false;
    next_round = world.now_us() + kCleanupRetryUs;
    for (const auto& [index, reason] : state->refused) {
      if (state->asking.contains(index)) continue;
      state->asking.insert(index);
      ++result.cleanup_requests;
      cluster.client_request(
          index, wire::TopologyRequest{wire::TopologyAction::kCleanup, ""},
          [state, index](const Reply& reply) {
            state->asking.erase(index);
            if (reply && std::holds_alternative<wire::TopologyReply>(reply->body)) {
              state->accepted.push_back("n" + std::to_string(index) + ": " +
                                        std::get<wire::TopologyReply>(reply->body).message);
              state->refused.erase(index);
            } else if (!reply) {
              state->refused[index] = reply.error();
            } else if (const auto* error = std::get_if<wire::ErrorReply>(&reply->body)) {
              state->refused[index] = error->message;
            } else {
              state->refused[index] = "unexpected reply";
            }
          });
    }
    return false;
  });
  const std::map<int, std::string>& refused = state->refused;
  if (!cleaned) {
    for (const auto& [index, reason] : refused) {
      fail("C6 cleanup not accepted by n" + std::to_string(index) + " within 60 s: " + reason);
    }
    return false;
  }
  say("cleanup done on every member");
  // Hints for a node that left for good can never be delivered: each member drops them once
  // it sees the node left (or, for a dead joiner nobody remembers, a minute after its start),
  // so none may remain within 90 s.
  run_until(world, world.now_us() + kStaleHintsLimitUs, [&] { return cluster.stale_hints().empty(); });
  for (const auto& [holder, target, count] : cluster.stale_hints()) {
    fail(holder + " still holds " + std::to_string(count) + " hints for gone " + target);
  }
  return true;
}

void run(const ScenarioOptions& options, ScenarioResult& result) {
  World world(options.seed, kEventBudget);
  const Setup setup = draw_setup(options, world.random());
  result.setup = describe_setup(setup);
  auto say = [&](const std::string& line) {
    if (options.verbose) {
      std::printf("  [%9.3f s] %s\n", static_cast<double>(world.now_us()) / kUsPerS, line.c_str());
    }
  };
  auto fail = [&](std::string violation) {
    result.passed = false;
    result.violations.push_back(std::move(violation));
  };
  say("seed " + std::to_string(options.seed) + ": " + result.setup + "; tolerating " +
      tolerances_text(options.tolerances));

  const int founders = setup.topology.founders;
  Network network(world, setup.nodes);
  StorageFaults storage_faults;
  if (setup.storage_faults) storage_faults.rates = *setup.storage_faults;
  std::vector<NodeSettings> settings(setup.nodes);
  for (int i = 0; i < setup.nodes; ++i) {
    NodeSettings& node = settings[i];
    node.membership = membership_config(setup.probe_interval_ms);
    // Anti-entropy often enough that a round fits the quiescence wait.
    // (Not with the drop-hints and lose-unsynced plants: repair would mend what they
    // broke, and they are there to prove the checkers see hinted handoff or the
    // write-ahead log fail.)
    node.node.repair.interval_ms = repair_masks(options.plant) ? 0 : kRepairIntervalMs;
    node.node.settings.replicas = kReplicas;
    node.membership.settings = node.node.settings.encode();  // every push-pull carries them
    node.node.topology.stream.batch_bytes = setup.topology.stream_batch_bytes;
    node.vnodes = setup.vnodes;
    if (options.racks > 1) node.rack = "r" + std::to_string(i % options.racks);
    node.founder = i < founders;
    // A founder's seeds: the first three founders; a joiner's: every founder (some may be
    // gone by the time it starts).
    for (int seed_node = 0; seed_node < (node.founder ? std::min(founders, 3) : founders);
         ++seed_node) {
      node.seed_addresses.push_back(node_address(seed_node));
    }
    node.wall_skew_us = world.random().between(-5 * kUsPerMs, 5 * kUsPerMs);
    node.monotonic_offset_ms = world.random().between(0, 1'000'000'000);
    if (options.plant == Plant::kLoseUnsynced) node.planted_window_us = kLoseUnsyncedWindowUs;
    if (setup.storage_faults) node.storage_faults = &storage_faults;
  }
  Cluster cluster(world, network, std::move(settings), options.plant, options.verbose);
  cluster.trace_key(options.trace_key);
  History history;
  WorkloadSettings workload_settings;
  workload_settings.clients = setup.clients;
  Workload workload(world, cluster, history, workload_settings, options.verbose);
  FaultInjector faults(world, network, cluster, setup.faults, options.verbose);
  storage_faults.crash_requested = [&](const std::string& address) {
    faults.crash_for_storage(cluster.index_of_address(address));
  };
  std::optional<TopologyDriver> topology;
  if (setup.topology.any()) {
    topology.emplace(world, cluster, setup.topology, options.verbose);
    result.topology = setup.topology.describe();
  }
  // Figures for the summary, whichever way the run ends.
  struct Collect {
    std::function<void()> run;
    ~Collect() { run(); }
  } collect{[&] {
    count(history, result);
    result.faults = faults.counters();
    result.storage_faults = storage_faults.counters;
    result.restarts = cluster.counters().restarts;
    result.planted_hint_drops = cluster.counters().planted_hint_drops;
    result.planted_writes_lost = cluster.counters().planted_writes_lost;
    result.unflushed_writes_lost = cluster.counters().unflushed_writes_lost;
    result.events = world.events_processed();
    result.simulated_s = static_cast<double>(world.now_us()) / kUsPerS;
    result.fingerprint = history.digest() ^ (result.events * 0x9e3779b97f4a7c15ull);
    if (topology) result.topology_counters = topology->counters();
    for (const auto& [holder, target, count] : cluster.stale_hints()) result.stale_hints += count;
  }};

  auto report_anomalies = [&] {
    for (const auto& anomaly : cluster.anomalies()) fail("protocol: " + anomaly);
    for (const auto& anomaly : workload.anomalies()) fail("protocol: " + anomaly);
  };

  // 1. Form the cluster (the founders; a joiner starts during the fault phase).
  for (int i = 0; i < founders; ++i) {
    world.at(world.random().between(0, 20 * kUsPerMs), [&cluster, i] { cluster.start(i); });
  }
  if (!run_until(world, kFormLimitUs, [&] { return cluster.formed(); })) {
    fail("the cluster did not form within 30 s");
    return;
  }
  say("cluster formed");

  // 2. Fault phase.
  const SimTimeUs faults_end = world.now_us() + options.duration_s * kUsPerS;
  network.profile() = setup.fault_network;
  workload.start();
  faults.start();
  storage_faults.active = true;
  if (topology) topology->start();
  world.run_until(faults_end);

  // 3. Heal and wait for quiescence.
  say("heal");
  workload.stop();
  faults.stop();
  storage_faults.active = false;
  if (topology) topology->heal();
  network.heal_all();
  network.profile().loss = 0;
  network.profile().duplicate = 0;
  network.profile().tcp_failure = 0;
  for (int i = 0; i < setup.nodes; ++i) {
    if (!cluster.node(i).up() && cluster.role(i) == Role::kMember) cluster.start(i);
  }
  const SimTimeUs healed_at = world.now_us();
  auto changes_done = [&] { return !topology || topology->done(); };
  const bool quiet = run_until(world, healed_at + kQuiesceLimitUs, [&] {
    if (!changes_done() || !cluster.quiescence_gaps().empty() || workload.in_flight() > 0) {
      return false;
    }
    world.run_until(world.now_us() + kSettleUs);
    return changes_done() && cluster.quiescence_gaps().empty() && workload.in_flight() == 0;
  });
  result.quiesce_s = static_cast<double>(world.now_us() - healed_at) / kUsPerS;
  // Whatever happens below, the checkers run: a change that never completes still must not
  // lose or corrupt an acknowledged write, and the report says whether it did.
  bool settled = quiet;
  if (!quiet) {
    if (world.overloaded()) {
      fail("event budget exhausted (livelock?)");
      report_anomalies();
      return;  // the world cannot run the final reads
    }
    if (topology) {
      const std::string pending = topology->gaps();
      fail("topology change not complete 120 s after heal: " +
           (pending.empty() ? std::string() : pending + "; ") + cluster.quiescence_gaps());
    } else {
      fail("not quiescent 120 s after heal: " + cluster.quiescence_gaps());
    }
  } else if (!wait_for_repair(world, cluster, workload, options.plant)) {
    fail("no complete anti-entropy round on every member within 120 s of quiescence");
    settled = false;
  } else {
    say("quiescent and repaired");
  }

  // After a topology change: `cleanup` on every member, which also proves its streams are
  // done (it refuses while a member streams); then C6 below.
  bool cleaned = false;
  if (settled && topology && options.plant != Plant::kSkipCleanup) {
    cleaned = run_cleanup(world, cluster, result, say, fail);
  } else if (settled && topology) {
    cleaned = true;  // the skip-cleanup plant: C6 must report the extra copies
  }

  // 4. Check.
  ReplicaCheck replica_check =
      check_replicas(history, cluster, kReplicas, options.tolerances);
  for (auto& violation : replica_check.violations) fail(std::move(violation));
  result.tolerated = replica_check.tolerated;
  if (topology && cleaned) {
    PlacementCheck placement = check_placement(cluster, kReplicas);
    for (auto& violation : placement.violations) fail(std::move(violation));
    result.placement_checked = placement.copies;
  }
  std::vector<std::string> acknowledged;
  for (const Op& op : history.ops()) {
    if (op.kind == OpKind::kPut && op.outcome == Outcome::kOk) acknowledged.push_back(op.key);
  }
  workload.read_all(std::move(acknowledged), kFinalReadsParallel);
  if (!run_until(world, world.now_us() + kFinalReadsLimitUs,
                 [&] { return workload.reads_done(); })) {
    fail("the final reads did not finish");
  }
  for (auto& violation : check_final_reads(history)) fail(std::move(violation));
  for (auto& violation : check_reads(history)) fail(std::move(violation));
  report_anomalies();
}

}  // namespace

ScenarioResult run_scenario(const ScenarioOptions& options) {
  ScenarioResult result;
  try {
    run(options, result);
  } catch (const std::exception& error) {
    result.passed = false;
    result.violations.push_back(std::string("harness error: ") + error.what());
  }
  return result;
}

}  // namespace ringkv::cluster_sim
