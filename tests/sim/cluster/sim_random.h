// SimRandom: the one source of randomness of a simulated cluster run.
//
// Every choice the simulator makes (delays, losses, faults, keys, node ids, the seeds handed
// to each node's SWIM) is drawn from this generator in a fixed order, so a seed replays
// exactly. Draws use membership/random.h's helpers rather than <random>'s distributions,
// whose results the standard leaves to each library.
#pragma once

#include <cstdint>

#include "membership/random.h"

namespace ringkv::cluster_sim {

class SimRandom {
 public:
  explicit SimRandom(uint64_t seed) : rng_(seed) {}

  uint64_t next() { return rng_(); }
  // Uniform in [0, bound). REQUIRES: bound > 0.
  uint64_t below(uint64_t bound) { return membership::uniform_below(rng_, bound); }
  // Uniform in [low, high]. REQUIRES: low <= high.
  int64_t between(int64_t low, int64_t high) {
    return membership::uniform_between(rng_, low, high);
  }
  // Uniform in [0, 1), from the top 53 bits.
  double unit() { return static_cast<double>(rng_() >> 11) * 0x1.0p-53; }
  // True with probability p; draws nothing when p <= 0, so a fault that is off does not shift
  // the rest of the run's draws.
  bool chance(double p) { return p > 0 && unit() < p; }

 private:
  membership::Rng rng_;
};

}  // namespace ringkv::cluster_sim
