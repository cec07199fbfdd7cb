// Scans across the cluster: spans, page boundaries, the last-write-wins merge,
// MATCH at the replica, replicas that die or stall mid-scan, DBSIZE. Each node
// is a MemoryEngine; a fake transport answers the coordinator's peer requests
// from the addressed node's engine (or fails them, for a dead node).
#include <doctest/doctest.h>

#include <algorithm>
#include <limits>
#include <map>
#include <set>

#include "node/core/range_keys.h"
#include "node/core/scan_coordinator.h"
#include "storage/memory_engine.h"
#include "storage/storage_key.h"

using namespace ringkv;
using core::Now;

namespace {

constexpr uint64_t kWallBase = 1'000'000'000'000;
constexpr uint64_t kTop = std::numeric_limits<uint64_t>::max();

Now at(int64_t ms) { return Now{static_cast<uint64_t>(ms) * 1000 + kWallBase, ms}; }

storage::Options engine_options() { return storage::Options{.clock_us = [] { return uint64_t{0}; }}; }

struct Node {
  std::string id;
  std::string address;
  storage::MemoryEngine engine{engine_options()};
};

enum class Fault { kNone, kConnectionRefused, kSilent };

struct Cluster {
  std::vector<std::unique_ptr<Node>> nodes;
  core::ReplicaStore store;
  core::ClusterView view;
  core::ScanCoordinator scans;
  std::map<std::string, Fault> faults;  // by address
  std::vector<core::PeerRequest> held;  // requests to silent nodes, never answered
  int64_t now_ms = 0;

  static std::vector<std::unique_ptr<Node>> make_nodes(int count) {
    std::vector<std::unique_ptr<Node>> made;
    for (int i = 0; i < count; ++i) {
      auto node = std::make_unique<Node>();
      node->id = std::string(16, static_cast<char>('a' + i));
      node->address = "10.0.0." + std::to_string(i + 1) + ":7000";
      made.push_back(std::move(node));
    }
    return made;
  }

  explicit Cluster(int count, core::ScanConfig config = {})
      : nodes(make_nodes(count)),
        store(*core::ReplicaStore::open(nodes[0]->engine, core::HintLimits{})),
        scans(config, view, store) {
    std::vector<core::RingNode> ring_nodes;
    for (const auto& node : nodes) ring_nodes.push_back({node->id, "node-" + node->id.substr(0, 1), node->address, 16});
    view.self_id = nodes[0]->id;
    view.ring = std::make_shared<const core::Ring>(core::Ring::build(ring_nodes));
    view.future_ring = view.ring;
  }

  Node& by_address(const std::string& address) {
    for (auto& node : nodes) {
      if (node->address == address) return *node;
    }
    FAIL("no node at " << address);
    return *nodes[0];
  }
  Node& by_id(const std::string& id) {
    for (auto& node : nodes) {
      if (node->id == id) return *node;
    }
    FAIL("no node " << id);
    return *nodes[0];
  }

  // Writes `record` to the key's 3 replicas (or only to `only`, when given).
  void put(const std::string& key, storage::Record record, std::vector<std::string> only = {}) {
    for (const core::RingNode* replica : view.ring->preference_list(storage::ring_position(key), 3)) {
      if (!only.empty() && std::find(only.begin(), only.end(), replica->id) == only.end()) continue;
      REQUIRE(by_id(replica->id).engine.write({{key, record}}));
    }
  }

  // Answers the pending peer requests as the addressed nodes would.
  void deliver() {
    for (core::PeerRequest& request : scans.take_peer_requests()) {
      const Fault fault = faults.contains(request.address) ? faults[request.address] : Fault::kNone;
      if (fault == Fault::kSilent) {
        held.push_back(std::move(request));
        continue;
      }
      if (fault == Fault::kConnectionRefused) {
        scans.handle_reply(request.route.id, std::unexpected(std::string("connection refused")), at(now_ms));
        continue;
      }
      Node& node = by_address(request.address);
      wire::Body body;
      if (auto* range = std::get_if<wire::RangeKeysRequest>(&request.body)) {
        body = core::read_range_keys(node.engine, *range);
      } else {
        REQUIRE(std::holds_alternative<wire::StatusRequest>(request.body));
        wire::StatusReply status;
        status.keys = node.engine.stats().data_keys_estimate;
        body = status;
      }
      scans.handle_reply(request.route.id, wire::Message{0, std::move(body)}, at(now_ms));
    }
  }

  // One page: the reply (delivering requests, and ticking on while none answers).
  wire::Body page(uint64_t cursor, std::string pattern = "", uint32_t count = 10,
                  wire::Consistency level = wire::Consistency::kQuorum) {
    scans.scan(1, 7, wire::ScanRequest{cursor, std::move(pattern), count, level}, at(now_ms));
    for (int rounds = 0; rounds < 100; ++rounds) {
      deliver();
      auto replies = scans.take_replies();
      if (!replies.empty()) {
        REQUIRE(replies.size() == 1);
        CHECK(replies[0].message.request_id == 7);
        return std::move(replies[0].message.body);
      }
      now_ms += 250;
      scans.tick(at(now_ms));
    }
    FAIL("the scan never answered");
    return wire::ErrorReply{};
  }

  // Every key of a whole scan, in the order returned; `between` runs after each page.
  std::vector<std::string> scan_all(std::string pattern = "", uint32_t count = 10,
                                    const std::function<void(int)>& between = {}) {
    std::vector<std::string> keys;
    uint64_t cursor = 0;
    uint64_t previous = 0;
    for (int pages = 0; pages < 100000; ++pages) {
      wire::Body body = page(cursor, pattern, count);
      auto* reply = std::get_if<wire::ScanReply>(&body);
      REQUIRE_MESSAGE(reply != nullptr, "a page failed: " << std::get<wire::ErrorReply>(body).message);
      for (auto& key : reply->keys) keys.push_back(std::move(key));
      if (reply->cursor == 0) return keys;
      CHECK(reply->cursor > previous);  // cursors only move forward
      previous = reply->cursor;
      cursor = reply->cursor;
      if (between) between(pages);
    }
    FAIL("the scan never finished");
    return keys;
  }
};

storage::Record live(uint64_t timestamp) { return storage::Record{{timestamp, 1}, false, "v"}; }
storage::Record tombstone(uint64_t timestamp) { return storage::Record{{timestamp, 1}, true, ""}; }

std::set<std::string> as_set(const std::vector<std::string>& keys) { return {keys.begin(), keys.end()}; }

std::vector<std::string> keys_named(const std::string& prefix, int count) {
  std::vector<std::string> keys;
  for (int i = 0; i < count; ++i) keys.push_back(prefix + std::to_string(i));
  return keys;
}

}  // namespace

TEST_CASE("a span extends over intervals with the same replicas and never wraps") {
  Cluster three(3);
  // Three nodes, N = 3: every interval has the same replicas, one span is the whole ring.
  auto whole = core::span_at(*three.view.ring, 0, 3, 8192);
  CHECK(whole.begin == 0);
  CHECK(whole.end_inclusive == kTop);
  CHECK(whole.replicas.size() == 3);

  Cluster five(5);
  const core::Ring& ring = *five.view.ring;
  uint64_t cursor = 0;
  int spans = 0;
  while (true) {
    auto span = core::span_at(ring, cursor, 3, 8192);
    REQUIRE(span.end_inclusive >= span.begin);
    // Every position of the span has the span's replicas; the next one has others.
    auto ids = [&](uint64_t position) {
      std::set<std::string> out;
      for (const auto* node : ring.preference_list(position, 3)) out.insert(node->id);
      return out;
    };
    std::set<std::string> replicas;
    for (const auto* node : span.replicas) replicas.insert(node->id);
    CHECK(ids(span.begin) == replicas);
    CHECK(ids(span.end_inclusive) == replicas);
    ++spans;
    if (span.end_inclusive == kTop) break;
    CHECK(ids(span.end_inclusive + 1) != replicas);
    cursor = span.end_inclusive + 1;
  }
  CHECK(spans > 1);
  // Bounded: one interval at most.
  auto one = core::span_at(ring, 0, 3, 1);
  CHECK(one.end_inclusive == ring.tokens().front());
}

TEST_CASE("a replica's page ends on a whole position and the next cursor resumes right after it") {
  storage::MemoryEngine engine(engine_options());
  std::vector<std::pair<uint64_t, std::string>> by_position;
  for (const std::string& key : keys_named("k", 50)) {
    REQUIRE(engine.write({{key, live(5)}}));
    by_position.emplace_back(storage::ring_position(key), key);
  }
  std::sort(by_position.begin(), by_position.end());
  auto first = std::get<wire::RangeKeysReply>(core::read_range_keys(engine, {0, kTop, "", 3}));
  REQUIRE(first.entries.size() == 3);
  CHECK(first.covered_through == by_position[2].first);
  CHECK(first.entries[2].key == by_position[2].second);
  auto second = std::get<wire::RangeKeysReply>(core::read_range_keys(engine, {first.covered_through + 1, kTop, "", 100}));
  CHECK(second.entries.size() == 47);
  CHECK(second.covered_through == kTop);  // the range ran out
  CHECK(second.entries.front().key == by_position[3].second);
  // MATCH is applied at the replica; the page still covers what it examined.
  auto matched = std::get<wire::RangeKeysReply>(core::read_range_keys(engine, {0, kTop, "k1?", 100}));
  CHECK(matched.entries.size() == 10);
  CHECK(matched.covered_through == kTop);
}

TEST_CASE("the merge keeps the newest version of each key and drops tombstones and expired records") {
  const uint64_t now = 1'000'000;
  std::vector<wire::RangeKeysReply> answers(2);
  answers[0].entries = {{"deleted", 5, 1, false, 0}, {"revived", 5, 1, true, 0}, {"same", 5, 1, false, 0},
                        {"expired", 5, 1, false, now - 1}, {"later", 5, 1, false, now + 1}};
  answers[1].entries = {{"deleted", 6, 1, true, 0}, {"revived", 6, 1, false, 0}, {"same", 5, 1, false, 0},
                        {"only-here", 3, 1, false, 0}};
  auto keys = core::merge_page(answers, kTop, now);
  CHECK(as_set(keys) == std::set<std::string>{"revived", "same", "later", "only-here"});
  CHECK(keys.size() == 4);  // each key once
  // Ring order.
  CHECK(std::is_sorted(keys.begin(), keys.end(), [](const std::string& a, const std::string& b) {
    return storage::storage_key(a) < storage::storage_key(b);
  }));
  // Nothing past what every replica covered.
  const uint64_t cut = storage::ring_position("same");
  for (const std::string& key : core::merge_page(answers, cut, now)) CHECK(storage::ring_position(key) <= cut);
}

TEST_CASE("a paged scan returns exactly the live keys, with MATCH, whatever the page size") {
  Cluster c(4);
  const auto keys = keys_named("user:", 300);
  for (const auto& key : keys) c.put(key, live(10));
  for (int i = 0; i < 40; ++i) c.put("other:" + std::to_string(i), live(10));
  for (int i = 0; i < 30; ++i) c.put(keys[i], tombstone(20));  // deleted later
  const std::set<std::string> expected(keys.begin() + 30, keys.end());
  for (uint32_t count : {1u, 7u, 1000u}) {
    auto found = c.scan_all("user:*", count);
    CHECK(found.size() == expected.size());  // nothing changed during the scan: no repeats
    CHECK(as_set(found) == expected);
  }
  CHECK(c.scan_all("", 50).size() == 310);
}

TEST_CASE("a key written at QUORUM is found even when the replica asked first missed it") {
  Cluster c(3);
  // Only two of the three replicas hold it, and not this node: a QUORUM scan
  // asks this node and one more, whose LWW merge brings it back.
  const std::string key = "partial";
  std::vector<std::string> others;
  for (const auto& node : c.nodes) {
    if (node->id != c.view.self_id) others.push_back(node->id);
  }
  c.put(key, live(10), others);
  CHECK(as_set(c.scan_all()) == std::set<std::string>{key});
  // And a delete that reached only other replicas hides this node's older copy.
  c.put("gone", live(10), {c.view.self_id});
  c.put("gone", tombstone(20), others);
  CHECK(as_set(c.scan_all()) == std::set<std::string>{key});
}

TEST_CASE("a replica dies mid-scan: the scan asks another and still returns every key") {
  Cluster c(4);
  const auto keys = keys_named("k", 400);
  for (const auto& key : keys) c.put(key, live(10));
  SUBCASE("connection refused") {
    auto found = c.scan_all("", 10, [&](int page) {
      if (page == 5) c.faults[c.nodes[1]->address] = Fault::kConnectionRefused;
    });
    CHECK(as_set(found) == as_set(keys));
  }
  SUBCASE("silent: replaced after the replica timeout") {
    auto found = c.scan_all("", 10, [&](int page) {
      if (page == 3) c.faults[c.nodes[2]->address] = Fault::kSilent;
    });
    CHECK(as_set(found) == as_set(keys));
    CHECK_FALSE(c.held.empty());
    // Their late answers change nothing.
    for (auto& request : c.held) c.scans.handle_reply(request.route.id, wire::Message{0, wire::RangeKeysReply{}}, at(c.now_ms));
    CHECK(c.scans.take_replies().empty());
  }
}

TEST_CASE("too few replicas up or answering: UNAVAILABLE, naming why") {
  Cluster c(3);
  c.put("k", live(10));
  // Two of three down by the view: QUORUM cannot even start.
  c.view.down_since_ms[c.nodes[1]->id] = 0;
  c.view.down_since_ms[c.nodes[2]->id] = 0;
  auto body = c.page(0);
  REQUIRE(std::holds_alternative<wire::ErrorReply>(body));
  CHECK(std::get<wire::ErrorReply>(body).code == wire::ErrorCode::kUnavailable);
  CHECK(c.scans.take_peer_requests().empty());
  // ONE still works from this node alone.
  body = c.page(0, "", 10, wire::Consistency::kOne);
  CHECK(std::get<wire::ScanReply>(body).keys == std::vector<std::string>{"k"});
  // Up by the view but refusing: asked, then UNAVAILABLE naming the last failure.
  c.view.down_since_ms.clear();
  c.faults[c.nodes[1]->address] = Fault::kConnectionRefused;
  c.faults[c.nodes[2]->address] = Fault::kConnectionRefused;
  body = c.page(0);
  CHECK(std::get<wire::ErrorReply>(body).code == wire::ErrorCode::kUnavailable);
  CHECK(std::get<wire::ErrorReply>(body).message.find("connection refused") != std::string::npos);
  // Silent at ALL: given up on after the replica timeout, with no other to ask.
  c.faults[c.nodes[1]->address] = Fault::kSilent;
  c.faults[c.nodes[2]->address] = Fault::kNone;
  body = c.page(0, "", 10, wire::Consistency::kAll);
  CHECK(std::get<wire::ErrorReply>(body).code == wire::ErrorCode::kUnavailable);
  CHECK(std::get<wire::ErrorReply>(body).message.find("no answer within") != std::string::npos);
}

TEST_CASE("scans in flight are bounded (beyond the cap, BUSY) and time out at their deadline") {
  core::ScanConfig config;
  config.scans_in_flight_max = 2;
  Cluster c(3, config);
  c.faults[c.nodes[1]->address] = Fault::kSilent;
  c.faults[c.nodes[2]->address] = Fault::kSilent;
  for (uint64_t id = 1; id <= 3; ++id) c.scans.scan(1, id, wire::ScanRequest{0, "", 10, wire::Consistency::kQuorum}, at(0));
  auto replies = c.scans.take_replies();
  REQUIRE(replies.size() == 1);
  CHECK(replies[0].message.request_id == 3);
  CHECK(std::get<wire::ErrorReply>(replies[0].message.body).code == wire::ErrorCode::kBusy);
  // The deadline answers the others with TIMEOUT.
  c.deliver();
  c.scans.tick(at(10'000));
  replies = c.scans.take_replies();
  REQUIRE(replies.size() == 2);
  for (const auto& reply : replies) CHECK(std::get<wire::ErrorReply>(reply.message.body).code == wire::ErrorCode::kTimeout);
}

TEST_CASE("DBSIZE estimates the keys of the cluster from every member's count and share") {
  Cluster c(4);
  for (const auto& key : keys_named("k", 600)) c.put(key, live(10));
  c.scans.dbsize(1, 9, at(0));
  c.deliver();
  auto replies = c.scans.take_replies();
  REQUIRE(replies.size() == 1);
  const auto size = std::get<wire::DbSizeReply>(replies[0].message.body);
  CHECK(size.nodes == 4);
  CHECK(size.nodes_answered == 4);
  CHECK(size.keys > 500);
  CHECK(size.keys < 700);
  // A member that does not answer is stood for by the others.
  c.faults[c.nodes[3]->address] = Fault::kConnectionRefused;
  c.scans.dbsize(1, 10, at(0));
  c.deliver();
  replies = c.scans.take_replies();
  REQUIRE(replies.size() == 1);
  const auto partial = std::get<wire::DbSizeReply>(replies[0].message.body);
  CHECK(partial.nodes_answered == 3);
  CHECK(partial.keys > 450);
  CHECK(partial.keys < 750);
}

TEST_CASE("a ring rebuilt between pages or under a page in flight changes nothing a scan returns") {
  Cluster c(4);
  const auto keys = keys_named("k", 200);
  for (const auto& key : keys) c.put(key, live(10));
  auto rebuild = [&] {  // the same members, a new Ring object (as a membership event makes)
    std::vector<core::RingNode> nodes(c.view.ring->nodes().begin(), c.view.ring->nodes().end());
    c.view.ring = std::make_shared<const core::Ring>(core::Ring::build(std::move(nodes)));
  };
  auto found = c.scan_all("", 10, [&](int page) {
    if (page % 3 == 0) rebuild();
  });
  CHECK(as_set(found) == as_set(keys));
  // In flight: the page keeps the ring its replicas came from.
  c.scans.scan(1, 8, wire::ScanRequest{0, "", 1000, wire::Consistency::kAll}, at(c.now_ms));
  rebuild();
  c.deliver();
  auto replies = c.scans.take_replies();
  REQUIRE(replies.size() == 1);
  const auto& page = std::get<wire::ScanReply>(replies[0].message.body);
  CHECK_FALSE(page.keys.empty());
}
