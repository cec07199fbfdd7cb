// Ring: the consistent-hash ring that places keys on nodes.
//
// What it is: an immutable snapshot of the ring computed from a set of nodes (id + vnode
// count). Each node owns `vnodes` tokens, token i of a node being
//   XXH64(id bytes || big-endian uint32 i, seed kTokenSeed)
// so every node computes the same ring from the same member set, and nothing but the id and
// the vnode count is gossiped. This derivation is part of the cluster's contract: changing it
// (or kTokenSeed) moves nearly every key, so it never changes within a cluster.
//
// Placement: a key's position is storage::ring_position(key) (XXH64 of the key). A token
// owns the positions (previous token, token]: the primary replica of a position is the node
// of the first token >= position, wrapping past 2^64 - 1 to the lowest token. The preference
// list is the first n DISTINCT nodes met walking clockwise from there. Two nodes that draw
// the same token are ordered by node id (lower id first), so the ring stays a pure function
// of the node set.
//
// Racks (failure domains; "" is the default rack) shape the walk the way Cassandra's
// NetworkTopologyStrategy does. Walking clockwise over distinct nodes, a node is taken when
// its rack has no node taken yet, and passed over (remembered, in order) when it has; once
// every rack present among the nodes with tokens has a node taken, the nodes passed over are
// taken first, nearest first, then every further distinct node clockwise. So a key's n
// replicas sit in min(n, racks) distinct racks, and with a single rack the walk is the plain
// clockwise one. The list depends only on the token the walk starts from, so every position
// of one token interval has the same replicas (range_moves and cleanup rely on it).
//
// Liveness is not the ring's business: a node that is down stays in the ring (failure is not
// removal). The caller decides who is in it (members in ring status normal, plus or minus the
// joining/leaving node when computing pending ranges) and skips dead nodes itself, e.g. by
// walking past the preference list for hinted handoff.
//
// Ownership and lifetime: build() copies the nodes in; the Ring never changes afterwards, so
// it is shared as std::shared_ptr<const Ring> and swapped whole when membership changes.
// Pointers it returns (const RingNode*) live as long as the Ring. Thread model: const
// methods only, so any number of threads may read one Ring concurrently.
//
// Cost: build is O(T log T) for T = sum of vnodes; locating a position is a binary search,
// O(log T); a preference list then steps over about n tokens with one rack; with racks it
// goes on until min(n, racks) racks are met (about 1 / (the token share of the rarest rack)
// steps at worst), never more than T.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "membership/member.h"

namespace ringkv::core {

// Chosen by bench/ring_balance (random tokens: imbalance shrinks only as 1/sqrt(V)). With
// N = 3 the busiest node replicates at most ~1.09x the mean share in the worst of 20 random
// clusters of each size from 3 to 50 nodes (768 misses 1.10 now and then; 512 often). Primary
// ownership (N = 1) is less even, up to ~1.15x. Token positions do not depend on the count, so
// raising a node's count later only adds tokens.
inline constexpr uint32_t kDefaultVnodes = 1024;
// Bound on one node's tokens (kvnode's --vnodes accepts 1..4096): a ring of 1000 such nodes
// is 4M tokens, 48 MiB. A vnode count arrives by gossip, so build() does not trust it: a node
// claiming more gets kVnodesMax tokens, the same on every node, rather than exhausting memory
// (membership already refuses such records at decode).
inline constexpr uint32_t kVnodesMax = membership::kVnodeCountMax;
// Seed of the token hash; keeps tokens and key positions (seed 0) in separate hash domains.
inline constexpr uint64_t kTokenSeed = 0x72696e67'746f6b6eULL;  // "ringtokn"

struct RingNode {
  std::string id;  // the node id bytes (16 for members); unique within a ring
  std::string name;
  std::string address;
  uint32_t vnodes = 0;  // 0 keeps the node listed but gives it no tokens; see kVnodesMax
  std::string rack;     // failure domain; "" is the default rack

  bool operator==(const RingNode&) const = default;
};

RingNode to_ring_node(const membership::Member& member);

// Token i of the node with this id (see the header comment).
uint64_t token_of(std::string_view node_id, uint32_t vnode_index);

// Ring positions (start_exclusive, end_inclusive], going clockwise and wrapping past 2^64 - 1.
// start_exclusive == end_inclusive means the whole ring (a node that replicates every
// position, or a ring with a single token position); empty ranges are never produced.
struct TokenRange {
  uint64_t start_exclusive = 0;
  uint64_t end_inclusive = 0;

  bool is_full() const { return start_exclusive == end_inclusive; }
  bool contains(uint64_t position) const;
  // Number of positions, as a fraction of the 2^64 positions of the ring.
  double fraction() const;

  bool operator==(const TokenRange&) const = default;
};

// Positions [begin, end) with end 0 meaning 2^64: the convention of storage::ScanRange and
// Engine::delete_range. Never wraps (begin < end, or end == 0).
struct PositionRange {
  uint64_t begin = 0;
  uint64_t end = 0;

  bool operator==(const PositionRange&) const = default;
};

// The one or two storage scan ranges that together hold exactly the positions of `range`: a
// range that wraps past 2^64 - 1 splits into its tail [start + 1, 2^64) and head [0, end + 1).
std::vector<PositionRange> scan_ranges(const TokenRange& range);

class Ring {
 public:
  // An empty ring: no nodes, every lookup returns nothing.
  Ring() = default;

  // REQUIRES: node ids are non-empty and unique. The input order does not matter. A node gets
  // min(vnodes, kVnodesMax) tokens; nodes() keeps the records as given.
  static Ring build(std::vector<RingNode> nodes);

  // All nodes of the ring (including those without tokens), ordered by id.
  std::span<const RingNode> nodes() const { return nodes_; }
  size_t node_count() const { return nodes_.size(); }
  // The node with this id, or nullptr.
  const RingNode* find(std::string_view node_id) const;

  // The tokens in clockwise order, and the node each belongs to (for `kv ring` and tests).
  std::span<const uint64_t> tokens() const { return tokens_; }
  const RingNode& token_node(size_t token_index) const;

  // Number of distinct racks among the nodes with tokens (0 on a ring without tokens).
  size_t rack_count() const { return rack_count_; }

  // The first n nodes of the rack-aware walk from `position` (see "Racks" above; with one
  // rack, the first n distinct nodes clockwise), all of them when the ring has fewer nodes
  // with tokens than n: element 0 is the primary replica.
  std::vector<const RingNode*> preference_list(uint64_t position, size_t n) const;
  // The same list into `out` (cleared first): no allocation once `out` has the room, for
  // callers on the request path.
  void preference_list(uint64_t position, size_t n, std::vector<const RingNode*>& out) const;
  // The primary replica of `position`, or nullptr on a ring without tokens.
  const RingNode* primary(uint64_t position) const;

  // Calls visit(node) for each node with tokens in walk order from `position`, the order of
  // preference_list (whose n nodes are the first n visited), until visit returns false or
  // every node with tokens was visited. Hinted handoff walks past the first n this way to find
  // the next healthy nodes: after the n replicas come the first nodes of racks holding no
  // replica, one per such rack, before any node of a rack that holds one.
  void walk(uint64_t position, const std::function<bool(const RingNode&)>& visit) const;

  // The token ranges whose positions have `node_id` among their n replicas, adjacent ranges
  // merged, ordered by end_inclusive. Empty for an unknown node, a node without tokens or
  // n == 0; one full range when the node replicates every position. With one rack this costs
  // one pass over the tokens plus a short walk back from each of the node's tokens (~1-10 ms
  // on a 1000-node ring of 1024 vnodes); with racks, a walk from every token like ownership():
  // ~0.2 s on that ring in racks of 3:3:2, ~0.3 s in 5:1:1 (bench/ring_balance, shared host).
  std::vector<TokenRange> ranges_of(std::string_view node_id, size_t n) const;

  // For each node (same order as nodes()), the fraction of ring positions it replicates when
  // each position has n replicas. Sums to min(n, nodes with tokens) on a ring with tokens;
  // n == 1 gives primary ownership. Walks from every token: 40-90 ms on a 1000-node ring of
  // 1024 vnodes with one rack, ~0.2 s in racks of 3:3:2 (the walks go on until N racks).
  std::vector<double> ownership(size_t n) const;

  bool operator==(const Ring&) const = default;

 private:
  // Index into tokens_ of the first token >= position, wrapping to 0.
  // REQUIRES: !tokens_.empty().
  size_t first_token_at_or_after(uint64_t position) const;
  // Calls visit(node_index) for each distinct node clockwise from token index `start` until it
  // returns false; steps over at most tokens_.size() tokens.
  template <typename Visit>
  void walk_from(size_t start, size_t distinct_max, Visit&& visit) const;
  // ranges_of for a ring of several racks; `wanted` is a node index.
  std::vector<TokenRange> ranges_of_by_walks(uint32_t wanted, size_t n) const;

  std::vector<RingNode> nodes_;  // sorted by id
  // Parallel arrays sorted by (token, node index): the node index breaks ties by id because
  // nodes_ is sorted by id. Kept apart so the binary search touches only tokens.
  std::vector<uint64_t> tokens_;
  std::vector<uint32_t> token_nodes_;
  size_t nodes_with_tokens_ = 0;
  // Per node (same order as nodes_), its rack's index among the rack_count_ racks of the
  // nodes with tokens, numbered in name order (0 for a node without tokens).
  std::vector<uint32_t> node_racks_;
  size_t rack_count_ = 0;
};

}  // namespace ringkv::core
