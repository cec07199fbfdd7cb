// ring_balance: how evenly the ring spreads keys, and what building and using it costs.
//
// For each vnode count and cluster size it builds `trials` rings of nodes with random 16-byte
// ids and reports ownership max/mean across nodes (the design's balance goal is <= 1.10 for 3
// to 50 nodes) for primary ownership (n = 1) and replicated ownership (n = --replicas), as
// the mean over trials and the worst trial. Then it times Ring::build for 50 and 1000 nodes
// and preference_list lookups. The ids come from a seeded generator, printed, so a run can be
// repeated exactly.
//
// With --racks (nodes per rack, e.g. 3,3,2) the clusters are that layout instead of --sizes,
// placed rack-aware (node/core/ring.h), and each rack's mean per-node replicated share over
// the mean share of all nodes is reported too; the timings then use 1000 nodes spread over the
// same racks in the same proportions.
//
//   ring_balance                          default vnodes, sizes 3 5 10 20 50, 20 trials
//   ring_balance --vnodes 256,512,1024 --all-sizes --trials 20
//   ring_balance --racks 3,3,2 --trials 20
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "node/core/ring.h"

namespace {

using ringkv::core::Ring;
using ringkv::core::RingNode;
using Clock = std::chrono::steady_clock;

// Node i goes to rack racks[i % racks.size()] (none: the default rack).
std::vector<RingNode> random_nodes(std::mt19937_64& rng, size_t count, uint32_t vnodes,
                                   const std::vector<std::string>& racks) {
  std::vector<RingNode> nodes;
  nodes.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    std::string id(16, '\0');
    for (size_t half = 0; half < 2; ++half) {
      const uint64_t word = rng();
      for (size_t byte = 0; byte < 8; ++byte) {
        id[half * 8 + byte] = static_cast<char>((word >> (8 * byte)) & 0xff);
      }
    }
    nodes.push_back(RingNode{id, "node" + std::to_string(i),
                             "127.0.0.1:" + std::to_string(7000 + i), vnodes,
                             racks.empty() ? std::string() : racks[i % racks.size()]});
  }
  return nodes;
}

// Busiest node's share over the mean share.
double max_over_mean(const std::vector<double>& shares) {
  const double mean = std::accumulate(shares.begin(), shares.end(), 0.0) / shares.size();
  return *std::max_element(shares.begin(), shares.end()) / mean;
}

struct Balance {
  double mean_primary = 0;
  double worst_primary = 0;
  double mean_replicated = 0;
  double worst_replicated = 0;
  // Per rack (same order as the rack names given): its nodes' mean replicated share over the
  // mean share of all nodes, averaged over trials.
  std::vector<double> rack_per_node;
};

// One name per node: "r0" for the first racks[0] nodes, "r1" for the next racks[1], ...
std::vector<std::string> rack_names(const std::vector<size_t>& racks) {
  std::vector<std::string> names;
  for (size_t rack = 0; rack < racks.size(); ++rack) {
    names.insert(names.end(), racks[rack], "r" + std::to_string(rack));
  }
  return names;
}

Balance measure_balance(std::mt19937_64& rng, size_t node_count, uint32_t vnodes, size_t trials,
                        size_t replicas, const std::vector<size_t>& racks) {
  Balance balance;
  balance.rack_per_node.assign(racks.size(), 0.0);
  const std::vector<std::string> names = rack_names(racks);
  for (size_t trial = 0; trial < trials; ++trial) {
    const Ring ring = Ring::build(random_nodes(rng, node_count, vnodes, names));
    const double primary = max_over_mean(ring.ownership(1));
    const auto shares = ring.ownership(replicas);
    const double replicated = max_over_mean(shares);
    const double mean = std::accumulate(shares.begin(), shares.end(), 0.0) / shares.size();
    for (size_t rack = 0; rack < racks.size(); ++rack) {
      double sum = 0;
      for (size_t i = 0; i < shares.size(); ++i) {
        if (ring.nodes()[i].rack == "r" + std::to_string(rack)) sum += shares[i];
      }
      balance.rack_per_node[rack] += sum / static_cast<double>(racks[rack]) / mean / trials;
    }
    balance.mean_primary += primary / trials;
    balance.mean_replicated += replicated / trials;
    balance.worst_primary = std::max(balance.worst_primary, primary);
    balance.worst_replicated = std::max(balance.worst_replicated, replicated);
  }
  return balance;
}

double elapsed_ms(Clock::time_point since) {
  return std::chrono::duration<double, std::milli>(Clock::now() - since).count();
}

void time_build_and_lookup(std::mt19937_64& rng, size_t node_count, uint32_t vnodes,
                           size_t replicas, const std::vector<size_t>& racks) {
  const std::vector<RingNode> nodes = random_nodes(rng, node_count, vnodes, rack_names(racks));
  constexpr int kBuilds = 5;
  Ring ring;
  double build_ms_min = 1e300;
  for (int i = 0; i < kBuilds; ++i) {
    const auto start = Clock::now();
    ring = Ring::build(nodes);
    build_ms_min = std::min(build_ms_min, elapsed_ms(start));
  }

  constexpr size_t kLookups = 1'000'000;
  std::vector<uint64_t> positions(kLookups);
  for (uint64_t& position : positions) position = rng();
  size_t checksum = 0;
  const auto start = Clock::now();
  for (uint64_t position : positions) checksum += ring.preference_list(position, replicas).size();
  const double lookup_ns = elapsed_ms(start) * 1e6 / kLookups;

  const auto ranges_start = Clock::now();
  const size_t range_count = ring.ranges_of(nodes[0].id, replicas).size();
  const double ranges_ms = elapsed_ms(ranges_start);
  const auto ownership_start = Clock::now();
  const double owned = ring.ownership(replicas)[0];
  const double ownership_ms = elapsed_ms(ownership_start);

  std::printf(
      "  %4zu nodes x %u vnodes = %7zu tokens: build %8.3f ms, preference_list(n=%zu) %6.1f "
      "ns, ranges_of %7.2f ms (%zu ranges), ownership %7.2f ms  [%zu %.3f]\n",
      node_count, vnodes, ring.tokens().size(), build_ms_min, replicas, lookup_ns, ranges_ms,
      range_count, ownership_ms, checksum, owned);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<uint32_t> vnode_counts{ringkv::core::kDefaultVnodes};
  std::vector<size_t> sizes{3, 5, 10, 20, 50};
  size_t trials = 20;
  size_t replicas = 3;
  uint64_t seed = 1;
  bool all_sizes = false;
  bool skip_timing = false;
  std::vector<size_t> racks;

  CLI::App app{"ring_balance: ownership balance and cost of the consistent-hash ring"};
  app.add_option("--vnodes", vnode_counts, "vnode counts to measure")
      ->delimiter(',')
      ->check(CLI::Range(1u, ringkv::core::kVnodesMax))
      ->capture_default_str();
  app.add_option("--sizes", sizes, "cluster sizes")->delimiter(',')->capture_default_str();
  app.add_flag("--all-sizes", all_sizes, "every cluster size from 3 to 50");
  app.add_option("--trials", trials, "random clusters per size")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  app.add_option("--replicas", replicas, "replicas per key (N)")
      ->check(CLI::Range(1, 15))
      ->capture_default_str();
  app.add_option("--seed", seed, "seed of the node id generator")->capture_default_str();
  app.add_flag("--no-timing", skip_timing, "skip the build and lookup timings");
  app.add_option("--racks", racks, "nodes per rack, e.g. 3,3,2: one rack-aware layout instead of --sizes")
      ->delimiter(',')
      ->check(CLI::Range(size_t{1}, size_t{1000}));
  CLI11_PARSE(app, argc, argv);
  if (all_sizes) {
    sizes.clear();
    for (size_t size = 3; size <= 50; ++size) sizes.push_back(size);
  }
  if (!racks.empty()) sizes = {std::accumulate(racks.begin(), racks.end(), size_t{0})};

  std::printf("ring_balance: seed %llu, %zu trials per size, N = %zu, kDefaultVnodes = %u\n",
              static_cast<unsigned long long>(seed), trials, replicas,
              ringkv::core::kDefaultVnodes);
  std::printf("ownership max/mean across nodes (mean over trials / worst trial); goal <= 1.10\n");
  if (!racks.empty()) {
    std::printf("racks:");
    for (size_t rack = 0; rack < racks.size(); ++rack) std::printf(" r%zu=%zu", rack, racks[rack]);
    std::printf(" nodes\n");
  }
  std::mt19937_64 rng(seed);
  for (uint32_t vnodes : vnode_counts) {
    std::printf("\nV = %u\n  nodes   n=1 mean  n=1 worst   n=%zu mean  n=%zu worst\n", vnodes,
                replicas, replicas);
    Balance worst_overall;
    for (size_t size : sizes) {
      const Balance balance = measure_balance(rng, size, vnodes, trials, replicas, racks);
      std::printf("  %5zu   %8.3f  %9.3f   %8.3f  %9.3f\n", size, balance.mean_primary,
                  balance.worst_primary, balance.mean_replicated, balance.worst_replicated);
      for (size_t rack = 0; rack < racks.size(); ++rack) {
        std::printf("  rack r%zu (%zu nodes): per-node share / mean share = %.3f\n", rack,
                    racks[rack], balance.rack_per_node[rack]);
      }
      worst_overall.worst_primary = std::max(worst_overall.worst_primary, balance.worst_primary);
      worst_overall.worst_replicated =
          std::max(worst_overall.worst_replicated, balance.worst_replicated);
    }
    std::printf(
        "  worst over all sizes: n=1 %.3f, n=%zu %.3f -> %s\n", worst_overall.worst_primary,
        replicas, worst_overall.worst_replicated,
        worst_overall.worst_replicated <= 1.10 ? "meets the goal for N" : "MISSES the goal");
  }

  if (!skip_timing) {
    std::printf("\ntiming (build: best of 5; lookups: 1M random positions)\n");
    for (uint32_t vnodes : vnode_counts) {
      time_build_and_lookup(rng, 50, vnodes, replicas, racks);
      time_build_and_lookup(rng, 1000, vnodes, replicas, racks);
    }
  }
  return 0;
}
