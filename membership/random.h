// Deterministic randomness for the membership state machine.
//
// The generator is owned by value and seeded by the caller, so a run is reproducible from its
// seed. The helpers below are written out rather than taken from <random>'s distributions,
// whose results the standard leaves to each library: a simulator seed must replay the same
// way with any standard library.
#pragma once

#include <cstdint>
#include <random>
#include <utility>
#include <vector>

#include "membership/check.h"

namespace ringkv::membership {

using Rng = std::mt19937_64;

// Uniform in [0, bound). REQUIRES: bound > 0.
inline uint64_t uniform_below(Rng& rng, uint64_t bound) {
  MEMBERSHIP_CHECK(bound > 0, "a uniform draw needs a non-empty range");
  // Rejection sampling removes the modulo bias of the top partial block.
  const uint64_t limit = Rng::max() - (Rng::max() % bound + 1) % bound;
  uint64_t value = rng();
  while (value > limit) value = rng();
  return value % bound;
}

// Uniform in [low, high]. REQUIRES: low <= high.
inline int64_t uniform_between(Rng& rng, int64_t low, int64_t high) {
  MEMBERSHIP_CHECK(low <= high, "a uniform draw needs low <= high");
  const uint64_t span = static_cast<uint64_t>(high - low) + 1;
  if (span == 0) return static_cast<int64_t>(rng());  // the full 64-bit range
  return low + static_cast<int64_t>(uniform_below(rng, span));
}

// Fisher-Yates shuffle.
template <typename T>
void shuffle(std::vector<T>& items, Rng& rng) {
  for (std::size_t i = items.size(); i > 1; --i) {
    std::swap(items[i - 1], items[uniform_below(rng, i)]);
  }
}

}  // namespace ringkv::membership
