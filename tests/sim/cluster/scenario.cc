#include "tests/sim/cluster/scenario.h"

#include <cstdio>
#include <exception>
#include <functional>

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
constexpr SimTimeUs kFinalReadsLimitUs = 120 * kUsPerS;
constexpr int kFinalReadsParallel = 8;
// The lose-unsynced plant forgets the writes of a crashed node's last this long.
constexpr SimTimeUs kLoseUnsyncedWindowUs = 500 * kUsPerMs;

// Everything a run draws from its seed before the cluster starts.
struct Setup {
  int nodes = 3;
  membership::TimeMs probe_interval_ms = 1000;
  uint32_t vnodes = 16;
  int clients = 3;
  NetworkProfile fault_network;
  FaultSettings faults;
};

Setup draw_setup(const ScenarioOptions& options, SimRandom& random) {
  Setup setup;
  setup.nodes = options.nodes > 0 ? options.nodes : static_cast<int>(3 + random.below(5));
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
  return line;
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

  Network network(world, setup.nodes);
  std::vector<NodeSettings> settings(setup.nodes);
  for (int i = 0; i < setup.nodes; ++i) {
    NodeSettings& node = settings[i];
    node.membership = membership_config(setup.probe_interval_ms);
    node.node.coordinator.replicas = kReplicas;
    node.vnodes = setup.vnodes;
    for (int seed_node = 0; seed_node < std::min(setup.nodes, 3); ++seed_node) {
      node.seed_addresses.push_back(node_address(seed_node));
    }
    node.wall_skew_us = world.random().between(-5 * kUsPerMs, 5 * kUsPerMs);
    node.monotonic_offset_ms = world.random().between(0, 1'000'000'000);
    if (options.plant == Plant::kLoseUnsynced) node.planted_window_us = kLoseUnsyncedWindowUs;
  }
  Cluster cluster(world, network, std::move(settings), options.plant, options.verbose);
  cluster.trace_key(options.trace_key);
  History history;
  WorkloadSettings workload_settings;
  workload_settings.clients = setup.clients;
  Workload workload(world, cluster, history, workload_settings, options.verbose);
  FaultInjector faults(world, network, cluster, setup.faults, options.verbose);
  // Figures for the summary, whichever way the run ends.
  struct Collect {
    std::function<void()> run;
    ~Collect() { run(); }
  } collect{[&] {
    count(history, result);
    result.faults = faults.counters();
    result.restarts = cluster.counters().restarts;
    result.planted_hint_drops = cluster.counters().planted_hint_drops;
    result.planted_writes_lost = cluster.counters().planted_writes_lost;
    result.unflushed_writes_lost = cluster.counters().unflushed_writes_lost;
    result.events = world.events_processed();
    result.simulated_s = static_cast<double>(world.now_us()) / kUsPerS;
    result.fingerprint = history.digest() ^ (result.events * 0x9e3779b97f4a7c15ull);
  }};

  auto report_anomalies = [&] {
    for (const auto& anomaly : cluster.anomalies()) fail("protocol: " + anomaly);
    for (const auto& anomaly : workload.anomalies()) fail("protocol: " + anomaly);
  };

  // 1. Form the cluster.
  for (int i = 0; i < setup.nodes; ++i) {
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
  world.run_until(faults_end);

  // 3. Heal and wait for quiescence.
  say("heal");
  workload.stop();
  faults.stop();
  network.heal_all();
  network.profile().loss = 0;
  network.profile().duplicate = 0;
  network.profile().tcp_failure = 0;
  for (int i = 0; i < setup.nodes; ++i) {
    if (!cluster.node(i).up()) cluster.start(i);
  }
  const SimTimeUs healed_at = world.now_us();
  const bool quiet = run_until(world, healed_at + kQuiesceLimitUs, [&] {
    if (!cluster.quiescence_gaps().empty() || workload.in_flight() > 0) return false;
    world.run_until(world.now_us() + kSettleUs);
    return cluster.quiescence_gaps().empty() && workload.in_flight() == 0;
  });
  result.quiesce_s = static_cast<double>(world.now_us() - healed_at) / kUsPerS;
  if (!quiet) {
    fail(world.overloaded() ? "event budget exhausted (livelock?)"
                            : "not quiescent 120 s after heal: " + cluster.quiescence_gaps());
    report_anomalies();
    return;
  }
  say("quiescent");

  // 4. Check.
  ReplicaCheck replica_check =
      check_replicas(history, cluster, kReplicas, options.tolerances,
                     core::CoordinatorConfig{}.request_timeout_ms * kUsPerMs);
  for (auto& violation : replica_check.violations) fail(std::move(violation));
  result.tolerated = replica_check.tolerated;
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
