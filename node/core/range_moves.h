// Range moves: which token ranges change hands between two rings, and who
// holds them before and after. The plans of every topology change come from
// here: a joining node pulls the ranges it appears in `to` from their `from`
// replicas; a leaving node pushes what it holds to the new `to` nodes; after
// a removenode each node pulls what it gained from the surviving `from`.
//
// Pure functions over immutable rings. Cost: one preference-list lookup in
// each ring per token of either ring, O(T log T); ~10 ms for 100 nodes of
// 1024 vnodes.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "node/core/ring.h"

namespace ringkv::core {

struct RangeMove {
  TokenRange range;
  std::vector<std::string> from;  // node ids replicating the range before, preference order
  std::vector<std::string> to;    // node ids replicating it after that did not before
};

// Ranges (merged where adjacent with the same from/to) whose replica set under
// `after` holds nodes it does not under `before`, with n replicas per key.
std::vector<RangeMove> range_moves(const Ring& before, const Ring& after, size_t n);

// The ranges `self_id` replicates (n replicas per key), each with the other
// replicas of its keys (preference order), merged where adjacent with the
// same others: what anti-entropy compares.
struct SharedRange {
  TokenRange range;
  std::vector<std::string> others;
};
std::vector<SharedRange> shared_ranges(const Ring& ring, const std::string& self_id, size_t n);

// The position ranges of the ring `self_id` does not replicate (n replicas per
// key): what cleanup may drop. Empty when the node replicates everything and
// also when it is not in the ring at all (a node outside the ring keeps its data).
std::vector<PositionRange> unowned_ranges(const Ring& ring, const std::string& self_id, size_t n);

}  // namespace ringkv::core
