// Measurement mode: how fast an update spreads and what it costs, at several cluster sizes.
//
// For each size, a cluster is built with full tables (no join storm), left to settle, and then
// one node at a time publishes a new incarnation (a ring-status change). Reported: time until
// 99.9% of the other nodes know it (mean, p50, max over trials), and datagrams sent per node
// per probe period while it spreads and when idle. Network: 1-5 ms delay, no loss unless asked.
#pragma once

#include <cstdint>
#include <vector>

namespace ringkv::membership::sim {

struct MeasureOptions {
  std::vector<int> sizes{10, 100, 1000};
  int trials = 10;
  double loss = 0.0;
  uint64_t seed = 1;
};

// Prints one line per size; returns 0.
int run_measure(const MeasureOptions& options);

}  // namespace ringkv::membership::sim
