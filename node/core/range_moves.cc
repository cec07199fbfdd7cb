#include "node/core/range_moves.h"

#include <algorithm>

namespace ringkv::core {
namespace {

std::vector<std::string> ids_of(const std::vector<const RingNode*>& nodes) {
  std::vector<std::string> ids;
  ids.reserve(nodes.size());
  for (const RingNode* node : nodes) ids.push_back(node->id);
  return ids;
}

}  // namespace

std::vector<RangeMove> range_moves(const Ring& before, const Ring& after, size_t n) {
  // Between two consecutive tokens of either ring, both preference lists are constant.
  std::vector<uint64_t> bounds(before.tokens().begin(), before.tokens().end());
  bounds.insert(bounds.end(), after.tokens().begin(), after.tokens().end());
  std::sort(bounds.begin(), bounds.end());
  bounds.erase(std::unique(bounds.begin(), bounds.end()), bounds.end());
  if (bounds.empty() || after.tokens().empty()) return {};

  std::vector<RangeMove> moves;
  for (size_t i = 0; i < bounds.size(); ++i) {
    const uint64_t end = bounds[i];
    const uint64_t start = bounds[i == 0 ? bounds.size() - 1 : i - 1];
    std::vector<std::string> from = ids_of(before.preference_list(end, n));
    std::vector<std::string> to;
    for (const RingNode* node : after.preference_list(end, n)) {
      if (std::find(from.begin(), from.end(), node->id) == from.end()) to.push_back(node->id);
    }
    if (to.empty()) continue;
    if (!moves.empty() && moves.back().range.end_inclusive == start && moves.back().from == from &&
        moves.back().to == to) {
      moves.back().range.end_inclusive = end;
    } else {
      moves.push_back(RangeMove{TokenRange{start, end}, std::move(from), std::move(to)});
    }
  }
  // The last move may continue into the first across the wrap.
  if (moves.size() > 1 && moves.back().range.end_inclusive == moves.front().range.start_exclusive &&
      moves.back().from == moves.front().from && moves.back().to == moves.front().to) {
    moves.front().range.start_exclusive = moves.back().range.start_exclusive;
    moves.pop_back();
  }
  return moves;
}

std::vector<SharedRange> shared_ranges(const Ring& ring, const std::string& self_id, size_t n) {
  const auto tokens = ring.tokens();
  std::vector<SharedRange> out;
  for (size_t i = 0; i < tokens.size(); ++i) {
    const uint64_t end = tokens[i];
    const uint64_t start = tokens[i == 0 ? tokens.size() - 1 : i - 1];
    if (start == end && tokens.size() > 1) continue;  // a tied token owns nothing
    std::vector<std::string> replicas = ids_of(ring.preference_list(end, n));
    auto self = std::find(replicas.begin(), replicas.end(), self_id);
    if (self == replicas.end()) continue;
    replicas.erase(self);
    if (!out.empty() && out.back().range.end_inclusive == start && out.back().others == replicas) {
      out.back().range.end_inclusive = end;
    } else {
      out.push_back(SharedRange{TokenRange{start, end}, std::move(replicas)});
    }
  }
  if (out.size() > 1 && out.back().range.end_inclusive == out.front().range.start_exclusive &&
      out.back().others == out.front().others) {
    out.front().range.start_exclusive = out.back().range.start_exclusive;
    out.pop_back();
  }
  return out;
}

std::vector<PositionRange> unowned_ranges(const Ring& ring, const std::string& self_id, size_t n) {
  const auto owned = ring.ranges_of(self_id, n);  // ordered by end, merged
  if (owned.empty() || owned.front().is_full()) return {};
  std::vector<PositionRange> out;
  for (size_t i = 0; i < owned.size(); ++i) {
    // The gap after range i runs to the start of the next one.
    const TokenRange gap{owned[i].end_inclusive, owned[(i + 1) % owned.size()].start_exclusive};
    if (gap.start_exclusive == gap.end_inclusive) continue;  // adjacent: no gap
    for (const PositionRange& part : scan_ranges(gap)) out.push_back(part);
  }
  return out;
}

}  // namespace ringkv::core
