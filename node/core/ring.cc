#include "node/core/ring.h"

#include <xxhash.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cassert>
#include <limits>
#include <utility>

namespace ringkv::core {

namespace {

constexpr double kPositionsInverse = 0x1p-64;  // 1 / 2^64: positions to a fraction of the ring

// Hashes id || big-endian vnode index for one node; the id is copied into the buffer once, so
// building a ring of a million tokens does not copy a million ids.
class TokenHasher {
 public:
  explicit TokenHasher(std::string_view node_id) : buffer_(node_id) { buffer_.append(4, '\0'); }

  uint64_t token(uint32_t vnode_index) {
    char* index_bytes = buffer_.data() + buffer_.size() - 4;
    for (int byte = 0; byte < 4; ++byte) {
      index_bytes[byte] = static_cast<char>((vnode_index >> (24 - 8 * byte)) & 0xff);
    }
    return XXH64(buffer_.data(), buffer_.size(), kTokenSeed);
  }

 private:
  std::string buffer_;
};

struct TokenEntry {
  uint64_t token;
  uint32_t node;

  auto operator<=>(const TokenEntry&) const = default;
};

// Sorts entries by (token, node). Tokens are uniform hashes, so a counting sort on their top
// bits into about four entries per bucket, then an insertion sort of each bucket, does the job
// in a few linear passes; std::sort on a 1000-node ring was most of the build time.
std::vector<TokenEntry> sort_entries(const std::vector<TokenEntry>& entries) {
  const int bucket_bits = std::clamp(static_cast<int>(std::bit_width(entries.size())) - 2, 1, 20);
  const size_t bucket_count = size_t{1} << bucket_bits;
  auto bucket_of = [&](const TokenEntry& entry) {
    return static_cast<size_t>(entry.token >> (64 - bucket_bits));
  };
  std::vector<uint32_t> bucket_begin(bucket_count + 1, 0);
  for (const TokenEntry& entry : entries) ++bucket_begin[bucket_of(entry) + 1];
  for (size_t bucket = 0; bucket < bucket_count; ++bucket) {
    bucket_begin[bucket + 1] += bucket_begin[bucket];
  }
  std::vector<TokenEntry> sorted(entries.size());
  std::vector<uint32_t> next(bucket_begin.begin(), bucket_begin.end() - 1);
  for (const TokenEntry& entry : entries) sorted[next[bucket_of(entry)]++] = entry;
  for (size_t bucket = 0; bucket < bucket_count; ++bucket) {
    // Buckets hold a handful of entries unless the tokens are not uniform after all, in which
    // case std::sort keeps the worst case at O(T log T).
    const auto begin = sorted.begin() + bucket_begin[bucket];
    const auto end = sorted.begin() + bucket_begin[bucket + 1];
    if (end - begin <= 32) {
      for (auto it = begin; it != end; ++it) {
        for (auto at = it; at != begin && *at < *(at - 1); --at) std::iter_swap(at, at - 1);
      }
    } else {
      std::sort(begin, end);
    }
  }
  return sorted;
}

// The set of nodes met so far on a walk. Walks usually stop after a handful of nodes (N = 3),
// so the first few are kept in a small array searched linearly; a walk that goes on (hinted
// handoff past many dead nodes, ownership on a tiny ring) switches to a bitmap over all nodes.
class DistinctNodes {
 public:
  explicit DistinctNodes(size_t node_count) : node_count_(node_count) {}

  // True when `node` was not met before (and records it).
  bool insert(uint32_t node) {
    if (seen_.empty()) {
      for (size_t i = 0; i < small_count_; ++i) {
        if (small_[i] == node) return false;
      }
      if (small_count_ < small_.size()) {
        small_[small_count_++] = node;
        return true;
      }
      seen_.assign(node_count_, false);
      for (uint32_t met : small_) seen_[met] = true;
    }
    if (seen_[node]) return false;
    seen_[node] = true;
    return true;
  }

 private:
  std::array<uint32_t, 16> small_{};
  size_t small_count_ = 0;
  size_t node_count_;
  std::vector<bool> seen_;
};

// The racks met so far on a walk: a bit mask up to 64 racks, a bitmap beyond.
class RackSet {
 public:
  explicit RackSet(size_t rack_count) {
    if (rack_count > 64) wide_.assign(rack_count, false);
  }

  // True when `rack` was not met before (and records it).
  bool insert(uint32_t rack) {
    if (wide_.empty()) {
      const uint64_t bit = uint64_t{1} << rack;
      if ((mask_ & bit) != 0) return false;
      mask_ |= bit;
      return true;
    }
    if (wide_[rack]) return false;
    wide_[rack] = true;
    return true;
  }

 private:
  uint64_t mask_ = 0;
  std::vector<bool> wide_;
};

// Node indexes in order: the first 16 in place, more on the heap.
class SmallNodeList {
 public:
  size_t size() const { return small_count_ + more_.size(); }
  uint32_t operator[](size_t i) const { return i < small_count_ ? small_[i] : more_[i - small_count_]; }
  void push_back(uint32_t node) {
    if (small_count_ < small_.size() && more_.empty()) {
      small_[small_count_++] = node;
    } else {
      more_.push_back(node);
    }
  }

 private:
  std::array<uint32_t, 16> small_{};
  size_t small_count_ = 0;
  std::vector<uint32_t> more_;
};

// Appends `range`, the next one clockwise, to `ranges`, merged into the last one when adjacent.
void extend_ranges(std::vector<TokenRange>& ranges, const TokenRange& range) {
  if (!ranges.empty() && ranges.back().end_inclusive == range.start_exclusive) {
    ranges.back().end_inclusive = range.end_inclusive;
  } else {
    ranges.push_back(range);
  }
}

// Finishes ranges gathered clockwise by extend_ranges: the last one may continue into the
// first across the wrap; then ordered by end. A run that went all the way round ends where it
// started: the whole ring, which is also what start == end means.
std::vector<TokenRange> close_ranges(std::vector<TokenRange> ranges) {
  if (ranges.size() > 1 && ranges.back().end_inclusive == ranges.front().start_exclusive) {
    ranges.front().start_exclusive = ranges.back().start_exclusive;
    ranges.pop_back();
  }
  std::sort(ranges.begin(), ranges.end(), [](const TokenRange& a, const TokenRange& b) {
    return a.end_inclusive < b.end_inclusive;
  });
  return ranges;
}

}  // namespace

RingNode to_ring_node(const membership::Member& member) {
  return RingNode{member.id, member.name, member.address, member.vnode_count, member.rack};
}

uint64_t token_of(std::string_view node_id, uint32_t vnode_index) {
  return TokenHasher(node_id).token(vnode_index);
}

bool TokenRange::contains(uint64_t position) const {
  if (is_full()) return true;
  if (start_exclusive < end_inclusive) {
    return position > start_exclusive && position <= end_inclusive;
  }
  return position > start_exclusive || position <= end_inclusive;
}

double TokenRange::fraction() const {
  if (is_full()) return 1.0;
  // Unsigned subtraction is the clockwise distance, wrapping or not.
  return static_cast<double>(end_inclusive - start_exclusive) * kPositionsInverse;
}

std::vector<PositionRange> scan_ranges(const TokenRange& range) {
  constexpr uint64_t kLast = std::numeric_limits<uint64_t>::max();
  if (range.is_full()) return {PositionRange{0, 0}};
  if (range.start_exclusive < range.end_inclusive) {
    // start + 1 cannot overflow (start < end <= kLast); end + 1 wraps to 0, meaning 2^64,
    // exactly when the range ends at the last position.
    return {PositionRange{range.start_exclusive + 1, range.end_inclusive + 1}};
  }
  // Wraps: the tail after start (empty when start is the last position), then the head up to
  // and including end (end < start, so end + 1 does not overflow).
  std::vector<PositionRange> out;
  if (range.start_exclusive != kLast) out.push_back(PositionRange{range.start_exclusive + 1, 0});
  out.push_back(PositionRange{0, range.end_inclusive + 1});
  return out;
}

Ring Ring::build(std::vector<RingNode> nodes) {
  assert(nodes.size() <= std::numeric_limits<uint32_t>::max() &&
         "node indexes of the ring fit 32 bits");
  std::sort(nodes.begin(), nodes.end(),
            [](const RingNode& a, const RingNode& b) { return a.id < b.id; });

  Ring ring;
  size_t token_total = 0;
  for (size_t i = 0; i < nodes.size(); ++i) {
    assert(!nodes[i].id.empty() && "ring nodes have an id");
    assert((i == 0 || nodes[i - 1].id != nodes[i].id) && "ring node ids are unique");
    token_total += std::min(nodes[i].vnodes, kVnodesMax);
    if (nodes[i].vnodes > 0) ++ring.nodes_with_tokens_;
  }

  assert(token_total <= std::numeric_limits<uint32_t>::max() && "token indexes fit 32 bits");
  std::vector<TokenEntry> entries;
  entries.reserve(token_total);
  for (uint32_t node = 0; node < nodes.size(); ++node) {
    TokenHasher hasher(nodes[node].id);
    for (uint32_t vnode = 0; vnode < std::min(nodes[node].vnodes, kVnodesMax); ++vnode) {
      entries.push_back(TokenEntry{hasher.token(vnode), node});
    }
  }
  // Sorting (token, node index) orders tokens clockwise and, because nodes are sorted by id,
  // breaks equal tokens by id: the tie rule every node applies identically.
  entries = sort_entries(entries);
  // One node drawing the same token twice adds nothing but an empty range: keep one.
  entries.erase(std::unique(entries.begin(), entries.end()), entries.end());

  ring.tokens_.reserve(entries.size());
  ring.token_nodes_.reserve(entries.size());
  for (const TokenEntry& entry : entries) {
    ring.tokens_.push_back(entry.token);
    ring.token_nodes_.push_back(entry.node);
  }
  // Racks are numbered in name order among the nodes with tokens; a node without tokens is
  // never met on a walk, so its rack does not count.
  std::vector<std::string> racks;
  for (const RingNode& node : nodes) {
    if (node.vnodes > 0) racks.push_back(node.rack);
  }
  std::sort(racks.begin(), racks.end());
  racks.erase(std::unique(racks.begin(), racks.end()), racks.end());
  ring.rack_count_ = racks.size();
  ring.node_racks_.reserve(nodes.size());
  for (const RingNode& node : nodes) {
    const auto it = std::lower_bound(racks.begin(), racks.end(), node.rack);
    const bool counted = it != racks.end() && *it == node.rack;
    ring.node_racks_.push_back(counted ? static_cast<uint32_t>(it - racks.begin()) : 0);
  }
  ring.nodes_ = std::move(nodes);
  return ring;
}

const RingNode* Ring::find(std::string_view node_id) const {
  auto it =
      std::lower_bound(nodes_.begin(), nodes_.end(), node_id,
                       [](const RingNode& node, std::string_view id) { return node.id < id; });
  if (it == nodes_.end() || it->id != node_id) return nullptr;
  return &*it;
}

const RingNode& Ring::token_node(size_t token_index) const {
  assert(token_index < tokens_.size() && "token index within the ring");
  return nodes_[token_nodes_[token_index]];
}

size_t Ring::first_token_at_or_after(uint64_t position) const {
  assert(!tokens_.empty() && "locating a position needs a ring with tokens");
  // lower_bound lands on the first of equal tokens, i.e. the lowest id among tied nodes.
  auto it = std::lower_bound(tokens_.begin(), tokens_.end(), position);
  if (it == tokens_.end()) return 0;  // past the highest token: wrap to the lowest
  return static_cast<size_t>(it - tokens_.begin());
}

template <typename Visit>
void Ring::walk_from(size_t start, size_t distinct_max, Visit&& visit) const {
  const size_t wanted = std::min(distinct_max, nodes_with_tokens_);
  if (wanted == 0) return;
  DistinctNodes met(nodes_.size());
  size_t found = 0;
  // Rack bookkeeping (unused with one rack, where every distinct node is taken as met): the
  // racks taken so far, and the nodes passed over because their rack was, in clockwise order.
  // Only the first `wanted` skipped nodes can ever be taken, so no more are kept. Both live on
  // the stack for the usual walk (n replicas, at most 64 racks): a walk runs per token in
  // ownership() and ranges_of(), where an allocation each was most of the cost.
  RackSet rack_used(rack_count_ > 1 ? rack_count_ : 0);
  size_t racks_used = rack_count_ > 1 ? 0 : rack_count_;
  SmallNodeList skipped;
  auto take = [&](uint32_t node) {
    ++found;
    return visit(node) && found < wanted;
  };
  // One lap at most: after tokens_.size() steps every node with tokens has been met.
  for (size_t step = 0, index = start; step < tokens_.size(); ++step) {
    const uint32_t node = token_nodes_[index];
    if (++index == tokens_.size()) index = 0;
    if (!met.insert(node)) continue;
    if (racks_used == rack_count_) {
      if (!take(node)) return;
      continue;
    }
    if (!rack_used.insert(node_racks_[node])) {
      if (skipped.size() < wanted) skipped.push_back(node);
      continue;
    }
    if (!take(node)) return;
    if (++racks_used == rack_count_) {
      // Every rack has a node now: the nodes passed over come next, nearest first.
      for (size_t i = 0; i < skipped.size(); ++i) {
        if (!take(skipped[i])) return;
      }
    }
  }
  assert(false && "a lap of the ring meets every node with tokens");
}

std::vector<const RingNode*> Ring::preference_list(uint64_t position, size_t n) const {
  std::vector<const RingNode*> out;
  preference_list(position, n, out);
  return out;
}

void Ring::preference_list(uint64_t position, size_t n, std::vector<const RingNode*>& out) const {
  out.clear();
  if (tokens_.empty() || n == 0) return;
  out.reserve(std::min(n, nodes_with_tokens_));
  walk_from(first_token_at_or_after(position), n, [&](uint32_t node) {
    out.push_back(&nodes_[node]);
    return true;
  });
}

const RingNode* Ring::primary(uint64_t position) const {
  if (tokens_.empty()) return nullptr;
  return &nodes_[token_nodes_[first_token_at_or_after(position)]];
}

void Ring::walk(uint64_t position, const std::function<bool(const RingNode&)>& visit) const {
  if (tokens_.empty()) return;
  walk_from(first_token_at_or_after(position), nodes_with_tokens_,
            [&](uint32_t node) { return visit(nodes_[node]); });
}

std::vector<TokenRange> Ring::ranges_of(std::string_view node_id, size_t n) const {
  const RingNode* node = find(node_id);
  if (node == nullptr || node->vnodes == 0 || n == 0 || tokens_.empty()) return {};
  if (n >= nodes_with_tokens_) return {TokenRange{0, 0}};
  const auto wanted = static_cast<uint32_t>(node - nodes_.data());
  if (rack_count_ > 1) return ranges_of_by_walks(wanted, n);
  const size_t count = tokens_.size();

  // A walk starting at token index s meets `wanted` among its first n distinct nodes exactly
  // when fewer than n other nodes own tokens in [s, k), k being the first token of `wanted`
  // at or after s. So from each token k of `wanted`, walk backwards while fewer than n other
  // nodes have been met (and before meeting `wanted` again, whose own walk covers what lies
  // beyond): the starts passed over form an index interval [first, k], and the positions
  // whose walks start there are (tokens_[first - 1], tokens_[k]]. Cost: a short walk per token
  // of the node, plus one pass to find its tokens.
  std::vector<TokenRange> ranges;  // in clockwise order of their end token
  for (size_t k = 0; k < count; ++k) {
    if (token_nodes_[k] != wanted) continue;
    DistinctNodes others(nodes_.size());
    size_t others_met = 0;
    size_t before_first = k;  // index just before the interval of starts, walking backwards
    for (size_t step = 0; step < count; ++step) {
      before_first = before_first == 0 ? count - 1 : before_first - 1;
      const uint32_t met = token_nodes_[before_first];
      if (met == wanted) break;
      if (others.insert(met) && ++others_met == n) break;
    }
    // The walk stops within a lap: n < nodes_with_tokens_ other nodes cannot all be missing.
    assert(before_first != k && "the backward walk meets n other nodes or the node again");
    const TokenRange range{tokens_[before_first], tokens_[k]};
    // A token tied with a lower id's token at the same position has an empty range.
    if (range.is_full()) continue;
    extend_ranges(ranges, range);
  }
  return close_ranges(std::move(ranges));
}

std::vector<TokenRange> Ring::ranges_of_by_walks(uint32_t wanted, size_t n) const {
  // With racks a node may be skipped by a walk that passes it, so the backward walk of
  // ranges_of does not apply: the preference list of every token interval is computed, as
  // ownership() does, and the intervals holding `wanted` are merged in clockwise order.
  std::vector<TokenRange> ranges;
  for (size_t i = 0; i < tokens_.size(); ++i) {
    if (i > 0 && tokens_[i] == tokens_[i - 1]) continue;  // a tied token owns nothing
    bool holds = false;
    walk_from(i, n, [&](uint32_t node) {
      holds = node == wanted;
      return !holds;
    });
    if (!holds) continue;
    extend_ranges(ranges, TokenRange{tokens_[i == 0 ? tokens_.size() - 1 : i - 1], tokens_[i]});
  }
  return close_ranges(std::move(ranges));
}

std::vector<double> Ring::ownership(size_t n) const {
  std::vector<double> out(nodes_.size(), 0.0);
  if (tokens_.empty() || n == 0) return out;
  if (n >= nodes_with_tokens_) {
    // Every node with tokens replicates every position; skip the walks, which on such a ring
    // may have to go far to meet the last node.
    for (size_t i = 0; i < nodes_.size(); ++i) out[i] = nodes_[i].vnodes > 0 ? 1.0 : 0.0;
    return out;
  }
  for (size_t i = 0; i < tokens_.size(); ++i) {
    if (i > 0 && tokens_[i] == tokens_[i - 1]) continue;
    const size_t previous = i == 0 ? tokens_.size() - 1 : i - 1;
    const TokenRange range{tokens_[previous], tokens_[i]};
    const double share = range.fraction();
    walk_from(i, n, [&](uint32_t node) {
      out[node] += share;
      return true;
    });
  }
  return out;
}

}  // namespace ringkv::core
