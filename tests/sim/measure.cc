#include "tests/sim/measure.h"

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <vector>

#include "tests/sim/scenarios.h"
#include "tests/sim/simulation.h"

namespace ringkv::membership::sim {

namespace {

struct Figures {
  std::vector<TimeMs> spread_ms;  // per trial: time to 99.9% of the other nodes
  double datagrams_per_node_period_spreading = 0;
  double datagrams_per_node_period_idle = 0;
  TimeMs settle_ms = 0;
};

Figures measure_size(int size, const MeasureOptions& options) {
  Config config = simulation_config();
  config.push_pull_interval_ms = 30000;  // memberlist's default, as Serf's model assumes
  config.reconnect_interval_ms = 30000;
  Simulation sim(options.seed * 1000003 + static_cast<uint64_t>(size), size, config);
  sim.network() = NetworkProfile{options.loss, 0.0, 1, 5};
  Figures figures;

  // Everyone starts knowing everyone. The records each node was taught sit in its broadcast
  // queue; wait until those queues drain so the trials see a quiet cluster.
  for (int i = 0; i < size; ++i) sim.start(i);
  for (int i = 0; i < size; ++i) sim.teach_everyone(i);
  const TimeMs settle_from = sim.now();
  const Config& c = sim.config();
  const uint32_t limit =
      static_cast<uint32_t>(c.retransmit_mult * std::max(1.0, std::ceil(std::log10(size + 1.0))));
  // Each node must push size records `limit` times, about 20 per datagram, 16 datagrams per
  // second; give it that long plus slack.
  const TimeMs settle_ms =
      std::max<TimeMs>(5000, static_cast<TimeMs>(size) * limit / 20 * 1000 / 16 + 5000);
  sim.run_until(settle_from + settle_ms);
  figures.settle_ms = settle_ms;

  // Idle cost over ten probe periods.
  const uint64_t idle_start = sim.counters().datagrams_sent;
  sim.run_until(sim.now() + 10 * c.probe_interval_ms);
  figures.datagrams_per_node_period_idle =
      static_cast<double>(sim.counters().datagrams_sent - idle_start) / size / 10.0;

  const std::size_t others = static_cast<std::size_t>(size - 1);
  const std::size_t needed =
      static_cast<std::size_t>(std::ceil(0.999 * static_cast<double>(others)));
  uint64_t spreading_datagrams = 0;
  TimeMs spreading_ms = 0;
  for (int trial = 0; trial < options.trials; ++trial) {
    const int origin = static_cast<int>(uniform_below(sim.rng(), static_cast<uint64_t>(size)));
    const std::string& origin_id = sim.node_id(origin);
    std::vector<char> knows(static_cast<std::size_t>(size), 0);
    std::size_t knowing = 0;
    TimeMs reached_at = -1;
    const uint64_t target = sim.swim(origin)->self().incarnation + 1;
    const TimeMs started_at = sim.now();
    sim.on_event = [&](int node, const Event& event) {
      if (event.member.id != origin_id || event.member.incarnation < target || knows[node]) return;
      knows[node] = 1;
      if (++knowing == needed && reached_at < 0) reached_at = sim.now();
    };
    const uint64_t before = sim.counters().datagrams_sent;
    const RingStatus current = sim.swim(origin)->self().ring_status;
    sim.set_ring_status(
        origin, current == RingStatus::kNormal ? RingStatus::kLeaving : RingStatus::kNormal);
    while (reached_at < 0 && sim.now() - started_at < 60000) sim.run_until(sim.now() + 10);
    // Count the cost over the whole life of the update: until it is retired everywhere.
    sim.run_until(started_at + 5000);
    spreading_datagrams += sim.counters().datagrams_sent - before;
    spreading_ms += sim.now() - started_at;
    sim.on_event = nullptr;
    figures.spread_ms.push_back(reached_at < 0 ? -1 : reached_at - started_at);
    sim.run_until(sim.now() + 5000);
  }
  figures.datagrams_per_node_period_spreading =
      static_cast<double>(spreading_datagrams) / size /
      (static_cast<double>(spreading_ms) / static_cast<double>(c.probe_interval_ms));
  return figures;
}

}  // namespace

int run_measure(const MeasureOptions& options) {
  std::printf(
      "membership_sim --measure: gossip 200 ms to 3 nodes, probe 1 s, retransmit mult 4, "
      "delay 1-5 ms, loss %.1f%%, %d trials per size\n",
      options.loss * 100.0, options.trials);
  std::printf("%6s  %28s  %26s\n", "nodes", "time to 99.9% (mean/p50/max)",
              "datagrams/node/probe period");
  for (int size : options.sizes) {
    const Figures figures = measure_size(size, options);
    std::vector<TimeMs> sorted = figures.spread_ms;
    std::sort(sorted.begin(), sorted.end());
    const bool all_reached = !sorted.empty() && sorted.front() >= 0;
    const double mean =
        std::accumulate(sorted.begin(), sorted.end(), 0.0) / static_cast<double>(sorted.size());
    if (!all_reached) {
      std::printf("%6d  some update never reached 99.9%% of the nodes\n", size);
      continue;
    }
    std::printf("%6d  %8.2f s %6.2f s %6.2f s  %9.2f spreading %6.2f idle\n", size, mean / 1000.0,
                static_cast<double>(sorted[sorted.size() / 2]) / 1000.0,
                static_cast<double>(sorted.back()) / 1000.0,
                figures.datagrams_per_node_period_spreading,
                figures.datagrams_per_node_period_idle);
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace ringkv::membership::sim
