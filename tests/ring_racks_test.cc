// Ring with racks: the NetworkTopologyStrategy walk checked against a brute-force reference,
// distinct racks per key, the fallback when racks are fewer than replicas, and ranges_of /
// ownership / walk consistent with preference_list.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "membership/member.h"
#include "node/core/ring.h"
#include "tests/ring_samples.h"

using namespace ringkv;
using core::Ring;
using core::RingNode;
using core::TokenRange;
using test::ids_of;
using test::sample_positions;

namespace {

// Nodes with seeded random ids; node i goes to racks[i] ("" = the default rack).
std::vector<RingNode> racked_nodes(const std::vector<std::string>& racks, uint32_t vnodes,
                                   uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<RingNode> nodes;
  for (size_t i = 0; i < racks.size(); ++i) {
    std::string id(membership::kNodeIdBytes, '\0');
    for (char& byte : id) byte = static_cast<char>(rng() & 0xff);
    nodes.push_back(RingNode{id, "node" + std::to_string(i),
                             "127.0.0.1:" + std::to_string(7000 + i), vnodes, racks[i]});
  }
  return nodes;
}

// "a,a,b" style layout: counts per rack, racks named r0, r1, ...
std::vector<std::string> layout(const std::vector<size_t>& counts) {
  std::vector<std::string> racks;
  for (size_t rack = 0; rack < counts.size(); ++rack) {
    racks.insert(racks.end(), counts[rack], "r" + std::to_string(rack));
  }
  return racks;
}

// The placement by its definition, written independently of Ring's walk: list the distinct
// nodes in clockwise order from the position's token; the replicas are the first node of each
// rack (in order of first appearance) up to n, and when there are fewer racks than n, the
// earliest of the remaining nodes, after them.
std::vector<std::string> reference_preference(const Ring& ring, uint64_t position, size_t n) {
  const auto tokens = ring.tokens();
  std::vector<const RingNode*> order;
  if (tokens.empty()) return {};
  size_t start = 0;
  while (start < tokens.size() && tokens[start] < position) ++start;
  for (size_t step = 0; step < tokens.size(); ++step) {
    const RingNode* node = &ring.token_node((start + step) % tokens.size());
    if (std::find(order.begin(), order.end(), node) == order.end()) order.push_back(node);
  }
  std::vector<std::string> out;
  std::set<std::string> racks;
  std::vector<std::string> rest;
  for (const RingNode* node : order) {
    if (racks.insert(node->rack).second) {
      if (out.size() < n) out.push_back(node->id);
    } else {
      rest.push_back(node->id);
    }
  }
  for (const std::string& id : rest) {
    if (out.size() < n) out.push_back(id);
  }
  return out;
}

std::set<std::string> racks_of(const std::vector<const RingNode*>& nodes) {
  std::set<std::string> racks;
  for (const RingNode* node : nodes) racks.insert(node->rack);
  return racks;
}

}  // namespace

TEST_CASE("with racks >= N every key's replicas sit in N distinct racks") {
  for (const auto& counts : {std::vector<size_t>{3, 3, 3}, {3, 3, 2}, {5, 1, 1}, {2, 2, 2, 2}}) {
    const Ring ring = Ring::build(racked_nodes(layout(counts), 16, counts.size() * 7 + counts[0]));
    CHECK(ring.rack_count() == counts.size());
    for (uint64_t position : sample_positions(ring, 200, 3)) {
      const auto list = ring.preference_list(position, 3);
      REQUIRE(list.size() == 3);
      CHECK(racks_of(list).size() == 3);
      CHECK(ids_of(list) == reference_preference(ring, position, 3));
      // The primary is still the owner of the position's token.
      CHECK(list[0] == ring.primary(position));
    }
  }
}

TEST_CASE("with fewer racks than N every rack holds a replica and the rest are the nearest") {
  const Ring ring = Ring::build(racked_nodes(layout({4, 2}), 16, 21));
  for (uint64_t position : sample_positions(ring, 200, 4)) {
    const auto list = ring.preference_list(position, 3);
    REQUIRE(list.size() == 3);
    CHECK(racks_of(list).size() == 2);
    CHECK(ids_of(list) == reference_preference(ring, position, 3));
    std::set<std::string> distinct;
    for (const RingNode* node : list) distinct.insert(node->id);
    CHECK(distinct.size() == 3);
  }
  // A single node in its own rack is in every key's replica set.
  const Ring lonely = Ring::build(racked_nodes(layout({4, 1}), 16, 22));
  const RingNode& single = *std::find_if(lonely.nodes().begin(), lonely.nodes().end(),
                                         [](const RingNode& node) { return node.rack == "r1"; });
  for (uint64_t position : sample_positions(lonely, 100, 5)) {
    CHECK(racks_of(lonely.preference_list(position, 2)).size() == 2);
  }
  const auto ranges = lonely.ranges_of(single.id, 2);
  REQUIRE(ranges.size() == 1);
  CHECK(ranges[0].is_full());
  CHECK(lonely.ownership(2)[static_cast<size_t>(&single - lonely.nodes().data())] ==
        doctest::Approx(1.0));
}

TEST_CASE("one rack, named or not, places exactly as a ring without racks") {
  auto plain = racked_nodes(std::vector<std::string>(7, ""), 12, 31);
  auto named = plain;
  for (RingNode& node : named) node.rack = "only";
  const Ring a = Ring::build(plain);
  const Ring b = Ring::build(named);
  CHECK(a.rack_count() == 1);
  for (uint64_t position : sample_positions(a, 200, 6)) {
    CHECK(ids_of(a.preference_list(position, 3)) == ids_of(b.preference_list(position, 3)));
  }
  for (const RingNode& node : a.nodes()) {
    CHECK(a.ranges_of(node.id, 3) == b.ranges_of(node.id, 3));
  }
  CHECK(a.ownership(3) == b.ownership(3));
}

TEST_CASE("ranges_of and ownership agree with preference_list under racks") {
  for (const auto& counts : {std::vector<size_t>{3, 3, 2}, {2, 1}, {4, 2, 1, 1}}) {
    const Ring ring = Ring::build(racked_nodes(layout(counts), 12, 40 + counts.size()));
    for (size_t n : {1, 2, 3}) {
      CAPTURE(n);
      const auto shares = ring.ownership(n);
      double total = 0;
      for (size_t i = 0; i < ring.nodes().size(); ++i) {
        const RingNode& node = ring.nodes()[i];
        const auto ranges = ring.ranges_of(node.id, n);
        double covered = 0;
        for (const TokenRange& range : ranges) covered += range.fraction();
        CHECK(covered == doctest::Approx(shares[i]).epsilon(1e-9));
        total += shares[i];
        for (uint64_t position : sample_positions(ring, 100, 7 + n)) {
          const auto ids = ids_of(ring.preference_list(position, n));
          const bool listed = std::find(ids.begin(), ids.end(), node.id) != ids.end();
          const bool ranged = std::any_of(ranges.begin(), ranges.end(), [&](const TokenRange& r) {
            return r.contains(position);
          });
          CHECK(listed == ranged);
        }
      }
      CHECK(total == doctest::Approx(static_cast<double>(std::min(n, ring.nodes().size()))));
    }
  }
}

TEST_CASE("walk visits the preference list first, then racks holding no replica") {
  const Ring ring = Ring::build(racked_nodes(layout({2, 2, 2, 2, 2}), 12, 51));
  for (uint64_t position : sample_positions(ring, 50, 8)) {
    std::vector<const RingNode*> walked;
    ring.walk(position, [&](const RingNode& node) {
      walked.push_back(&node);
      return true;
    });
    REQUIRE(walked.size() == ring.nodes().size());
    const auto list = ring.preference_list(position, 3);
    CHECK(std::equal(list.begin(), list.end(), walked.begin()));
    // Nodes 4 and 5 of the walk come from the two racks the three replicas left out.
    std::set<std::string> racks = racks_of(list);
    CHECK(racks.insert(walked[3]->rack).second);
    CHECK(racks.insert(walked[4]->rack).second);
    CHECK(ids_of(ring.preference_list(position, 100)) == ids_of(walked));
  }
}

TEST_CASE("nodes without tokens neither count as a rack nor appear in lists") {
  auto nodes = racked_nodes(layout({2, 2, 1}), 8, 61);
  nodes.back().vnodes = 0;  // the only node of rack r2
  const Ring ring = Ring::build(nodes);
  CHECK(ring.rack_count() == 2);
  for (uint64_t position : sample_positions(ring, 50, 9)) {
    const auto list = ring.preference_list(position, 3);
    CHECK(list.size() == 3);
    CHECK(racks_of(list) == std::set<std::string>{"r0", "r1"});
  }
}
