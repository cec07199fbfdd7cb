// cluster_sim: whole-cluster deterministic simulation of ringkv. Runs many seeds, each a
// cluster of real NodeCores over a simulated network, clock and disks with crashes,
// partitions and loss, and checks that no acknowledged write is lost (TESTING.md T10, C1-C4).
// The first failing seed prints the one command that replays it.
//
//   cluster_sim --seed 1 --seeds 250                   seeds 1..250
//   cluster_sim --seed 42 --seeds 1 --verbose          one seed, every fault and operation
//   cluster_sim --seed 1 --seeds 50 --plant drop-hints must fail: the checkers catch it
#include <CLI/CLI.hpp>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <map>
#include <string>

#include "tests/sim/cluster/plant.h"
#include "tests/sim/cluster/scenario.h"
#include "tests/sim/cluster/tolerances.h"

namespace cs = ringkv::cluster_sim;

namespace {

constexpr size_t kViolationsShown = 20;

struct Totals {
  cs::OpCounts puts;
  cs::OpCounts gets;
  uint64_t final_reads = 0;
  cs::FaultCounters faults;
  cs::StorageFaultCounters storage_faults;
  uint64_t restarts = 0;
  uint64_t planted_hint_drops = 0;
  uint64_t planted_writes_lost = 0;
  uint64_t unflushed_writes_lost = 0;
  uint64_t events = 0;
  double simulated_s = 0;
  double quiesce_max_s = 0;
  std::map<std::string, uint64_t> tolerated;
  cs::TopologyCounters topology;
  uint64_t topology_runs = 0;
  uint64_t cleanup_requests = 0;
  uint64_t stale_hints = 0;
  uint64_t stale_hint_runs = 0;
  uint64_t placement_checked = 0;

  void add(const cs::ScenarioResult& result) {
    for (auto [total, one] : {std::pair{&puts, &result.puts}, std::pair{&gets, &result.gets}}) {
      total->ok += one->ok;
      total->fail += one->fail;
      total->info += one->info;
    }
    final_reads += result.final_reads;
    faults.crashes += result.faults.crashes;
    faults.partitions += result.faults.partitions;
    faults.isolations += result.faults.isolations;
    faults.one_way_cuts += result.faults.one_way_cuts;
    storage_faults.write_errors += result.storage_faults.write_errors;
    storage_faults.flush_errors += result.storage_faults.flush_errors;
    storage_faults.read_errors += result.storage_faults.read_errors;
    storage_faults.crashes += result.storage_faults.crashes;
    restarts += result.restarts;
    planted_hint_drops += result.planted_hint_drops;
    planted_writes_lost += result.planted_writes_lost;
    unflushed_writes_lost += result.unflushed_writes_lost;
    events += result.events;
    simulated_s += result.simulated_s;
    quiesce_max_s = std::max(quiesce_max_s, result.quiesce_s);
    for (const auto& [name, count] : result.tolerated) tolerated[name] += count;
    if (!result.topology.empty()) ++topology_runs;
    const cs::TopologyCounters& t = result.topology_counters;
    topology.joins_started += t.joins_started;
    topology.decommissions_sent += t.decommissions_sent;
    topology.decommissions_accepted += t.decommissions_accepted;
    topology.decommissions_finished += t.decommissions_finished;
    topology.removals_sent += t.removals_sent;
    topology.removals_accepted += t.removals_accepted;
    topology.stream_requests += t.stream_requests;
    topology.stream_crashes += t.stream_crashes;
    topology.refused_starts += t.refused_starts;
    cleanup_requests += result.cleanup_requests;
    stale_hints += result.stale_hints;
    stale_hint_runs += result.stale_hints > 0 ? 1 : 0;
    placement_checked += result.placement_checked;
  }
};

std::string replay_command(uint64_t seed, int nodes, int duration_s, bool duration_given,
                           cs::Plant plant, const cs::Tolerances& tolerances,
                           cs::TopologyMode topology, bool storage_faults, int racks) {
  std::string command = "cluster_sim --seed " + std::to_string(seed) + " --seeds 1";
  if (nodes > 0) command += " --nodes " + std::to_string(nodes);
  if (racks > 0) command += " --racks " + std::to_string(racks);
  if (topology != cs::TopologyMode::kNone) {
    command += " --topology " + std::string(cs::topology_mode_name(topology));
  }
  if (storage_faults) command += " --storage-faults";
  if (duration_given) command += " --duration-s " + std::to_string(duration_s);
  if (plant != cs::Plant::kNone) command += " --plant " + std::string(cs::plant_name(plant));
  if (tolerances.any()) command += " --tolerate " + cs::tolerances_text(tolerances);
  return command + " --verbose";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Deterministic whole-cluster simulation of ringkv"};
  uint64_t first_seed = 1;
  uint64_t seed_count = 100;
  int nodes = 0;
  int duration_s = 20;
  bool verbose = false;
  bool keep_going = false;
  bool check_determinism = false;
  bool storage_faults = false;
  std::string plant_text = "none";
  std::string tolerate_text = "none";
  std::string trace_key;
  std::string topology_text = "none";
  int racks = 0;
  app.add_option("--seed", first_seed, "first seed");
  app.add_option("--seeds", seed_count, "how many consecutive seeds to run");
  app.add_option("--nodes", nodes, "cluster size (default: from each seed, 3..7)")
      ->check(CLI::Range(3, 7));
  auto* duration_option =
      app.add_option("--duration-s", duration_s, "simulated seconds of the fault phase")
          ->check(CLI::Range(1, 600))
          ->capture_default_str();
  app.add_flag("--verbose", verbose, "trace faults, membership changes and every operation");
  app.add_flag("--storage-faults", storage_faults,
               "every node's storage fails now and then: write, flush and read errors, and "
               "crashes between a write and its flush, at rates drawn per seed");
  app.add_flag("--check-determinism", check_determinism,
               "run every seed twice and fail if the two runs differ in any way");
  app.add_flag("--keep-going", keep_going,
               "run every seed, printing one line per failing seed, instead of stopping");
  app.add_option("--plant", plant_text,
                 "plant a known bug: none, drop-hints, lose-unsynced, skip-cleanup (with "
                 "--topology: the harness never runs cleanup, so C6 must find extra copies)")
      ->check(CLI::IsMember({"none", "drop-hints", "lose-unsynced", "skip-cleanup"}))
      ->capture_default_str();
  app.add_option("--tolerate", tolerate_text,
                 "known defects to excuse, comma-separated: stand-in-hint-loss, "
                 "unflushed-hints, known (all), none")
      ->check([](const std::string& text) {
        return cs::parse_tolerances(text) ? std::string() : "unknown tolerance in " + text;
      })
      ->capture_default_str();
  app.add_option("--trace-key", trace_key, "trace every request about this key");
  app.add_option("--racks", racks,
                 "rack-aware placement: node i (joiners too) in rack i mod RACKS (default: one rack)")
      ->check(CLI::Range(1, 7));
  app.add_option("--topology", topology_text,
                 "topology changes under load: none, join (a node joins), leave (a node is "
                 "decommissioned), remove (a node is killed and removed), mixed (two or three "
                 "of those), any (one of the four, drawn per seed), join-dies (a joiner killed "
                 "for good mid-join, then removed); --nodes then counts the founders")
      ->check(CLI::IsMember({"none", "join", "leave", "remove", "mixed", "any", "join-dies"}))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  const cs::TopologyMode topology = *cs::parse_topology_mode(topology_text);
  // A traced run that crashes inside the code under test keeps its trace up to the crash.
  if (verbose) std::setvbuf(stdout, nullptr, _IOLBF, 0);
  if (nodes > 0 && nodes < 4 &&
      (topology == cs::TopologyMode::kLeave || topology == cs::TopologyMode::kRemove)) {
    std::fprintf(stderr, "--topology %s needs --nodes >= 4 (the final ring keeps 3 nodes)\n",
                 topology_text.c_str());
    return 2;
  }
  const cs::Plant plant = *cs::parse_plant(plant_text);
  const cs::Tolerances tolerances = *cs::parse_tolerances(tolerate_text);

  const auto started = std::chrono::steady_clock::now();
  Totals totals;
  uint64_t passed = 0;
  uint64_t failed = 0;
  for (uint64_t seed = first_seed; seed < first_seed + seed_count; ++seed) {
    cs::ScenarioOptions options{.seed = seed,
                                .nodes = nodes,
                                .duration_s = duration_s,
                                .plant = plant,
                                .verbose = verbose,
                                .tolerances = tolerances,
                                .trace_key = trace_key,
                                .topology = topology,
                                .storage_faults = storage_faults,
                                .racks = racks};
    cs::ScenarioResult result = cs::run_scenario(options);
    if (check_determinism && cs::run_scenario(options).fingerprint != result.fingerprint) {
      result.passed = false;
      result.violations.insert(result.violations.begin(),
                               "nondeterminism: a second run of this seed took another course");
    }
    totals.add(result);
    if (result.passed) {
      ++passed;
      continue;
    }
    ++failed;
    if (keep_going && failed > 1) {
      std::printf("FAIL seed %" PRIu64 ": %s\n", seed, result.violations.front().c_str());
      continue;
    }
    std::printf("FAIL seed %" PRIu64 " (%s): %zu violations\n", seed, result.setup.c_str(),
                result.violations.size());
    for (size_t i = 0; i < result.violations.size() && i < kViolationsShown; ++i) {
      std::printf("  %s\n", result.violations[i].c_str());
    }
    if (result.violations.size() > kViolationsShown) {
      std::printf("  ... and %zu more\n", result.violations.size() - kViolationsShown);
    }
    std::printf("replay: %s\n", replay_command(seed, nodes, duration_s,
                                               duration_option->count() > 0, plant, tolerances,
                                               topology, storage_faults, racks)
                                    .c_str());
    if (!keep_going) break;
  }
  const double wall_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::printf("cluster_sim: %" PRIu64 " seeds from %" PRIu64
              ", topology %s, plant %s, %.1f s wall, %.0f s simulated, "
              "%" PRIu64 " events\n",
              passed + failed, first_seed, topology_text.c_str(),
              std::string(cs::plant_name(plant)).c_str(), wall_s,
              totals.simulated_s, totals.events);
  std::printf("  puts ok/fail/info %" PRIu64 "/%" PRIu64 "/%" PRIu64 ", gets ok/fail/info %" PRIu64
              "/%" PRIu64 "/%" PRIu64 ", final reads %" PRIu64 "\n",
              totals.puts.ok, totals.puts.fail, totals.puts.info, totals.gets.ok, totals.gets.fail,
              totals.gets.info, totals.final_reads);
  std::printf("  faults %" PRIu64 ": crashes %" PRIu64 " (restarts %" PRIu64
              "), partitions %" PRIu64 ", isolations %" PRIu64 ", one-way cuts %" PRIu64
              "; unflushed changes lost in "
              "crashes %" PRIu64 "; slowest quiescence %.1f s\n",
              totals.faults.total(), totals.faults.crashes, totals.restarts,
              totals.faults.partitions, totals.faults.isolations, totals.faults.one_way_cuts,
              totals.unflushed_writes_lost, totals.quiesce_max_s);
  if (storage_faults) {
    const cs::StorageFaultCounters& s = totals.storage_faults;
    std::printf("  storage faults: write errors %" PRIu64 ", flush errors %" PRIu64
                ", read errors %" PRIu64 ", crashes between write and flush %" PRIu64 "\n",
                s.write_errors, s.flush_errors, s.read_errors, s.crashes);
  }
  if (tolerances.any()) {
    std::string excused;
    for (const auto& [name, count] : totals.tolerated) {
      excused += " " + name + " " + std::to_string(count) + ",";
    }
    std::printf("  tolerating %s: replica gaps excused:%s\n",
                cs::tolerances_text(tolerances).c_str(),
                excused.empty() ? " none" : excused.substr(0, excused.size() - 1).c_str());
  }
  if (totals.topology_runs > 0) {
    const cs::TopologyCounters& t = totals.topology;
    std::printf("  topology (%" PRIu64 " runs): joins %" PRIu64 ", decommissions sent/accepted/"
                "finished %" PRIu64 "/%" PRIu64 "/%" PRIu64 ", removenodes sent/accepted %" PRIu64
                "/%" PRIu64 ", stream requests %" PRIu64 ", mid-stream crashes %" PRIu64
                ", decommissioned restarts refused %" PRIu64 ", cleanups sent %" PRIu64
                ", copies placement-checked %" PRIu64 "\n",
                totals.topology_runs, t.joins_started, t.decommissions_sent,
                t.decommissions_accepted, t.decommissions_finished, t.removals_sent,
                t.removals_accepted, t.stream_requests, t.stream_crashes, t.refused_starts,
                totals.cleanup_requests, totals.placement_checked);
    std::printf("  hints still held for gone nodes at the end: %" PRIu64 " in %" PRIu64
                " runs (kept until their TTL)\n",
                totals.stale_hints, totals.stale_hint_runs);
  }
  if (plant != cs::Plant::kNone) {
    std::printf("  planted: %" PRIu64 " hint writes dropped, %" PRIu64 " flushed changes lost\n",
                totals.planted_hint_drops, totals.planted_writes_lost);
  }
  std::printf("%" PRIu64 " passed, %" PRIu64 " failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
