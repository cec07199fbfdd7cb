// Node core: request handling against an in-memory engine, and the hybrid
// logical clock.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <set>

#include "node/core/client_access.h"
#include "node/core/hybrid_clock.h"
#include "node/core/node_core.h"
#include "storage/memory_engine.h"

using namespace ringkv;

namespace {

membership::Swim make_swim(const std::string& name, char id_byte, bool found_cluster = true) {
  membership::Member self;
  self.id = std::string(membership::kNodeIdBytes, id_byte);
  self.name = name;
  self.address = "127.0.0.1:" + std::to_string(7000 + id_byte);
  self.ring_status = membership::RingStatus::kNormal;
  self.vnode_count = 64;
  auto swim = membership::Swim::create(membership::Config{}, self, /*generation=*/1, /*rng_seed=*/1, 0);
  REQUIRE(swim.has_value());
  if (found_cluster) swim->join({}, 0);
  return std::move(*swim);
}

struct Fixture {
  storage::MemoryEngine engine{storage::Options{.clock_us = [] { return uint64_t{0}; }}};
  core::ReplicaStore store = *core::ReplicaStore::open(engine, core::HintLimits{});
  core::NodeCore core{core::NodeConfig{}, store, /*tiebreak=*/7, make_swim("node1", 1), core::Now{}};

  wire::Body call(wire::Body request, uint64_t now_us, core::ClientId client = 1,
                  core::Channel channel = core::Channel::kPeer) {
    core.handle_client(client, "127.0.0.9:5555", channel, wire::Message{99, std::move(request)},
                       core::Now{now_us, static_cast<membership::TimeMs>(now_us / 1000)});
    auto out = core.take_outgoing();
    REQUIRE(out.size() == 1);
    CHECK(out[0].client == client);
    CHECK(out[0].message.request_id == 99);
    return out[0].message.body;
  }
};

}  // namespace

TEST_CASE("the clock issues strictly increasing timestamps even when time stands still or goes back") {
  core::HybridClock clock;
  CHECK(clock.next(1000) == 1000);
  CHECK(clock.next(1000) == 1001);
  CHECK(clock.next(500) == 1002);
  CHECK(clock.next(5000) == 5000);
}

TEST_CASE("the clock moves past observed timestamps but ignores ones too far ahead") {
  core::HybridClock clock(/*max_forward_us=*/1000);
  CHECK(clock.observe(1500, 1000));
  CHECK(clock.next(1000) == 1501);
  CHECK_FALSE(clock.observe(10'000, 1000));
  CHECK(clock.next(1000) == 1502);
}

TEST_CASE("a put is readable with the version the reply carried") {
  Fixture f;
  auto written = std::get<wire::WriteReply>(f.call(wire::PutRequest{"k", "v"}, 1000));
  CHECK(written.timestamp_us == 1000);
  CHECK(written.tiebreak == 7);
  auto read = std::get<wire::GetReply>(f.call(wire::GetRequest{"k"}, 2000));
  CHECK(read.found);
  CHECK(read.value == "v");
  CHECK(read.timestamp_us == 1000);
}

TEST_CASE("a later put wins even when the wall clock went backwards") {
  Fixture f;
  f.call(wire::PutRequest{"k", "first"}, 5000);
  f.call(wire::PutRequest{"k", "second"}, 4000);
  CHECK(std::get<wire::GetReply>(f.call(wire::GetRequest{"k"}, 6000)).value == "second");
}

TEST_CASE("a TTL counts from the coordinator's wall clock, not from a version stamped ahead of it") {
  // The hybrid clock ran 30 s ahead of this node's wall clock (it saw a
  // faster peer): the version follows it, the 20 s lifetime must not.
  Fixture f;
  constexpr uint64_t kWallUs = 100'000'000;
  f.call(wire::PutRequest{"seen", "v"}, kWallUs + 30'000'000);
  const auto written = std::get<wire::WriteReply>(
      f.call(wire::PutRequest{"k", "v", wire::Consistency::kQuorum, /*ttl_ms=*/20'000}, kWallUs));
  CHECK(written.timestamp_us > kWallUs + 30'000'000);
  const auto read = std::get<wire::GetReply>(f.call(wire::GetRequest{"k"}, kWallUs + 1'000'000));
  CHECK((read.found && read.expires_at_us == kWallUs + 20'000'000 && read.ttl_ms == 19'000));
  CHECK_FALSE(std::get<wire::GetReply>(f.call(wire::GetRequest{"k"}, kWallUs + 20'000'000)).found);
}

TEST_CASE("a deleted key reads as not found and a later put brings it back") {
  Fixture f;
  f.call(wire::PutRequest{"k", "v"}, 1000);
  CHECK(std::holds_alternative<wire::WriteReply>(f.call(wire::DeleteRequest{"k"}, 2000)));
  CHECK_FALSE(std::get<wire::GetReply>(f.call(wire::GetRequest{"k"}, 3000)).found);
  f.call(wire::PutRequest{"k", "again"}, 4000);
  CHECK(std::get<wire::GetReply>(f.call(wire::GetRequest{"k"}, 5000)).value == "again");
}

TEST_CASE("a missing key reads as not found") {
  Fixture f;
  CHECK_FALSE(std::get<wire::GetReply>(f.call(wire::GetRequest{"absent"}, 1000)).found);
}

TEST_CASE("a full disk fails the write with a clear error and changes nothing") {
  Fixture f;
  f.call(wire::PutRequest{"k", "old"}, 1000);
  f.engine.fail_writes_with(storage::ErrorKind::kNoSpace);
  auto failed = std::get<wire::ErrorReply>(f.call(wire::PutRequest{"k", "new"}, 2000));
  CHECK(failed.code == wire::ErrorCode::kInternal);
  CHECK(failed.message.find("storage full") != std::string::npos);
  CHECK(std::get<wire::GetReply>(f.call(wire::GetRequest{"k"}, 3000)).value == "old");
  f.engine.fail_writes_with(std::nullopt);
  CHECK(std::holds_alternative<wire::WriteReply>(f.call(wire::PutRequest{"k", "new"}, 4000)));

}

TEST_CASE("a reply type sent as a request is refused as invalid") {
  Fixture f;
  auto refused = std::get<wire::ErrorReply>(f.call(wire::GetReply{}, 1000));
  CHECK(refused.code == wire::ErrorCode::kInvalid);
}

TEST_CASE("status lists this node alive with its storage figures") {
  Fixture f;
  f.call(wire::PutRequest{"k", "v"}, 1000);
  auto status = std::get<wire::StatusReply>(f.call(wire::StatusRequest{}, 2000));
  CHECK(status.node_name == "node1");
  REQUIRE(status.members.size() == 1);
  CHECK(status.members[0].liveness == "alive");
  CHECK(status.members[0].ring_status == "normal");
  CHECK(status.members[0].vnodes == 64);
  CHECK(status.keys >= 1);
}

TEST_CASE("a push-pull from another node adds it to the member table") {
  Fixture f;
  membership::Swim other = make_swim("node2", 2);
  other.join({"127.0.0.1:7001"}, 0);
  auto requests = other.take_push_pull_requests();
  REQUIRE(requests.size() == 1);
  auto reply = f.call(wire::PushPullRequest{requests[0].bytes}, 1000);
  REQUIRE(std::holds_alternative<wire::PushPullReply>(reply));
  auto status = std::get<wire::StatusReply>(f.call(wire::StatusRequest{}, 2000));
  CHECK(status.members.size() == 2);
  // The reply lets the other node learn about us too.
  REQUIRE(other.handle_push_pull_reply("127.0.0.1:7001", std::get<wire::PushPullReply>(reply).payload, 1).has_value());
  CHECK(other.members().size() == 2);
}

TEST_CASE("a garbage push-pull is refused and changes no membership") {
  Fixture f;
  auto reply = std::get<wire::ErrorReply>(f.call(wire::PushPullRequest{"garbage"}, 1000));
  CHECK(reply.code == wire::ErrorCode::kInvalid);
  CHECK(std::get<wire::StatusReply>(f.call(wire::StatusRequest{}, 2000)).members.size() == 1);
}

TEST_CASE("known members round-trip through their text form and garbage is refused") {
  std::vector<core::RingNode> nodes{{std::string(16, '\x01'), "node2", "127.0.0.2:7000", 1024},
                                    {std::string(16, '\xfe'), "node3", "127.0.0.3:7000", 8}};
  CHECK(core::decode_known_members(core::encode_known_members(nodes)) == nodes);
  CHECK_FALSE(core::decode_known_members("zz\tn\ta\t1\n").has_value());
  CHECK_FALSE(core::decode_known_members("0101\tn\ta\t1\n").has_value());  // id too short
  CHECK(core::decode_known_members("")->empty());
}

TEST_CASE("known members keep their racks; a list without racks is the default rack") {
  std::vector<core::RingNode> nodes{{std::string(16, '\x01'), "node2", "127.0.0.2:7000", 1024, "east"},
                                    {std::string(16, '\xfe'), "node3", "127.0.0.3:7000", 8}};
  const std::string text = core::encode_known_members(nodes);
  CHECK(core::decode_known_members(text) == nodes);
  CHECK(text.find("\teast\n") != std::string::npos);
  // The second line has the four fields of builds before racks.
  CHECK(text.substr(text.find('\n') + 1) == "fefefefefefefefefefefefefefefefe\tnode3\t127.0.0.3:7000\t8\n");
  const std::string id(32, '0');
  CHECK_FALSE(core::decode_known_members(id + "\tn\t127.0.0.1:1\t1\tbad rack\n").has_value());
  CHECK_FALSE(core::decode_known_members(id + "\tn\t127.0.0.1:1\t1\tr\textra\n").has_value());
  CHECK(core::decode_known_members(id + "\tn\t127.0.0.1:1\t1\tr-1\n")->at(0).rack == "r-1");
}

TEST_CASE("a restarted node keeps its old members in the ring and refuses QUORUM until they are back") {
  storage::MemoryEngine engine{storage::Options{.clock_us = [] { return uint64_t{0}; }}};
  core::ReplicaStore store = *core::ReplicaStore::open(engine, core::HintLimits{});
  std::vector<core::RingNode> others{{std::string(16, '\x02'), "node2", "127.0.0.1:7002", 64},
                                     {std::string(16, '\x03'), "node3", "127.0.0.1:7003", 64}};
  REQUIRE(engine.meta_put(core::kKnownMembersMeta, core::encode_known_members(others)));
  core::NodeCore node{core::NodeConfig{}, store, 7, make_swim("node1", 1), core::Now{1000, 1}};
  CHECK(node.view().ring->node_count() == 3);
  CHECK(node.remembered_addresses() == std::vector<std::string>{"127.0.0.1:7002", "127.0.0.1:7003"});
  node.handle_client(1, "client", core::Channel::kClient, wire::Message{5, wire::PutRequest{"k", "v"}}, core::Now{2000, 2});
  auto replies = node.take_outgoing();
  REQUIRE(replies.size() == 1);
  CHECK(std::get<wire::ErrorReply>(replies[0].message.body).code == wire::ErrorCode::kUnavailable);
}

TEST_CASE("a restarted node coordinates nothing until it exchanged member tables with a member") {
  // While it was down a node may have joined: its remembered ring lacks it,
  // and "the replicas it knows" may not be the key's replicas any more.
  storage::MemoryEngine engine{storage::Options{.clock_us = [] { return uint64_t{0}; }}};
  core::ReplicaStore store = *core::ReplicaStore::open(engine, core::HintLimits{});
  std::vector<core::RingNode> others{{std::string(16, '\x02'), "node2", "127.0.0.1:7002", 64}};
  REQUIRE(engine.meta_put(core::kKnownMembersMeta, core::encode_known_members(others)));
  REQUIRE(engine.write({{"mine", storage::Record{{5, 1}, false, "old"}}}));
  membership::Swim swim = make_swim("node1", 1, /*found_cluster=*/false);
  swim.join({"127.0.0.1:7002"}, 0);
  core::NodeCore node{core::NodeConfig{}, store, 7, std::move(swim), core::Now{1000, 1}};
  REQUIRE_FALSE(node.membership().joined());
  auto call = [&](wire::Body body, int64_t ms, core::Channel channel = core::Channel::kClient) {
    node.handle_client(1, "client", channel, wire::Message{5, std::move(body)}, core::Now{uint64_t(ms) * 1000, ms});
    auto replies = node.take_outgoing();
    REQUIRE(replies.size() == 1);
    return replies[0].message.body;
  };
  auto refused = std::get<wire::ErrorReply>(call(wire::PutRequest{"k", "v"}, 2000));
  CHECK(refused.code == wire::ErrorCode::kUnavailable);
  CHECK(refused.message.find("restarted") != std::string::npos);
  CHECK_FALSE(engine.read("k")->has_value());
  // Its own copy stays readable: nothing is coordinated.
  CHECK(std::get<wire::GetReply>(call(wire::GetRequest{"mine", wire::Consistency::kQuorum, true}, 2100)).value == "old");
  // A member's push-pull brings the whole table: then it coordinates again
  // (ONE here: node2 and node3 are not confirmed up yet).
  membership::Swim peer = make_swim("node2", 2);
  peer.join({"127.0.0.1:7001"}, 0);
  auto push = peer.take_push_pull_requests();
  REQUIRE(push.size() == 1);
  REQUIRE(std::holds_alternative<wire::PushPullReply>(call(wire::PushPullRequest{push[0].bytes}, 2200, core::Channel::kPeer)));
  CHECK(node.membership().joined());
  wire::PutRequest put{"k", "v"};
  put.consistency = wire::Consistency::kOne;
  node.handle_client(1, "client", core::Channel::kClient, wire::Message{6, put}, core::Now{2'300'000, 2300});
  for (const auto& reply : node.take_outgoing()) {
    if (const auto* error = std::get_if<wire::ErrorReply>(&reply.message.body)) {
      CHECK(error->message.find("restarted") == std::string::npos);
    }
  }
  CHECK(engine.read("k")->has_value());
}

TEST_CASE("a fresh node refuses client requests until a seed answered") {
  storage::MemoryEngine engine{storage::Options{.clock_us = [] { return uint64_t{0}; }}};
  core::ReplicaStore store = *core::ReplicaStore::open(engine, core::HintLimits{});
  membership::Swim swim = make_swim("node1", 1, /*found_cluster=*/false);
  swim.join({"127.0.0.1:7009"}, 0);
  core::NodeCore node{core::NodeConfig{}, store, 7, std::move(swim), core::Now{1000, 1}};
  REQUIRE_FALSE(node.membership().joined());
  node.handle_client(1, "client", core::Channel::kClient, wire::Message{5, wire::PutRequest{"k", "v"}}, core::Now{2000, 2});
  auto replies = node.take_outgoing();
  REQUIRE(replies.size() == 1);
  CHECK(std::get<wire::ErrorReply>(replies[0].message.body).code == wire::ErrorCode::kUnavailable);
  CHECK_FALSE(engine.read("k")->has_value());
  // Counted as a refusal with its reason.
  metrics::Exposition scrape;
  node.write_metrics(scrape, core::Now{3000, 3});
  CHECK(scrape.take().find("\nringkv_client_refusals_total{reason=\"node_not_ready\"} 1\n") != std::string::npos);
}

namespace {

// A node with users (one per role, password "pw-" + name) and client calls
// on a client channel.
struct AuthFixture : Fixture {
  AuthFixture() {
    std::vector<trust::User> users;
    for (auto [name, role] : {std::pair{"reader", trust::Role::kRead}, std::pair{"writer", trust::Role::kReadWrite},
                              std::pair{"boss", trust::Role::kAdmin}}) {
      users.push_back(trust::User{name, role, *trust::hash_password(std::string("pw-") + name)});
    }
    core.set_users(trust::UserTable(std::move(users)));
  }

  wire::Body client(wire::Body request, core::ClientId id = 1) {
    return call(std::move(request), 1000, id, core::Channel::kClient);
  }
  wire::ErrorCode refusal(wire::Body request, core::ClientId id = 1) {
    auto body = client(std::move(request), id);
    REQUIRE(std::holds_alternative<wire::ErrorReply>(body));
    return std::get<wire::ErrorReply>(body).code;
  }
  void login(const std::string& name, core::ClientId id = 1) {
    REQUIRE(std::holds_alternative<wire::AuthReply>(client(wire::AuthRequest{name, "pw-" + name}, id)));
  }
  uint64_t stat(const std::string& name) {
    login("reader", 99);
    const auto stats = std::get<wire::StatsReply>(client(wire::StatsRequest{}, 99));
    for (const auto& [key, value] : stats.values) {
      if (key == name) return value;
    }
    FAIL("no stat " << name);
    return 0;
  }
};

}  // namespace

TEST_CASE("the client list: data and admin requests are client requests, replica and stream traffic is not") {
  CHECK(core::client_role_needed(wire::GetRequest{"k"}) == trust::Role::kRead);
  CHECK(core::client_role_needed(wire::StatsRequest{}) == trust::Role::kRead);
  CHECK(core::client_role_needed(wire::PutRequest{"k", "v"}) == trust::Role::kReadWrite);
  CHECK(core::client_role_needed(wire::TopologyRequest{wire::TopologyAction::kDecommission, ""}) ==
        trust::Role::kAdmin);
  CHECK_FALSE(core::client_role_needed(wire::TopologyRequest{wire::TopologyAction::kLeft, "ab"}));
  CHECK_FALSE(core::client_role_needed(wire::TopologyRequest{wire::TopologyAction::kRemoving, "ab"}));
  CHECK_FALSE(core::client_role_needed(wire::ReplicaWriteRequest{"k", {}, ""}));
  CHECK_FALSE(core::client_role_needed(wire::PushPullRequest{}));
  CHECK_FALSE(core::client_role_needed(wire::StreamReadRequest{}));
  CHECK_FALSE(core::client_role_needed(wire::GetReply{}));
  CHECK(core::client_role_needed(wire::ScanRequest{}) == trust::Role::kRead);
  CHECK(core::client_role_needed(wire::DbSizeRequest{}) == trust::Role::kRead);
  CHECK_FALSE(core::client_role_needed(wire::RangeKeysRequest{}));
}

TEST_CASE("internode messages on a client connection are refused and counted, even after authentication") {
  Fixture f;
  auto refused = std::get<wire::ErrorReply>(f.call(wire::ReplicaWriteRequest{"k", {5, 1, false, "v"}, ""}, 1000, 1,
                                                   core::Channel::kClient));
  CHECK(refused.code == wire::ErrorCode::kForbidden);
  CHECK(std::get<wire::ErrorReply>(f.call(wire::TopologyRequest{wire::TopologyAction::kLeft, "00"}, 1000, 1,
                                          core::Channel::kClient))
            .code == wire::ErrorCode::kForbidden);
  // Nothing was written.
  CHECK_FALSE(std::get<wire::GetReply>(f.call(wire::GetRequest{"k"}, 2000)).found);
  // The same message on a peer channel is served.
  CHECK(std::holds_alternative<wire::ReplicaWriteReply>(f.call(wire::ReplicaWriteRequest{"k", {5, 1, false, "v"}, ""}, 3000)));
  const auto notices = f.core.take_notices();
  CHECK(std::count_if(notices.begin(), notices.end(),
                      [](const std::string& n) { return n.find("internode message") != std::string::npos; }) == 1);

  AuthFixture a;
  a.login("boss");
  CHECK(a.refusal(wire::StreamWriteRequest{{{"k", {5, 1, false, "v"}}}}) == wire::ErrorCode::kForbidden);
  // Not even on a peer channel: a client credential is no internode key.
  auto on_peer = a.call(wire::ReplicaReadRequest{"k"}, 1000, 1, core::Channel::kPeer);
  CHECK(std::get<wire::ErrorReply>(on_peer).code == wire::ErrorCode::kForbidden);
  CHECK(a.stat("internode_on_client_refused") == 2);
}

TEST_CASE("without users every client may do everything and any credentials are accepted") {
  Fixture f;
  CHECK(std::holds_alternative<wire::WriteReply>(f.call(wire::PutRequest{"k", "v"}, 1000, 1, core::Channel::kClient)));
  CHECK(std::get<wire::AuthReply>(f.call(wire::AuthRequest{"anyone", "x"}, 1000, 1, core::Channel::kClient)).role ==
        "admin");
}

TEST_CASE("with users, a client must authenticate first; wrong credentials are refused the same way") {
  AuthFixture f;
  CHECK(f.refusal(wire::GetRequest{"k"}) == wire::ErrorCode::kNotAuthenticated);
  CHECK(f.refusal(wire::AuthRequest{"reader", "wrong"}) == wire::ErrorCode::kNotAuthenticated);
  CHECK(f.refusal(wire::AuthRequest{"nobody", "pw-reader"}) == wire::ErrorCode::kNotAuthenticated);
  CHECK(f.refusal(wire::StatusRequest{}) == wire::ErrorCode::kNotAuthenticated);
  // A peer channel is no credential for client requests either; but nodes
  // ask each other's status to confirm joins and leaves.
  CHECK(std::get<wire::ErrorReply>(f.call(wire::GetRequest{"k"}, 1000, 2, core::Channel::kPeer)).code ==
        wire::ErrorCode::kNotAuthenticated);
  CHECK(std::holds_alternative<wire::StatusReply>(f.call(wire::StatusRequest{}, 1000, 2, core::Channel::kPeer)));
  f.login("reader");
  CHECK(std::holds_alternative<wire::GetReply>(f.client(wire::GetRequest{"k"})));
  CHECK(f.stat("client_refused_noauth") == 3);
  CHECK(f.stat("auth_failures") == 2);
}

TEST_CASE("roles: read may not write, readwrite may not change the topology, admin may") {
  AuthFixture f;
  f.login("reader", 1);
  f.login("writer", 2);
  f.login("boss", 3);
  CHECK(f.refusal(wire::PutRequest{"k", "v"}, 1) == wire::ErrorCode::kForbidden);
  CHECK(f.refusal(wire::DeleteRequest{"k"}, 1) == wire::ErrorCode::kForbidden);
  CHECK(std::holds_alternative<wire::WriteReply>(f.client(wire::PutRequest{"k", "v"}, 2)));
  auto refused = std::get<wire::ErrorReply>(f.client(wire::TopologyRequest{wire::TopologyAction::kCleanup, ""}, 2));
  CHECK(refused.code == wire::ErrorCode::kForbidden);
  CHECK(refused.message.find("writer") != std::string::npos);
  CHECK(refused.message.find("cleanup") != std::string::npos);
  CHECK(std::holds_alternative<wire::TopologyReply>(
      f.client(wire::TopologyRequest{wire::TopologyAction::kCleanup, ""}, 3)));
  CHECK(f.stat("client_refused_forbidden") == 3);
}

TEST_CASE("a closed connection forgets its authentication; a failed AUTH keeps the earlier one") {
  AuthFixture f;
  f.login("writer", 5);
  CHECK(f.refusal(wire::AuthRequest{"boss", "wrong"}, 5) == wire::ErrorCode::kNotAuthenticated);
  CHECK(std::holds_alternative<wire::WriteReply>(f.client(wire::PutRequest{"k", "v"}, 5)));
  f.core.client_closed(5);
  CHECK(f.refusal(wire::PutRequest{"k", "v"}, 5) == wire::ErrorCode::kNotAuthenticated);
}

TEST_CASE("snapshots: admin only, made on this node's storage, listed and removed; a bad tag changes nothing") {
  AuthFixture f;
  f.login("writer", 1);
  f.login("boss", 2);
  auto refused = std::get<wire::ErrorReply>(f.client(wire::SnapshotRequest{wire::SnapshotAction::kCreate, "s"}, 1));
  CHECK(refused.code == wire::ErrorCode::kForbidden);
  CHECK(refused.message.find("snapshot") != std::string::npos);
  CHECK(f.engine.snapshots()->empty());

  auto made = std::get<wire::SnapshotReply>(f.client(wire::SnapshotRequest{wire::SnapshotAction::kCreate, "s"}, 2));
  CHECK(made.node_name == "node1");
  REQUIRE(made.snapshots.size() == 1);
  CHECK(made.snapshots[0].tag == "s");
  // No tag: the UTC time (the fixture's clock reads 1 ms).
  auto dated = std::get<wire::SnapshotReply>(f.client(wire::SnapshotRequest{wire::SnapshotAction::kCreate, ""}, 2));
  REQUIRE(dated.snapshots.size() == 1);
  CHECK(dated.snapshots[0].tag == "19700101T000000.001Z");
  CHECK(std::get<wire::ErrorReply>(f.client(wire::SnapshotRequest{wire::SnapshotAction::kCreate, "s"}, 2)).code ==
        wire::ErrorCode::kInvalid);
  CHECK(std::get<wire::ErrorReply>(f.client(wire::SnapshotRequest{wire::SnapshotAction::kCreate, "../x"}, 2)).code ==
        wire::ErrorCode::kInvalid);
  CHECK(f.engine.snapshots()->size() == 2);

  auto removed = std::get<wire::SnapshotReply>(f.client(wire::SnapshotRequest{wire::SnapshotAction::kRemove, "s"}, 2));
  REQUIRE(removed.snapshots.size() == 1);
  CHECK(removed.snapshots[0].tag == "s");
  CHECK(std::get<wire::ErrorReply>(f.client(wire::SnapshotRequest{wire::SnapshotAction::kRemove, "s"}, 2)).code ==
        wire::ErrorCode::kInvalid);
  auto listed = std::get<wire::SnapshotReply>(f.client(wire::SnapshotRequest{wire::SnapshotAction::kList, ""}, 2));
  REQUIRE(listed.snapshots.size() == 1);
  CHECK(listed.snapshots[0].tag == "19700101T000000.001Z");
}

TEST_CASE("puts over the admission cap before the node drained its replies are refused BUSY and not written") {
  storage::MemoryEngine engine{storage::Options{.clock_us = [] { return uint64_t{0}; }}};
  core::ReplicaStore store = *core::ReplicaStore::open(engine, core::HintLimits{});
  core::NodeConfig config;
  config.admission = core::AdmissionConfig{.requests_inflight_max = 2, .bytes_inflight_max = 1 << 20,
                                           .connection_requests_inflight_max = 2,
                                           .connection_bytes_inflight_max = 1 << 20};
  core::NodeCore node{config, store, 7, make_swim("node1", 1), core::Now{1000, 1}};
  for (uint64_t id = 1; id <= 3; ++id) {
    node.handle_client(1, "127.0.0.9:5555", core::Channel::kPeer,
                       wire::Message{id, wire::PutRequest{"k" + std::to_string(id), "v"}}, core::Now{1000, 1});
  }
  // An own-copy read is not coordinated: it is never shed.
  node.handle_client(1, "127.0.0.9:5555", core::Channel::kPeer,
                     wire::Message{4, wire::GetRequest{"k1", wire::Consistency::kQuorum, /*local=*/true}},
                     core::Now{1000, 1});
  auto out = node.take_outgoing();
  REQUIRE(out.size() == 4);
  // Replies leave in the order they were made (the writes' after their group commit).
  std::sort(out.begin(), out.end(), [](const core::Outgoing& a, const core::Outgoing& b) {
    return a.message.request_id < b.message.request_id;
  });
  CHECK(std::holds_alternative<wire::WriteReply>(out[0].message.body));
  CHECK(std::holds_alternative<wire::WriteReply>(out[1].message.body));
  const auto& refused = std::get<wire::ErrorReply>(out[2].message.body);
  CHECK(refused.code == wire::ErrorCode::kBusy);
  CHECK(refused.message.find("--max-inflight-requests") != std::string::npos);
  CHECK(std::get<wire::GetReply>(out[3].message.body).found);  // it sees the write staged before it
  CHECK_FALSE(engine.read("k3").value().has_value());  // nothing of a refused request is done
  auto notices = node.take_notices();
  REQUIRE(notices.size() == 1);
  CHECK(notices[0].find("shedding load") != std::string::npos);
  // The replies left the core: the next requests are admitted again.
  node.handle_client(1, "127.0.0.9:5555", core::Channel::kPeer, wire::Message{5, wire::PutRequest{"k3", "v"}},
                     core::Now{2000, 2});
  out = node.take_outgoing();
  REQUIRE(out.size() == 1);
  CHECK(std::holds_alternative<wire::WriteReply>(out[0].message.body));
  node.handle_client(1, "127.0.0.9:5555", core::Channel::kPeer, wire::Message{6, wire::StatsRequest{}},
                     core::Now{2000, 2});
  out = node.take_outgoing();
  REQUIRE(out.size() == 1);
  uint64_t shed = 0;
  for (const auto& [name, value] : std::get<wire::StatsReply>(out[0].message.body).values) {
    if (name == "requests_shed_busy") shed = value;
  }
  CHECK(shed == 1);
}

namespace {

// A MemoryEngine whose WAL flush fails while `flush_fails`, and which counts
// its write() calls (group commits).
class FlakyFlushEngine : public storage::MemoryEngine {
 public:
  FlakyFlushEngine() : storage::MemoryEngine(storage::Options{.clock_us = [] { return uint64_t{0}; }}) {}
  storage::Status write(const std::vector<std::pair<std::string, storage::Record>>& batch) override {
    ++writes;
    records += static_cast<int>(batch.size());
    return storage::MemoryEngine::write(batch);
  }
  storage::Status flush_wal() override {
    if (flush_fails) return std::unexpected(storage::Error{storage::ErrorKind::kIo, "injected flush failure"});
    return storage::MemoryEngine::flush_wal();
  }
  bool flush_fails = false;
  int writes = 0;   // batches written
  int records = 0;  // records in them
};

// One loop iteration: three client puts, a peer's replica write and a
// client's own-copy read, then the replies.
std::vector<core::Outgoing> one_iteration(core::NodeCore& node, const std::string& prefix, uint64_t now_us) {
  const core::Now now{now_us, static_cast<membership::TimeMs>(now_us / 1000)};
  for (uint64_t id = 1; id <= 3; ++id) {
    node.handle_client(1, "client", core::Channel::kClient,
                       wire::Message{id, wire::PutRequest{prefix + std::to_string(id), "v"}}, now);
  }
  node.handle_client(2, "127.0.0.9:5555", core::Channel::kPeer,
                     wire::Message{4, wire::ReplicaWriteRequest{prefix + "peer", {now_us, 9, false, "p"}, ""}}, now);
  node.handle_client(1, "client", core::Channel::kClient,
                     wire::Message{5, wire::GetRequest{prefix + "1", wire::Consistency::kQuorum, /*local=*/true}}, now);
  return node.take_outgoing();
}

bool acknowledges_a_write(const core::Outgoing& reply) {
  return std::holds_alternative<wire::WriteReply>(reply.message.body) ||
         std::holds_alternative<wire::ReplicaWriteReply>(reply.message.body);
}

}  // namespace

TEST_CASE("the writes of one iteration are one group commit, and the reads see them") {
  FlakyFlushEngine engine;
  core::ReplicaStore store = *core::ReplicaStore::open(engine, core::HintLimits{});
  core::NodeCore node{core::NodeConfig{}, store, 7, make_swim("node1", 1), core::Now{1000, 1}};
  auto out = one_iteration(node, "a", 2000);
  REQUIRE(out.size() == 5);
  CHECK(std::count_if(out.begin(), out.end(), acknowledges_a_write) == 4);
  CHECK(engine.writes == 1);
  for (const auto& reply : out) {
    if (reply.message.request_id == 5) CHECK(std::get<wire::GetReply>(reply.message.body).value == "v");
  }
  CHECK(engine.read("apeer").value().has_value());
}

TEST_CASE("no write of a batch is acknowledged when its group commit or its WAL flush fails") {
  FlakyFlushEngine engine;
  core::ReplicaStore store = *core::ReplicaStore::open(engine, core::HintLimits{});
  core::NodeCore node{core::NodeConfig{}, store, 7, make_swim("node1", 1), core::Now{1000, 1}};

  engine.fail_writes_with(storage::ErrorKind::kNoSpace);  // the batch's one write fails
  auto out = one_iteration(node, "a", 2000);
  REQUIRE(out.size() == 5);
  CHECK(std::none_of(out.begin(), out.end(), acknowledges_a_write));
  for (const auto& reply : out) {
    if (reply.message.request_id == 5) continue;  // the read: found nothing
    CHECK(std::get<wire::ErrorReply>(reply.message.body).message.find("storage full") != std::string::npos);
  }
  CHECK_FALSE(engine.read("a1").value().has_value());
  CHECK_FALSE(engine.read("apeer").value().has_value());

  engine.fail_writes_with(std::nullopt);
  engine.flush_fails = true;  // written, but the WAL flush fails: still not acknowledged
  out = one_iteration(node, "b", 3000);
  REQUIRE(out.size() == 5);
  CHECK(std::none_of(out.begin(), out.end(), acknowledges_a_write));

  engine.flush_fails = false;
  out = one_iteration(node, "c", 4000);
  CHECK(std::count_if(out.begin(), out.end(), acknowledges_a_write) == 4);
}

TEST_CASE("a replica write older than what the key holds, stored or staged before it, is not applied") {
  FlakyFlushEngine engine;
  core::ReplicaStore store = *core::ReplicaStore::open(engine, core::HintLimits{});
  REQUIRE(engine.write({{"stored", storage::Record{{500, 1}, false, "newest"}}}));
  auto write = [](std::string key, uint64_t timestamp_us, std::string value) {
    return wire::ReplicaWriteRequest{std::move(key), {timestamp_us, 1, false, std::move(value)}, ""};
  };
  store.stage(core::ReplyTo{.request_id = 1}, write("stored", 400, "older"), 0);
  store.stage(core::ReplyTo{.request_id = 2}, write("staged", 700, "first"), 0);
  store.stage(core::ReplyTo{.request_id = 3}, write("staged", 600, "older than the first"), 0);
  store.stage(core::ReplyTo{.request_id = 4}, wire::ReplicaReadRequest{"staged"});
  const int writes_before = engine.writes;
  auto replies = store.commit();
  REQUIRE(replies.size() == 4);
  CHECK(engine.writes == writes_before + 1);
  CHECK(std::get<wire::ReplicaWriteReply>(replies[0].second).newer_timestamp_us == 500);
  CHECK(std::get<wire::ReplicaWriteReply>(replies[1].second).newer_timestamp_us == 0);
  CHECK(std::get<wire::ReplicaWriteReply>(replies[2].second).newer_timestamp_us == 700);
  CHECK(std::get<wire::ReplicaReadReply>(replies[3].second).record.value == "first");
  CHECK(engine.read("stored").value()->value == "newest");
  CHECK_FALSE(store.has_staged());
}

TEST_CASE("writes of one key superseded in the same batch are acknowledged and only the newest is stored") {
  FlakyFlushEngine engine;
  core::ReplicaStore store = *core::ReplicaStore::open(engine, core::HintLimits{});
  auto write = [](std::string key, uint64_t timestamp_us, std::string value) {
    return wire::ReplicaWriteRequest{std::move(key), {timestamp_us, 1, false, std::move(value)}, ""};
  };
  store.stage(core::ReplyTo{.request_id = 1}, write("hot", 100, "one"), 0);
  store.stage(core::ReplyTo{.request_id = 2}, write("other", 100, "x"), 0);
  store.stage(core::ReplyTo{.request_id = 3}, write("hot", 300, "three"), 0);
  store.stage(core::ReplyTo{.request_id = 4}, write("hot", 200, "two, older than three"), 0);
  auto replies = store.commit();
  REQUIRE(replies.size() == 4);
  CHECK(engine.writes == 1);
  CHECK(engine.records == 2);  // "hot" once (its newest write), "other" once
  CHECK(std::get<wire::ReplicaWriteReply>(replies[0].second).newer_timestamp_us == 0);
  CHECK(std::get<wire::ReplicaWriteReply>(replies[2].second).newer_timestamp_us == 0);
  CHECK(std::get<wire::ReplicaWriteReply>(replies[3].second).newer_timestamp_us == 300);
  CHECK(engine.read("hot").value()->value == "three");
  CHECK(engine.read("other").value()->value == "x");
}

TEST_CASE("a staged read sees the writes staged before it and none staged after it") {
  FlakyFlushEngine engine;
  core::ReplicaStore store = *core::ReplicaStore::open(engine, core::HintLimits{});
  auto write = [](uint64_t timestamp_us, std::string value) {
    return wire::ReplicaWriteRequest{"k", {timestamp_us, 1, false, std::move(value)}, ""};
  };
  store.stage(core::ReplyTo{.request_id = 1}, wire::ReplicaReadRequest{"k"});
  store.stage(core::ReplyTo{.request_id = 2}, write(100, "one"), 0);
  store.stage(core::ReplyTo{.request_id = 3}, wire::ReplicaReadRequest{"k"});
  store.stage(core::ReplyTo{.request_id = 4}, write(200, "two"), 0);
  auto replies = store.commit();
  REQUIRE(replies.size() == 4);
  CHECK_FALSE(std::get<wire::ReplicaReadReply>(replies[0].second).found);
  CHECK(std::get<wire::ReplicaReadReply>(replies[2].second).record.value == "one");
  CHECK(engine.read("k").value()->value == "two");
  // When the batch's write fails, a read that saw one of its writes fails too.
  engine.fail_writes_with(storage::ErrorKind::kIo);
  store.stage(core::ReplyTo{.request_id = 5}, wire::ReplicaReadRequest{"k"});
  store.stage(core::ReplyTo{.request_id = 6}, write(300, "three"), 0);
  store.stage(core::ReplyTo{.request_id = 7}, wire::ReplicaReadRequest{"k"});
  replies = store.commit();
  CHECK(std::get<wire::ReplicaReadReply>(replies[0].second).record.value == "two");
  CHECK(std::get<wire::ErrorReply>(replies[1].second).code == wire::ErrorCode::kInternal);
  CHECK(std::get<wire::ErrorReply>(replies[2].second).code == wire::ErrorCode::kInternal);
}

TEST_CASE("a single node scans its own store for a client and serves replica key ranges only to peers") {
  Fixture f;
  for (const char* key : {"a", "b", "c"}) {
    REQUIRE(std::holds_alternative<wire::WriteReply>(f.call(wire::PutRequest{key, "v"}, 1000, 1, core::Channel::kClient)));
  }
  REQUIRE(std::holds_alternative<wire::WriteReply>(f.call(wire::DeleteRequest{"b"}, 2000, 1, core::Channel::kClient)));
  auto page = std::get<wire::ScanReply>(f.call(wire::ScanRequest{0, "", 10, wire::Consistency::kQuorum}, 3000, 1,
                                               core::Channel::kClient));
  CHECK(page.cursor == 0);  // one node, one span: done in one page
  CHECK(std::set<std::string>(page.keys.begin(), page.keys.end()) == std::set<std::string>{"a", "c"});
  CHECK(std::get<wire::DbSizeReply>(f.call(wire::DbSizeRequest{}, 3000, 1, core::Channel::kClient)).nodes == 1);
  // The replica side is internode: refused on a client connection, served to a peer.
  const wire::RangeKeysRequest range{0, UINT64_MAX, "", 10};
  CHECK(std::get<wire::ErrorReply>(f.call(range, 4000, 1, core::Channel::kClient)).code == wire::ErrorCode::kForbidden);
  CHECK(std::get<wire::RangeKeysReply>(f.call(range, 4000)).entries.size() == 3);  // the tombstone too
}

TEST_CASE("a peer reply reaches only the unit its route names; unknown and repeated routes are dropped and counted") {
  Fixture f;
  membership::Swim other = make_swim("node2", 2);
  other.join({"127.0.0.1:7001"}, 0);
  REQUIRE(std::holds_alternative<wire::PushPullReply>(
      f.call(wire::PushPullRequest{other.take_push_pull_requests().at(0).bytes}, 1000)));
  (void)f.core.take_membership_events(core::Now{1000, 1});
  REQUIRE(f.core.view().ring->node_count() == 2);
  // QUORUM of the two replicas: this node's copy and one peer request.
  f.core.handle_client(1, "client", core::Channel::kClient, wire::Message{5, wire::PutRequest{"k", "v"}},
                       core::Now{2000, 2});
  CHECK(f.core.take_outgoing().empty());
  auto requests = f.core.take_peer_requests();
  REQUIRE(requests.size() == 1);
  const core::PeerRoute route = requests[0].route;
  CHECK(route.owner == core::PeerOwner::kCoordinator);
  CHECK(std::holds_alternative<wire::ReplicaWriteRequest>(requests[0].body));
  const wire::Message ack{0, wire::ReplicaWriteReply{}};

  // The same id under every other owner, and an owner byte no unit has: no unit awaits them.
  uint64_t dropped = 0;
  for (uint8_t owner = 0; owner <= 7; ++owner) {
    if (static_cast<core::PeerOwner>(owner) == route.owner) continue;
    f.core.handle_peer_reply(core::PeerRoute{static_cast<core::PeerOwner>(owner), route.id}, ack, core::Now{3000, 3});
    CHECK(f.core.peer_replies_dropped() == ++dropped);
  }
  CHECK(f.core.take_outgoing().empty());

  f.core.handle_peer_reply(route, ack, core::Now{4000, 4});
  CHECK(f.core.peer_replies_dropped() == dropped);
  auto replies = f.core.take_outgoing();
  REQUIRE(replies.size() == 1);
  CHECK(std::holds_alternative<wire::WriteReply>(replies[0].message.body));

  // Delivered twice (the I/O layer promises once; a late or forged copy): dropped.
  f.core.handle_peer_reply(route, ack, core::Now{5000, 5});
  CHECK(f.core.peer_replies_dropped() == dropped + 1);
  CHECK(f.core.take_outgoing().empty());
  auto stats = std::get<wire::StatsReply>(f.call(wire::StatsRequest{}, 6000)).values;
  CHECK(std::find(stats.begin(), stats.end(), std::pair<std::string, uint64_t>{"peer_replies_dropped", dropped + 1}) !=
        stats.end());
}

TEST_CASE("one node answers a pipeline in order, each read seeing the writes before it, while hot keys coalesce") {
  FlakyFlushEngine engine;
  core::ReplicaStore store = *core::ReplicaStore::open(engine, core::HintLimits{});
  core::NodeCore node{core::NodeConfig{}, store, 7, make_swim("node1", 1), core::Now{1000, 1}};
  const core::Now now{2000, 2};
  struct Step {
    std::string key;
    std::string put;       // empty: a get
    std::string expected;  // what a get reads
  };
  const std::vector<Step> steps = {{"a", "1", ""}, {"a", "2", ""}, {"a", "", "2"}, {"a", "", "2"}, {"b", "3", ""},
                                   {"a", "", "2"}, {"a", "4", ""}, {"a", "5", ""}, {"b", "", "3"}, {"a", "", "5"}};
  for (uint64_t id = 1; id <= steps.size(); ++id) {
    const Step& step = steps[id - 1];
    wire::Body body = step.put.empty() ? wire::Body{wire::GetRequest{step.key}} : wire::Body{wire::PutRequest{step.key, step.put}};
    node.handle_client(1, "client", core::Channel::kClient, wire::Message{id, std::move(body)}, now);
  }
  auto out = node.take_outgoing();
  REQUIRE(out.size() == steps.size());
  for (uint64_t id = 1; id <= steps.size(); ++id) {
    CAPTURE(id);
    CHECK(out[id - 1].message.request_id == id);
    const Step& step = steps[id - 1];
    if (step.put.empty()) CHECK(std::get<wire::GetReply>(out[id - 1].message.body).value == step.expected);
    if (!step.put.empty()) CHECK(std::holds_alternative<wire::WriteReply>(out[id - 1].message.body));
  }
  std::map<std::string, uint64_t> counted;
  node.handle_client(1, "client", core::Channel::kClient, wire::Message{99, wire::StatsRequest{}}, now);
  out = node.take_outgoing();
  for (const auto& [name, value] : std::get<wire::StatsReply>(out.at(0).message.body).values) counted[name] = value;
  CHECK(counted["writes_coalesced"] == 2);  // "1" taken over by "2", "4" by "5"
  CHECK(counted["reads_coalesced"] == 1);   // the second read of "a" in a row
  CHECK(engine.records == 2);               // one group commit: each key's newest record once
  CHECK(engine.read("a").value()->value == "5");
}
