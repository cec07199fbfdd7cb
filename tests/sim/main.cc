// membership_sim: runs simulated membership scenarios over many seeds, or measures
// dissemination (--measure). A failing seed prints the one command that replays it.
//
//   membership_sim --seed 1 --seeds 1000                 seeds 1..1000, mixed scenarios
//   membership_sim --seed 42 --seeds 1 --nodes 7 --scenario churn --verbose
//   membership_sim --measure [--measure-sizes 10,100,1000] [--trials 10]
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <string>
#include <vector>

#include "membership/random.h"
#include "tests/sim/measure.h"
#include "tests/sim/scenarios.h"

namespace sim = ringkv::membership::sim;

namespace {

// Node count and scenario for a seed, when not fixed by flags; derived from the seed alone so
// a replay of one seed gets the same.
int nodes_for(uint64_t seed, int nodes_min, int nodes_max) {
  ringkv::membership::Rng rng(seed ^ 0x9e3779b97f4a7c15ull);
  return nodes_min + static_cast<int>(ringkv::membership::uniform_below(
                         rng, static_cast<uint64_t>(nodes_max - nodes_min + 1)));
}

sim::Scenario scenario_for(uint64_t seed) {
  static constexpr sim::Scenario kAll[] = {sim::Scenario::kChurn, sim::Scenario::kLossy,
                                           sim::Scenario::kCrash};
  return kAll[seed % 3];
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Deterministic simulation of ringkv membership (SWIM + Lifeguard)"};
  uint64_t first_seed = 1;
  uint64_t seed_count = 100;
  int nodes = 0;
  int nodes_min = 3;
  int nodes_max = 12;
  std::string scenario_name = "mixed";
  bool verbose = false;
  bool measure = false;
  sim::MeasureOptions measure_options;
  app.add_option("--seed", first_seed, "first seed");
  app.add_option("--seeds", seed_count, "how many consecutive seeds to run");
  app.add_option("--nodes", nodes, "cluster size (default: from each seed, 3..12)");
  app.add_option("--nodes-min", nodes_min, "smallest cluster when sizes come from seeds");
  app.add_option("--nodes-max", nodes_max, "largest cluster when sizes come from seeds");
  app.add_option("--scenario", scenario_name, "churn, lossy, crash, forged or mixed (by seed)")
      ->check(CLI::IsMember({"churn", "lossy", "crash", "forged", "mixed"}));
  app.add_flag("--verbose", verbose, "print each fault as it is injected");
  app.add_flag("--measure", measure, "measure dissemination instead of checking");
  app.add_option("--measure-sizes", measure_options.sizes, "cluster sizes to measure")
      ->delimiter(',');
  app.add_option("--trials", measure_options.trials, "updates measured per size");
  app.add_option("--loss", measure_options.loss, "datagram loss while measuring (0..1)");
  CLI11_PARSE(app, argc, argv);
  if (nodes_min < 1 || nodes_max < nodes_min) {
    std::fprintf(stderr, "need 1 <= --nodes-min <= --nodes-max\n");
    return 2;
  }

  if (measure) {
    measure_options.seed = first_seed;
    return sim::run_measure(measure_options);
  }

  const auto started = std::chrono::steady_clock::now();
  uint64_t passed = 0;
  uint64_t failed = 0;
  int64_t worst_convergence_ms = 0;
  uint64_t worst_convergence_seed = 0;
  int64_t worst_detection_ms = 0;
  int64_t worst_rejoin_ms = 0;
  uint64_t datagrams = 0;
  for (uint64_t seed = first_seed; seed < first_seed + seed_count; ++seed) {
    const int size = nodes > 0 ? nodes : nodes_for(seed, nodes_min, nodes_max);
    sim::Scenario scenario = scenario_for(seed);
    if (scenario_name == "churn") scenario = sim::Scenario::kChurn;
    if (scenario_name == "lossy") scenario = sim::Scenario::kLossy;
    if (scenario_name == "crash") scenario = sim::Scenario::kCrash;
    if (scenario_name == "forged") scenario = sim::Scenario::kForged;
    if (verbose) {
      std::printf("seed %" PRIu64 ": %s, %d nodes\n", seed, sim::to_string(scenario), size);
    }
    const sim::Outcome outcome = sim::run_scenario(scenario, seed, size, verbose);
    datagrams += outcome.datagrams;
    if (outcome.ok) {
      ++passed;
      if (outcome.convergence_ms > worst_convergence_ms) {
        worst_convergence_ms = outcome.convergence_ms;
        worst_convergence_seed = seed;
      }
      worst_detection_ms = std::max(worst_detection_ms, outcome.detection_ms);
      worst_rejoin_ms = std::max(worst_rejoin_ms, outcome.rejoin_ms);
      continue;
    }
    ++failed;
    std::printf("FAIL seed=%" PRIu64 " scenario=%s nodes=%d: %s\n", seed, sim::to_string(scenario),
                size, outcome.failure.c_str());
    std::printf("  replay: %s --seed %" PRIu64 " --seeds 1 --nodes %d --scenario %s --verbose\n",
                argv[0], seed, size, sim::to_string(scenario));
    std::fflush(stdout);
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::printf("seeds %" PRIu64 "..%" PRIu64
              " (%s): worst convergence after faults %.1f s (seed %" PRIu64
              "), worst crash detection %.1f s, worst rejoin %.1f s, %" PRIu64
              " datagrams simulated in %.1f s\n",
              first_seed, first_seed + seed_count - 1, scenario_name.c_str(),
              static_cast<double>(worst_convergence_ms) / 1000.0, worst_convergence_seed,
              static_cast<double>(worst_detection_ms) / 1000.0,
              static_cast<double>(worst_rejoin_ms) / 1000.0, datagrams, seconds);
  std::printf("membership_sim: %" PRIu64 " passed, %" PRIu64 " failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
