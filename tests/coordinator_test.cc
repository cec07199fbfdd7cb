// Coordinator: quorum arithmetic, stand-ins and hints, timeouts and read
// repair, driven with crafted replica replies and explicit time.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <random>

#include "node/core/coordinator.h"
#include "storage/memory_engine.h"
#include "storage/storage_key.h"

using namespace ringkv;
using core::Now;

namespace {

std::string node_id(char c) { return std::string(16, c); }

constexpr uint64_t kWallBase = 1'000'000'000'000;

Now at(int64_t ms) { return Now{static_cast<uint64_t>(ms) * 1000 + kWallBase, ms}; }

struct Cluster {
  storage::MemoryEngine engine{storage::Options{.clock_us = [] { return uint64_t{0}; }}};
  core::ReplicaStore store = *core::ReplicaStore::open(engine, core::HintLimits{});
  core::ClusterView view;
  core::HybridClock clock;
  core::Coordinator coordinator;

  explicit Cluster(int nodes, core::CoordinatorConfig config = {})
      : coordinator(config, view, store, clock) {
    std::vector<core::RingNode> ring_nodes;
    for (int i = 0; i < nodes; ++i) {
      const char c = static_cast<char>('a' + i);
      ring_nodes.push_back({node_id(c), std::string("node-") + c, std::string("10.0.0.") + c + ":1", 32});
    }
    view.self_id = node_id('a');
    view.ring = std::make_shared<const core::Ring>(core::Ring::build(ring_nodes));
    view.future_ring = view.ring;  // no change in progress
  }

  std::vector<const core::RingNode*> natural(const std::string& key) const {
    return view.ring->preference_list(storage::ring_position(key), 3);
  }
  // Versions near the test's wall clock (see at()), so hints are not expired.
  storage::Record record(uint64_t timestamp, std::string value) {
    return storage::Record{{kWallBase + timestamp, 1}, false, std::move(value)};
  }
  // Serves this node's own replica requests as NodeCore does (one group
  // commit of the store, replies through handle_reply), then returns the
  // peer requests emitted so far.
  std::vector<core::PeerRequest> take(Now now = at(0)) {
    coordinator.seal();
    for (auto local = local_requests(); !local.empty(); local = local_requests()) {
      for (core::PeerRequest& request : local) {
        const core::ReplyTo to{.coordinator = true, .route_id = request.route.id};
        if (auto* write = std::get_if<wire::ReplicaWriteRequest>(&request.body)) {
          store.stage(to, *write, now.wall_us);
        } else {
          store.stage(to, std::get<wire::ReplicaReadRequest>(request.body));
        }
      }
      for (auto& [to, body] : store.commit()) coordinator.handle_reply(to.route_id, wire::Message{0, body}, now);
    }
    return coordinator.take_peer_requests();
  }
  std::vector<core::PeerRequest> local_requests() {
    std::vector<core::PeerRequest> local;
    coordinator.take_local_requests(local);
    return local;
  }
  std::vector<core::Outgoing> replies() {
    std::vector<core::Outgoing> replies;
    coordinator.take_replies(replies);
    return replies;
  }
  void ack(const core::PeerRequest& request, Now now) {
    coordinator.handle_reply(request.route.id, wire::Message{0, wire::ReplicaWriteReply{}}, now);
  }
  // The replica already held `newer`: the write is hidden there.
  void ack_newer(const core::PeerRequest& request, storage::Version newer, Now now) {
    coordinator.handle_reply(request.route.id,
                             wire::Message{0, wire::ReplicaWriteReply{newer.timestamp_us, newer.tiebreak}}, now);
  }
  // This node's ring was `before` until a moment ago (a joint quorum follows).
  void ring_changed_from(std::vector<char> before) {
    std::vector<core::RingNode> nodes;
    for (char c : before) {
      nodes.push_back({node_id(c), std::string("node-") + c, std::string("10.0.0.") + c + ":1", 32});
    }
    view.previous_ring = std::make_shared<const core::Ring>(core::Ring::build(nodes));
    view.previous_until_ms = 30'000;
  }
  void fail(const core::PeerRequest& request, Now now) {
    coordinator.handle_reply(request.route.id, std::unexpected("connection reset"), now);
  }
};

}  // namespace

TEST_CASE("a QUORUM write answers after two of three replicas, this node being one") {
  Cluster c(3);
  c.coordinator.write(1, 10, "k", c.record(5, "v"), wire::Consistency::kQuorum, at(0));
  auto requests = c.take();
  REQUIRE(requests.size() == 2);  // the third replica is this node, applied in place
  CHECK(c.replies().empty());
  c.ack(requests[0], at(1));
  auto replies = c.replies();
  REQUIRE(replies.size() == 1);
  CHECK(replies[0].message.request_id == 10);
  CHECK(std::get<wire::WriteReply>(replies[0].message.body).timestamp_us == kWallBase + 5);
  CHECK((*c.store.read("k"))->value == "v");
  c.ack(requests[1], at(2));
  CHECK(c.replies().empty());  // answered once only
}

TEST_CASE("the coordinator times each request from arrival to reply and each replica round trip") {
  Cluster c(3);
  c.coordinator.write(1, 10, "k", c.record(5, "v"), wire::Consistency::kQuorum, at(0));
  auto requests = c.take();
  REQUIRE(requests.size() == 2);
  CHECK(c.coordinator.replica_requests_in_flight() == 2);
  c.ack(requests[0], at(5));
  const core::RequestLatencies& latencies = c.coordinator.latencies();
  CHECK(latencies.writes.count() == 1);
  CHECK(latencies.writes.sum_micros() == 5000);
  CHECK(latencies.reads.count() == 0);
  REQUIRE(latencies.by_op.size() == 1);
  CHECK(latencies.by_op.begin()->first == std::pair{core::ClientOp::kPut, wire::Consistency::kQuorum});
  CHECK(latencies.replica_writes.count() == 1);
  c.ack(requests[1], at(7));
  CHECK(latencies.replica_writes.count() == 2);
  CHECK(latencies.replica_writes.sum_micros() == 5000 + 7000);
  CHECK(latencies.writes.count() == 1);  // the client was answered once
  CHECK(c.coordinator.replica_requests_in_flight() == 0);
  // A reply to a request already answered, or never sent, is not awaited.
  CHECK_FALSE(c.coordinator.handle_reply(requests[1].route.id, wire::Message{0, wire::ReplicaWriteReply{}}, at(8)));
  CHECK_FALSE(c.coordinator.handle_reply(999, wire::Message{0, wire::ReplicaWriteReply{}}, at(8)));
  CHECK(latencies.replica_writes.count() == 2);
}

TEST_CASE("ALL with a replica down is UNAVAILABLE and writes nothing anywhere") {
  Cluster c(3);
  c.view.down_since_ms[node_id('b')] = 0;
  c.coordinator.write(1, 10, "k", c.record(5, "v"), wire::Consistency::kAll, at(0));
  CHECK(c.take().empty());
  auto replies = c.replies();
  REQUIRE(replies.size() == 1);
  CHECK(std::get<wire::ErrorReply>(replies[0].message.body).code == wire::ErrorCode::kUnavailable);
  CHECK_FALSE(c.store.read("k")->has_value());
}

TEST_CASE("a down replica gets a stand-in that holds a hint, and the stand-in does not count") {
  Cluster c(5);
  c.view.self_id = node_id('z');  // a coordinator outside the ring: every replica is remote
  const std::string key = "k";
  const auto natural = c.natural(key);
  c.view.down_since_ms[natural[0]->id] = 0;
  c.coordinator.write(1, 10, key, c.record(5, "v"), wire::Consistency::kQuorum, at(0));
  auto requests = c.take();
  REQUIRE(requests.size() == 3);
  int hinted = 0;
  for (const auto& request : requests) {
    const auto& write = std::get<wire::ReplicaWriteRequest>(request.body);
    if (!write.hint_target.empty()) {
      ++hinted;
      CHECK(write.hint_target == natural[0]->id);
      CHECK(request.address != natural[0]->address);
      c.ack(request, at(1));  // the stand-in's ack alone is not a quorum
    }
  }
  CHECK(hinted == 1);
  CHECK(c.replies().empty());
  for (const auto& request : requests) {
    if (std::get<wire::ReplicaWriteRequest>(request.body).hint_target.empty()) c.ack(request, at(2));
  }
  REQUIRE(c.replies().size() == 1);
}

TEST_CASE("ANY succeeds on a hint when every natural replica is down") {
  Cluster c(3);
  c.view.down_since_ms[node_id('b')] = 0;
  c.view.down_since_ms[node_id('c')] = 0;
  c.view.self_id = node_id('z');  // a coordinator outside the ring
  c.coordinator.write(1, 10, "k", c.record(5, "v"), wire::Consistency::kAny, at(0));
  auto requests = c.take();
  REQUIRE_FALSE(requests.empty());
  c.ack(requests[0], at(1));
  auto replies = c.replies();
  REQUIRE(replies.size() == 1);
  CHECK(std::holds_alternative<wire::WriteReply>(replies[0].message.body));
}

TEST_CASE("replicas that fail before the deadline turn a write into FAILED, naming them, and leave hints here") {
  Cluster c(3);
  c.coordinator.write(1, 10, "k", c.record(5, "v"), wire::Consistency::kAll, at(0));
  auto requests = c.take();
  REQUIRE(requests.size() == 2);
  c.fail(requests[0], at(1));
  auto replies = c.replies();
  REQUIRE(replies.size() == 1);
  const auto& refused = std::get<wire::ErrorReply>(replies[0].message.body);
  CHECK(refused.code == wire::ErrorCode::kFailed);  // TIMEOUT is for the deadline only
  CHECK(refused.message.find("connection reset") != std::string::npos);
  CHECK(refused.message.find("may still have landed") != std::string::npos);
  CHECK(c.store.hint_counts().size() == 1);
}

TEST_CASE("a write nobody answers times out at the deadline and hints the silent replicas") {
  Cluster c(3, core::CoordinatorConfig{.replicas = 3, .request_timeout_ms = 100});
  c.coordinator.write(1, 10, "k", c.record(5, "v"), wire::Consistency::kQuorum, at(0));
  REQUIRE(c.take().size() == 2);
  CHECK(c.coordinator.next_deadline() == 100);
  c.coordinator.tick(at(99));
  CHECK(c.replies().empty());
  c.coordinator.tick(at(100));
  auto replies = c.replies();
  REQUIRE(replies.size() == 1);
  CHECK(std::get<wire::ErrorReply>(replies[0].message.body).code == wire::ErrorCode::kTimeout);
  uint64_t hints = 0;
  for (const auto& [target, count] : c.store.hint_counts()) hints += count;
  CHECK(hints == 2);
  CHECK_FALSE(c.coordinator.next_deadline().has_value());
}

TEST_CASE("a QUORUM read asks this node and one other, and replaces one that fails") {
  Cluster c(3);
  REQUIRE(c.store.apply("k", c.record(5, "v")));
  c.coordinator.read(1, 20, "k", wire::Consistency::kQuorum, at(0));
  auto requests = c.take();
  REQUIRE(requests.size() == 1);
  c.coordinator.handle_reply(requests[0].route.id, std::unexpected("connection reset"), at(1));
  auto retry = c.take();
  REQUIRE(retry.size() == 1);
  CHECK(retry[0].address != requests[0].address);
  c.coordinator.handle_reply(retry[0].route.id,
                             wire::Message{0, wire::ReplicaReadReply{true, {kWallBase + 5, 1, false, "v"}}}, at(2));
  auto replies = c.replies();
  REQUIRE(replies.size() == 1);
  CHECK(std::get<wire::GetReply>(replies[0].message.body).value == "v");
}

TEST_CASE("a read returns the newest version and repairs the stale replicas") {
  Cluster c(3);
  REQUIRE(c.store.apply("k", c.record(5, "old")));
  c.coordinator.read(1, 20, "k", wire::Consistency::kAll, at(0));
  auto requests = c.take();
  REQUIRE(requests.size() == 2);
  c.coordinator.handle_reply(requests[0].route.id,
                             wire::Message{0, wire::ReplicaReadReply{true, {kWallBase + 9, 1, false, "new"}}}, at(1));
  CHECK(c.replies().empty());
  // The last replica has nothing: it and this node get the newest version.
  c.coordinator.handle_reply(requests[1].route.id, wire::Message{0, wire::ReplicaReadReply{}}, at(2));
  auto replies = c.replies();
  REQUIRE(replies.size() == 1);
  const auto& got = std::get<wire::GetReply>(replies[0].message.body);
  CHECK(got.found);
  CHECK(got.value == "new");
  CHECK(got.timestamp_us == kWallBase + 9);
  CHECK((*c.store.read("k"))->value == "new");
  auto repairs = c.take();
  REQUIRE(repairs.size() == 1);
  CHECK(repairs[0].address == requests[1].address);
  CHECK(std::get<wire::ReplicaWriteRequest>(repairs[0].body).record.value == "new");
  CHECK(c.coordinator.counters().read_repairs == 2);
}

TEST_CASE("a read of a deleted key is not found even when another replica is stale") {
  Cluster c(3);
  REQUIRE(c.store.apply("k", storage::Record{{kWallBase + 9, 1}, true, ""}));
  c.coordinator.read(1, 20, "k", wire::Consistency::kAll, at(0));
  auto requests = c.take();
  for (const auto& request : requests) {
    c.coordinator.handle_reply(request.route.id,
                               wire::Message{0, wire::ReplicaReadReply{true, {kWallBase + 5, 1, false, "old"}}}, at(1));
  }
  auto replies = c.replies();
  REQUIRE(replies.size() == 1);
  CHECK_FALSE(std::get<wire::GetReply>(replies[0].message.body).found);
}

TEST_CASE("a single-node cluster with N = 3 keeps one copy and answers QUORUM") {
  Cluster c(1);
  c.coordinator.write(1, 10, "k", c.record(5, "v"), wire::Consistency::kQuorum, at(0));
  CHECK(c.take().empty());
  auto replies = c.replies();
  REQUIRE(replies.size() == 1);
  CHECK(std::holds_alternative<wire::WriteReply>(replies[0].message.body));
}

const core::PeerRequest& request_to(const std::vector<core::PeerRequest>& requests, char node) {
  const std::string address = std::string("10.0.0.") + node + ":1";
  auto it = std::find_if(requests.begin(), requests.end(),
                         [&](const core::PeerRequest& r) { return r.address == address; });
  REQUIRE(it != requests.end());
  return *it;
}

TEST_CASE("right after a two-node ring grew to three, QUORUM writes survive either old node failing") {
  // Issue 12: the old rule wanted QUORUM (2 of 2) of the previous ring, so a
  // crash of the other old node failed every write until it was declared dead.
  for (char failing : {'b', 'c'}) {
    Cluster c(3);
    c.ring_changed_from({'a', failing});
    c.coordinator.write(1, 10, "k", c.record(5, "v"), wire::Consistency::kQuorum, at(0));
    auto requests = c.take();
    REQUIRE(requests.size() == 2);
    c.fail(request_to(requests, failing), at(1));
    CHECK(c.replies().empty());
    c.ack(request_to(requests, failing == 'b' ? 'c' : 'b'), at(2));
    auto replies = c.replies();
    REQUIRE(replies.size() == 1);
    CHECK(std::holds_alternative<wire::WriteReply>(replies[0].message.body));
  }
}

TEST_CASE("after a change the write still meets every QUORUM read of the previous ring") {
  // Previous ring b, c, d (this node a is new): a QUORUM read there asks 2 of
  // 3, so the write needs 2 of b, c, d even once the current quorum is met.
  Cluster c(4);
  c.ring_changed_from({'b', 'c', 'd'});
  std::string key = "k";
  auto has_self = [&](const std::string& k) {
    const auto list = c.natural(k);
    return std::any_of(list.begin(), list.end(), [](const core::RingNode* n) { return n->id == node_id('a'); });
  };
  while (!has_self(key)) key += "k";
  const auto natural = c.natural(key);
  c.coordinator.write(1, 10, key, c.record(5, "v"), wire::Consistency::kQuorum, at(0));
  auto requests = c.take();
  REQUIRE(requests.size() == 3);  // b, c and d: two are natural, all three previous
  std::vector<char> previous_natural;
  for (const core::RingNode* node : natural) {
    if (node->id != node_id('a')) previous_natural.push_back(node->id[0]);
  }
  REQUIRE(previous_natural.size() == 2);
  const char outside = 'b' + 'c' + 'd' - previous_natural[0] - previous_natural[1];
  c.ack(request_to(requests, previous_natural[0]), at(1));  // current quorum: a + one
  CHECK(c.replies().empty());                // previous: 1 of 2 so far
  c.fail(request_to(requests, previous_natural[1]), at(2));
  CHECK(c.replies().empty());
  c.ack(request_to(requests, outside), at(3));
  auto replies = c.replies();
  REQUIRE(replies.size() == 1);
  CHECK(std::holds_alternative<wire::WriteReply>(replies[0].message.body));
}

TEST_CASE("a write that meets a newer version is re-stamped above it before it is acknowledged") {
  Cluster c(3);
  // This node's clock is 10 s behind the coordinator of the stored version.
  REQUIRE(c.store.apply("k", c.record(10'000'000, "newer elsewhere")));
  // Its expiry was fixed by this node's clock when it accepted the write
  // (node/core/expiry.h): the re-stamp moves the version, not the instant.
  storage::Record mine = c.record(5, "mine");
  mine.expires_at_us = kWallBase + 20'000'000;
  c.coordinator.write(1, 10, "k", mine, wire::Consistency::kQuorum, at(0));
  auto first = c.take();
  REQUIRE(first.size() == 2);
  c.ack_newer(first[0], {kWallBase + 10'000'000, 1}, at(1));
  CHECK(c.replies().empty());  // hidden: sent again, not acknowledged
  auto second = c.take();
  REQUIRE(second.size() == 2);
  const auto& resent = std::get<wire::ReplicaWriteRequest>(second[0].body);
  CHECK(resent.record.timestamp_us > kWallBase + 10'000'000);
  CHECK(resent.record.expires_at_us == kWallBase + 20'000'000);
  c.ack(first[1], at(2));  // a late answer to the first round changes nothing
  CHECK(c.replies().empty());
  c.ack(second[0], at(3));
  auto replies = c.replies();
  REQUIRE(replies.size() == 1);
  CHECK(std::get<wire::WriteReply>(replies[0].message.body).timestamp_us == resent.record.timestamp_us);
  CHECK((*c.store.read("k"))->value == "mine");
  CHECK(c.coordinator.counters().writes_restamped == 1);
}

TEST_CASE("a write that keeps meeting newer versions is SUPERSEDED, never acknowledged as hidden") {
  Cluster c(3, core::CoordinatorConfig{.replicas = 3, .max_restamps = 2});
  c.coordinator.write(1, 10, "k", c.record(5, "mine"), wire::Consistency::kQuorum, at(0));
  for (int round = 0; round < 3; ++round) {
    auto requests = c.take();
    REQUIRE(requests.size() == 2);
    CHECK(c.replies().empty());
    // A racing writer stays ahead of every re-stamp.
    c.ack_newer(requests[0], {kWallBase + 100'000'000 * uint64_t(round + 1), 2}, at(round + 1));
  }
  auto replies = c.replies();
  REQUIRE(replies.size() == 1);
  CHECK(std::get<wire::ErrorReply>(replies[0].message.body).code == wire::ErrorCode::kSuperseded);
  CHECK(c.coordinator.counters().writes_superseded == 1);
}

TEST_CASE("a pending owner that is down still raises what a write needs (found by mixed seed 479)") {
  // Ring a, b, c; d is joining and down. Acknowledged by a bare quorum of the
  // old owners, the write could miss a QUORUM read of the new ring (d + the
  // old owner that did not answer), so it needs all three old owners.
  Cluster c(3);
  std::vector<core::RingNode> future(c.view.ring->nodes().begin(), c.view.ring->nodes().end());
  future.push_back({node_id('d'), "node-d", "10.0.0.d:1", 32});
  c.view.future_ring = std::make_shared<const core::Ring>(core::Ring::build(future));
  c.view.down_since_ms[node_id('d')] = 0;
  std::string key = "k";
  auto gains_d = [&](const std::string& k) {
    const auto list = c.view.future_ring->preference_list(storage::ring_position(k), 3);
    return std::any_of(list.begin(), list.end(), [](const core::RingNode* n) { return n->id == node_id('d'); });
  };
  while (!gains_d(key)) key += "k";
  c.coordinator.write(1, 10, key, c.record(5, "v"), wire::Consistency::kQuorum, at(0));
  auto requests = c.take();
  REQUIRE(requests.size() == 2);
  c.ack(requests[0], at(1));
  CHECK(c.replies().empty());  // 2 of 3: not yet
  c.ack(requests[1], at(2));
  auto replies = c.replies();
  REQUIRE(replies.size() == 1);
  CHECK(std::holds_alternative<wire::WriteReply>(replies[0].message.body));
  CHECK(c.store.hint_counts().contains(node_id('d')));  // and d gets its copy later

  // With one old owner down too, the write cannot meet that: UNAVAILABLE, nothing sent.
  c.view.down_since_ms[node_id('b')] = 0;
  c.coordinator.write(1, 11, key, c.record(6, "w"), wire::Consistency::kQuorum, at(3));
  CHECK(c.take().empty());
  auto refused = c.replies();
  REQUIRE(refused.size() == 1);
  CHECK(std::get<wire::ErrorReply>(refused[0].message.body).code == wire::ErrorCode::kUnavailable);
}

TEST_CASE("a late reply to a finished operation leaves the operation that took its place alone") {
  Cluster c(3, core::CoordinatorConfig{.replicas = 3, .request_timeout_ms = 100});
  c.coordinator.write(1, 10, "k", c.record(5, "first"), wire::Consistency::kQuorum, at(0));
  auto first = c.take();
  REQUIRE(first.size() == 2);
  c.ack(first[0], at(1));
  REQUIRE(c.replies().size() == 1);
  c.coordinator.tick(at(100));  // the first write ends; its third replica never answered
  CHECK(c.replies().empty());
  // The next write reuses what the first one held; the first one's silent
  // replica answering now is no reply to it.
  c.coordinator.write(1, 11, "k", c.record(6, "second"), wire::Consistency::kAll, at(101));
  auto second = c.take(at(101));
  REQUIRE(second.size() == 2);
  // (Still a request in flight, so awaited, but for an operation that ended.)
  CHECK(c.coordinator.handle_reply(first[1].route.id, wire::Message{0, wire::ReplicaWriteReply{}}, at(102)));
  CHECK(c.replies().empty());
  c.ack(second[0], at(103));
  CHECK(c.replies().empty());  // ALL still waits for the third
  c.ack(second[1], at(104));
  auto replies = c.replies();
  REQUIRE(replies.size() == 1);
  CHECK(replies[0].message.request_id == 11);
  CHECK(std::holds_alternative<wire::WriteReply>(replies[0].message.body));
  CHECK(c.coordinator.replica_requests_in_flight() == 0);
  CHECK(c.coordinator.next_deadline() == std::nullopt);
}

TEST_CASE("an operation keeps the ring it started with when the ring is rebuilt meanwhile") {
  Cluster c(3);
  c.coordinator.write(1, 10, "k", c.record(5, "v"), wire::Consistency::kAll, at(0));
  auto requests = c.take();
  REQUIRE(requests.size() == 2);
  // Membership rebuilt the ring: the view's old ring is gone, but the
  // operation still names its replicas by the nodes it started with.
  c.view.ring = std::make_shared<const core::Ring>(core::Ring::build({}));
  c.ack(requests[0], at(1));
  c.fail(requests[1], at(2));
  auto replies = c.replies();
  REQUIRE(replies.size() == 1);
  const auto& failed = std::get<wire::ErrorReply>(replies[0].message.body);
  CHECK(failed.message.find(requests[1].address + ": connection reset") != std::string::npos);
}

TEST_CASE("thousands of writes in flight at once are each answered once, in any order") {
  Cluster c(3, core::CoordinatorConfig{.replicas = 3, .request_timeout_ms = 1000});
  std::vector<core::PeerRequest> requests;
  for (uint64_t i = 1; i <= 3000; ++i) {
    c.coordinator.write(1, i, "k" + std::to_string(i), c.record(i, "v"), wire::Consistency::kAll, at(0));
    for (auto& request : c.take()) requests.push_back(std::move(request));
  }
  REQUIRE(requests.size() == 6000);
  CHECK(c.replies().empty());
  // Acknowledge from the newest back: the oldest operations finish last.
  for (auto it = requests.rbegin(); it != requests.rend(); ++it) c.ack(*it, at(1));
  auto replies = c.replies();
  REQUIRE(replies.size() == 3000);
  std::vector<bool> answered(3001, false);
  for (const auto& reply : replies) {
    CHECK(std::holds_alternative<wire::WriteReply>(reply.message.body));
    CHECK_FALSE(answered[reply.message.request_id]);
    answered[reply.message.request_id] = true;
  }
  CHECK(c.coordinator.replica_requests_in_flight() == 0);
  CHECK(c.coordinator.next_deadline() == std::nullopt);
}

TEST_CASE("reads of one key and level that arrive before anything was sent share one replica round") {
  Cluster c(3);
  REQUIRE(c.store.apply("k", c.record(5, "old")));
  for (uint64_t id = 20; id < 23; ++id) c.coordinator.read(1, id, "k", wire::Consistency::kQuorum, at(0));
  c.coordinator.read(2, 30, "k", wire::Consistency::kAll, at(0));  // another level: its own operation
  auto requests = c.take();
  REQUIRE(requests.size() == 3);  // QUORUM: one peer; ALL: two peers
  CHECK(c.coordinator.counters().reads == 4);
  CHECK(c.coordinator.counters().reads_coalesced == 2);
  const core::PeerRequest& quorum_peer = requests[0];
  c.coordinator.handle_reply(quorum_peer.route.id,
                             wire::Message{0, wire::ReplicaReadReply{true, {kWallBase + 9, 1, false, "new"}}}, at(1));
  auto replies = c.replies();
  REQUIRE(replies.size() == 3);
  std::vector<uint64_t> ids;
  for (const auto& reply : replies) {
    CHECK(reply.client == 1);
    CHECK(std::get<wire::GetReply>(reply.message.body).value == "new");
    ids.push_back(reply.message.request_id);
  }
  std::sort(ids.begin(), ids.end());
  CHECK(ids == std::vector<uint64_t>{20, 21, 22});
  // One read repair of this node's stale copy, not one per client request.
  CHECK(c.coordinator.counters().read_repairs == 1);
}

TEST_CASE("a read arriving after an operation's requests left starts its own and sees a later write") {
  Cluster c(3);
  REQUIRE(c.store.apply("k", c.record(5, "old")));
  c.coordinator.read(1, 20, "k", wire::Consistency::kQuorum, at(0));
  auto first = c.take();
  REQUIRE(first.size() == 1);
  // Meanwhile a write lands on this node and the peer the first read asked.
  REQUIRE(c.store.apply("k", c.record(9, "new")));
  c.coordinator.read(1, 21, "k", wire::Consistency::kQuorum, at(1));
  auto second = c.take(at(1));
  REQUIRE(second.size() == 1);
  CHECK(c.coordinator.counters().reads_coalesced == 0);
  c.coordinator.handle_reply(first[0].route.id,
                             wire::Message{0, wire::ReplicaReadReply{true, {kWallBase + 5, 1, false, "old"}}}, at(2));
  c.coordinator.handle_reply(second[0].route.id,
                             wire::Message{0, wire::ReplicaReadReply{true, {kWallBase + 9, 1, false, "new"}}}, at(2));
  auto replies = c.replies();
  REQUIRE(replies.size() == 2);
  for (const auto& reply : replies) {
    CHECK(std::get<wire::GetReply>(reply.message.body).value == (reply.message.request_id == 21 ? "new" : "old"));
  }
}

TEST_CASE("writes of one key and level that arrive before anything was sent are one replica round, each answered") {
  Cluster c(3);
  c.coordinator.write(1, 10, "k", c.record(5, "one"), wire::Consistency::kQuorum, at(0));
  c.coordinator.write(2, 11, "k", c.record(6, "two"), wire::Consistency::kQuorum, at(0));
  c.coordinator.write(1, 12, "k", c.record(7, "three"), wire::Consistency::kQuorum, at(0));
  c.coordinator.write(3, 13, "k", c.record(8, "at ALL"), wire::Consistency::kAll, at(0));  // its own operation
  auto requests = c.take();
  REQUIRE(requests.size() == 4);  // two peers each for QUORUM and for ALL
  CHECK(c.coordinator.counters().writes == 4);
  CHECK(c.coordinator.counters().writes_coalesced == 2);
  CHECK(std::get<wire::ReplicaWriteRequest>(requests[0].body).record.value == "three");
  CHECK(c.replies().empty());
  c.ack(requests[0], at(1));
  auto replies = c.replies();
  REQUIRE(replies.size() == 3);
  std::map<uint64_t, uint64_t> versions;  // request id -> the version it was answered with
  for (const auto& reply : replies) {
    versions[reply.message.request_id] = std::get<wire::WriteReply>(reply.message.body).timestamp_us;
  }
  CHECK(versions == std::map<uint64_t, uint64_t>{{10, kWallBase + 5}, {11, kWallBase + 6}, {12, kWallBase + 7}});
}

TEST_CASE("a write arriving after an operation's requests left is its own operation") {
  Cluster c(3);
  c.coordinator.write(1, 10, "k", c.record(5, "one"), wire::Consistency::kQuorum, at(0));
  auto first = c.take();
  c.coordinator.write(1, 11, "k", c.record(6, "two"), wire::Consistency::kQuorum, at(0));
  auto second = c.take();
  REQUIRE(first.size() == 2);
  REQUIRE(second.size() == 2);
  CHECK(std::get<wire::ReplicaWriteRequest>(first[0].body).record.value == "one");
  CHECK(std::get<wire::ReplicaWriteRequest>(second[0].body).record.value == "two");
  CHECK(c.coordinator.counters().writes_coalesced == 0);
}

TEST_CASE("a write that stored hints of its record as it started takes no newer write over") {
  Cluster c(3);
  // Right after a change, a previous owner that is down and no longer a
  // natural replica gets a hint of each write as the write starts.
  c.ring_changed_from({'a', 'b', 'd'});
  c.view.down_since_ms[node_id('d')] = 0;
  c.coordinator.write(1, 10, "k", c.record(5, "one"), wire::Consistency::kQuorum, at(0));
  c.coordinator.write(1, 11, "k", c.record(6, "two"), wire::Consistency::kQuorum, at(0));
  auto requests = c.take();
  CHECK(c.coordinator.counters().hints_written == 2);
  CHECK(c.coordinator.counters().writes_coalesced == 0);
  CHECK(requests.size() == 4);
}

TEST_CASE("writes taken over by a newer one follow it through a re-stamp and are answered with it") {
  Cluster c(3);
  REQUIRE(c.store.apply("k", c.record(10'000'000, "newer elsewhere")));
  c.coordinator.write(1, 10, "k", c.record(5, "one"), wire::Consistency::kQuorum, at(0));
  c.coordinator.write(1, 11, "k", c.record(6, "two"), wire::Consistency::kQuorum, at(0));
  auto first = c.take();
  REQUIRE(first.size() == 2);
  c.ack_newer(first[0], {kWallBase + 10'000'000, 1}, at(1));
  CHECK(c.replies().empty());
  auto second = c.take();
  REQUIRE(second.size() == 2);
  CHECK(std::get<wire::ReplicaWriteRequest>(second[0].body).record.value == "two");
  c.ack(second[0], at(2));
  auto replies = c.replies();
  REQUIRE(replies.size() == 2);
  CHECK((*c.store.read("k"))->value == "two");
}

TEST_CASE("a pipelined read after a write of its key reads it: requests of one key leave in arrival order") {
  Cluster c(3);
  REQUIRE(c.store.apply("k", c.record(1, "old")));
  c.coordinator.read(1, 20, "k", wire::Consistency::kQuorum, at(0));
  c.coordinator.write(1, 21, "k", c.record(5, "new"), wire::Consistency::kQuorum, at(0));
  c.coordinator.read(1, 22, "k", wire::Consistency::kQuorum, at(0));  // joins neither the read before the write
  auto requests = c.take();
  CHECK(c.coordinator.counters().reads_coalesced == 0);
  REQUIRE(requests.size() == 4);
  CHECK(std::holds_alternative<wire::ReplicaReadRequest>(requests[0].body));
  CHECK(std::holds_alternative<wire::ReplicaWriteRequest>(requests[1].body));
  CHECK(std::holds_alternative<wire::ReplicaWriteRequest>(requests[2].body));
  CHECK(std::holds_alternative<wire::ReplicaReadRequest>(requests[3].body));
  // The peers have nothing; this node's copy answered each read in order.
  c.coordinator.handle_reply(requests[0].route.id, wire::Message{0, wire::ReplicaReadReply{}}, at(1));
  c.coordinator.handle_reply(requests[3].route.id, wire::Message{0, wire::ReplicaReadReply{}}, at(1));
  std::map<uint64_t, std::string> values;
  for (const auto& reply : c.replies()) {
    if (const auto* got = std::get_if<wire::GetReply>(&reply.message.body)) values[reply.message.request_id] = got->value;
  }
  CHECK(values == std::map<uint64_t, std::string>{{20, "old"}, {22, "new"}});
}

TEST_CASE("randomized batches of reads and writes of two hot keys: each answered once, each read sees every write before it") {
  // Peers serve requests in the order they were sent (one TCP connection
  // each) and their replies come back in any order; this node is a replica
  // of every key (3 nodes, N = 3), served in the batch's group commit.
  Cluster c(3);
  std::mt19937_64 random(20261201);
  std::map<std::string, std::map<std::string, wire::WireRecord>> peers;  // address -> key -> record
  std::map<uint64_t, std::pair<std::string, bool>> issued;                // request id -> key, is a put
  std::map<std::string, uint64_t> newest_put;                             // key -> newest version issued
  std::map<uint64_t, uint64_t> must_see;                                  // get id -> version it must see
  std::map<uint64_t, int> answers;
  uint64_t next_id = 1;
  uint64_t clock = 1;
  for (int round = 0; round < 200; ++round) {
    const int batch = 1 + static_cast<int>(random() % 12);
    for (int i = 0; i < batch; ++i) {
      const std::string key = random() % 2 ? "hot-a" : "hot-b";
      const uint64_t id = next_id++;
      if (random() % 2) {
        const uint64_t version = clock++;
        c.coordinator.write(1 + random() % 3, id, key, c.record(version, "v" + std::to_string(version)),
                            wire::Consistency::kQuorum, at(round));
        newest_put[key] = kWallBase + version;
        issued[id] = {key, true};
      } else {
        c.coordinator.read(1 + random() % 3, id, key, wire::Consistency::kQuorum, at(round));
        must_see[id] = newest_put[key];
        issued[id] = {key, false};
      }
    }
    std::vector<std::pair<uint64_t, wire::Message>> replies;
    for (core::PeerRequest& request : c.take(at(round))) {
      auto& held = peers[request.address];
      if (auto* write = std::get_if<wire::ReplicaWriteRequest>(&request.body)) {
        wire::WireRecord& record = held[write->key];
        if (record.timestamp_us < write->record.timestamp_us) record = write->record;
        replies.emplace_back(request.route.id, wire::Message{0, wire::ReplicaWriteReply{}});
      } else {
        const auto& read = std::get<wire::ReplicaReadRequest>(request.body);
        const auto found = held.find(read.key);
        replies.emplace_back(request.route.id, found == held.end() ? wire::Message{0, wire::ReplicaReadReply{}}
                                                                   : wire::Message{0, wire::ReplicaReadReply{true, found->second}});
      }
    }
    std::shuffle(replies.begin(), replies.end(), random);
    for (auto& [route, reply] : replies) c.coordinator.handle_reply(route, reply, at(round));
    c.take(at(round));  // read repairs
    for (const core::Outgoing& reply : c.replies()) {
      const uint64_t id = reply.message.request_id;
      ++answers[id];
      REQUIRE(issued.contains(id));
      if (issued[id].second) {
        CHECK(std::holds_alternative<wire::WriteReply>(reply.message.body));
        continue;
      }
      const auto& got = std::get<wire::GetReply>(reply.message.body);
      CAPTURE(id);
      CHECK(got.timestamp_us >= must_see[id]);
      if (got.found) CHECK(got.value == "v" + std::to_string(got.timestamp_us - kWallBase));
    }
  }
  CHECK(answers.size() == issued.size());
  CHECK(std::all_of(answers.begin(), answers.end(), [](const auto& entry) { return entry.second == 1; }));
  CHECK(c.coordinator.counters().reads_coalesced > 0);
  CHECK(c.coordinator.counters().writes_coalesced > 0);
  for (const auto& [key, version] : newest_put) CHECK((*c.store.read(key))->version.timestamp_us == version);
}
