// Shared by the ring tests: sample positions where placement mistakes live, and node ids of a
// preference list.
#pragma once

#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "node/core/ring.h"

namespace ringkv::test {

// Random positions (seeded) plus every token and its neighbours, where off-by-one mistakes
// live, plus both ends of the position space.
inline std::vector<uint64_t> sample_positions(const core::Ring& ring, size_t random_count,
                                              uint64_t seed) {
  constexpr uint64_t kLast = std::numeric_limits<uint64_t>::max();
  std::mt19937_64 rng(seed);
  std::vector<uint64_t> positions{0, 1, kLast - 1, kLast};
  for (size_t i = 0; i < random_count; ++i) positions.push_back(rng());
  for (uint64_t token : ring.tokens()) {
    positions.push_back(token - 1);
    positions.push_back(token);
    positions.push_back(token + 1);
  }
  return positions;
}

inline std::vector<std::string> ids_of(const std::vector<const core::RingNode*>& nodes) {
  std::vector<std::string> ids;
  for (const core::RingNode* node : nodes) ids.push_back(node->id);
  return ids;
}

}  // namespace ringkv::test
