// Key rotation as a state machine (node/core/keyring_admin.h): fan-out and
// one line per node, idempotence, remove refused while a ring member has not
// confirmed the primary, versioned sync, confirmations that survive a restart.
// Driven with crafted replies and explicit time; the keyring is a fake.
#include "node/core/keyring_admin.h"

#include <doctest/doctest.h>

#include <algorithm>

#include "storage/memory_engine.h"

using namespace ringkv;

namespace {

std::string id_of(char c) { return std::string(membership::kNodeIdBytes, c); }
std::string key_of(char c) { return std::string(32, c); }

// Keys are 32 copies of one letter; a fingerprint is "fp" and that letter.
class FakeKeyring : public core::KeyringPort {
 public:
  std::vector<std::string> keys{key_of('a')};  // the primary first
  uint64_t version = 0;

  bool enabled() const override { return true; }
  core::KeyringState state() const override {
    core::KeyringState state;
    for (const auto& key : keys) state.fingerprints.push_back(fingerprint(key));
    state.version = version;
    return state;
  }
  std::string fingerprint(std::string_view key) const override {
    return key.size() == 32 ? "fp" + std::string(1, key[0]) : "";
  }
  std::string primary_key() const override { return keys.front(); }
  std::expected<void, std::string> install(std::string_view key) override {
    if (std::find(keys.begin(), keys.end(), key) == keys.end()) keys.emplace_back(key);
    return {};
  }
  std::expected<void, std::string> use(std::string_view key, uint64_t new_version) override {
    auto it = std::find(keys.begin(), keys.end(), key);
    if (it == keys.end()) return std::unexpected("not installed");
    std::rotate(keys.begin(), it, it + 1);
    version = new_version;
    return {};
  }
  std::expected<void, std::string> remove(std::string_view key) override {
    auto it = std::find(keys.begin(), keys.end(), key);
    if (it == keys.begin()) return std::unexpected("is the primary");
    if (it != keys.end()) keys.erase(it);
    return {};
  }
};

membership::Swim make_swim(const std::string& name, char id_byte) {
  membership::Member self;
  self.id = id_of(id_byte);
  self.name = name;
  self.address = "127.0.0.1:" + std::to_string(7000 + id_byte);
  self.ring_status = membership::RingStatus::kNormal;
  self.vnode_count = 16;
  auto swim = membership::Swim::create(membership::Config{}, self, 1, 1, 0);
  REQUIRE(swim.has_value());
  swim->join({}, 0);
  return std::move(*swim);
}

core::RingNode ring_node(const std::string& name, char id_byte) {
  return core::RingNode{id_of(id_byte), name, "127.0.0.1:" + std::to_string(7000 + id_byte), 16};
}

// node1 (this node), node2 alive, node3 in the ring but unknown to
// membership (down: not reached).
struct Fixture {
  storage::MemoryEngine engine{storage::Options{.clock_us = [] { return uint64_t{0}; }}};
  membership::Swim swim = make_swim("node1", 1);
  core::ClusterView view{.self_id = id_of(1)};
  FakeKeyring keyring;
  std::optional<core::KeyringAdmin> admin;

  Fixture() {
    membership::Swim other = make_swim("node2", 2);
    other.join({"127.0.0.1:7001"}, 0);
    auto requests = other.take_push_pull_requests();
    REQUIRE(requests.size() == 1);
    REQUIRE(swim.handle_push_pull_request("127.0.0.1:7002", requests[0].bytes, 1).has_value());
    view.ring = std::make_shared<const core::Ring>(
        core::Ring::build({ring_node("node1", 1), ring_node("node2", 2), ring_node("node3", 3)}));
    view.future_ring = view.ring;
    admin.emplace(core::KeyringAdminConfig{}, view, swim, &keyring, engine);
  }

  // Answers every pending peer request with node2's keyring as given.
  std::vector<wire::KeyringRequest> answer_all(std::vector<std::string> fingerprints, uint64_t version,
                                               bool ok = true) {
    std::vector<wire::KeyringRequest> seen;
    for (auto& request : admin->take_peer_requests()) {
      CHECK(request.route.owner == core::PeerOwner::kKeyringAdmin);
      CHECK(request.address == "127.0.0.1:7002");
      seen.push_back(std::get<wire::KeyringRequest>(request.body));
      CHECK(admin->handle_reply(request.route.id,
                                wire::Message{1, wire::KeyringReply{ok, ok ? "" : "refused", fingerprints, version}},
                                core::Now{}));
    }
    return seen;
  }

  wire::Body take_answer() {
    auto replies = admin->take_replies();
    REQUIRE(replies.size() == 1);
    CHECK(replies[0].client == 5);
    CHECK(replies[0].message.request_id == 42);
    return replies[0].message.body;
  }

  void keys(wire::KeyAction action, std::string key = "") {
    admin->handle_keys(5, 42, wire::KeysRequest{action, std::move(key)}, core::Now{});
  }
};

}  // namespace

TEST_CASE("install reaches every live member and answers one line per node, naming a down one") {
  Fixture f;
  f.keys(wire::KeyAction::kInstall, key_of('b'));
  CHECK(f.keyring.keys == std::vector<std::string>{key_of('a'), key_of('b')});
  CHECK(f.admin->take_replies().empty());  // waits for node2
  auto sent = f.answer_all({"fpa", "fpb"}, 0);
  REQUIRE(sent.size() == 1);
  CHECK(sent[0].action == wire::KeyAction::kInstall);
  CHECK(sent[0].key == key_of('b'));
  auto reply = std::get<wire::KeysReply>(f.take_answer());
  REQUIRE(reply.nodes.size() == 3);
  CHECK(reply.nodes[0].name == "node1");
  CHECK(reply.nodes[0].ok);
  CHECK(reply.nodes[0].fingerprints == std::vector<std::string>{"fpa", "fpb"});
  CHECK(reply.nodes[1].name == "node2");
  CHECK(reply.nodes[1].ok);
  CHECK(reply.nodes[2].name == "node3");
  CHECK_FALSE(reply.nodes[2].ok);
  CHECK(reply.nodes[2].message.find("down") != std::string::npos);
}

TEST_CASE("a member that fails or cannot be reached gets its own failed line") {
  Fixture f;
  f.keys(wire::KeyAction::kList);
  auto requests = f.admin->take_peer_requests();
  REQUIRE(requests.size() == 1);
  f.admin->handle_reply(requests[0].route.id, std::unexpected(std::string("connection refused")), core::Now{});
  auto reply = std::get<wire::KeysReply>(f.take_answer());
  REQUIRE(reply.nodes.size() == 3);
  CHECK_FALSE(reply.nodes[1].ok);
  CHECK(reply.nodes[1].message == "not reached: connection refused");
  CHECK_FALSE(f.admin->busy());
}

TEST_CASE("installing twice, using the primary and removing an absent key are ok and change nothing") {
  Fixture f;
  auto apply = [&](wire::KeyAction action, std::string key, uint64_t version = 0) {
    return std::get<wire::KeyringReply>(
        f.admin->handle_keyring(wire::KeyringRequest{action, key, version}, core::Now{}));
  };
  CHECK(apply(wire::KeyAction::kInstall, key_of('a')).ok);
  CHECK(apply(wire::KeyAction::kUse, key_of('a')).ok);
  CHECK(apply(wire::KeyAction::kRemove, key_of('z')).ok);
  CHECK(f.keyring.keys == std::vector<std::string>{key_of('a')});
  CHECK(f.keyring.version == 0);
  CHECK(f.admin->take_peer_requests().empty());  // no new primary: nothing to confirm
  auto refused = apply(wire::KeyAction::kRemove, key_of('a'));
  CHECK_FALSE(refused.ok);
  CHECK(refused.message == "is the primary");
  CHECK_FALSE(apply(wire::KeyAction::kUse, key_of('q')).ok);  // not installed
}

TEST_CASE("use carries a version above every known one, and the new primary is confirmed to live members") {
  Fixture f;
  f.keyring.keys = {key_of('a'), key_of('b')};
  // node2 once confirmed version 4 (a rotation this node missed the use of).
  f.admin->handle_keyring(wire::KeyringRequest{wire::KeyAction::kConfirm, "", 4, id_of(2), "fpa"}, core::Now{});
  f.keys(wire::KeyAction::kUse, key_of('b'));
  CHECK(f.keyring.keys.front() == key_of('b'));
  CHECK(f.keyring.version == 5);
  auto requests = f.admin->take_peer_requests();
  REQUIRE(requests.size() == 2);  // the confirmation and the use, both to node2
  bool saw_use = false;
  bool saw_confirm = false;
  for (auto& request : requests) {
    const auto& body = std::get<wire::KeyringRequest>(request.body);
    if (body.action == wire::KeyAction::kUse) {
      saw_use = true;
      CHECK(body.version == 5);
    } else {
      saw_confirm = true;
      CHECK(body.action == wire::KeyAction::kConfirm);
      CHECK(body.node == id_of(1));
      CHECK(body.fingerprint == "fpb");
      CHECK(body.version == 5);
    }
    f.admin->handle_reply(request.route.id, wire::Message{1, wire::KeyringReply{true, "", {"fpb", "fpa"}, 5}},
                          core::Now{});
  }
  CHECK(saw_use);
  CHECK(saw_confirm);
  CHECK(std::holds_alternative<wire::KeysReply>(f.take_answer()));
  CHECK(f.admin->confirmations().at(id_of(2)) == core::Confirmation{"fpb", 5});
}

TEST_CASE("remove is refused, naming ring members that have not confirmed the primary, and changes nothing") {
  Fixture f;
  f.keyring.keys = {key_of('b'), key_of('a')};
  f.keyring.version = 1;
  f.keys(wire::KeyAction::kRemove, key_of('a'));
  auto sent = f.answer_all({"fpb", "fpa"}, 1);  // node2 confirms the primary
  REQUIRE(sent.size() == 1);
  CHECK(sent[0].action == wire::KeyAction::kList);  // phase one only asks
  auto refused = std::get<wire::ErrorReply>(f.take_answer());
  CHECK(refused.code == wire::ErrorCode::kInvalid);
  CHECK(refused.message.find("node3 (down)") != std::string::npos);
  CHECK(refused.message.find("node2") == std::string::npos);
  CHECK(f.keyring.keys.size() == 2);
  CHECK(f.admin->take_peer_requests().empty());

  // node3 confirms the primary (it came back and adopted it): remove proceeds.
  f.admin->handle_keyring(wire::KeyringRequest{wire::KeyAction::kConfirm, "", 1, id_of(3), "fpb"}, core::Now{});
  f.keys(wire::KeyAction::kRemove, key_of('a'));
  CHECK(f.answer_all({"fpb", "fpa"}, 1).at(0).action == wire::KeyAction::kList);
  CHECK(f.keyring.keys == std::vector<std::string>{key_of('b')});
  auto removal = f.answer_all({"fpb"}, 1);
  REQUIRE(removal.size() == 1);
  CHECK(removal[0].action == wire::KeyAction::kRemove);
  auto reply = std::get<wire::KeysReply>(f.take_answer());
  REQUIRE(reply.nodes.size() == 3);
  CHECK(reply.nodes[0].ok);
  CHECK(reply.nodes[1].ok);
}

TEST_CASE("remove of the current primary is refused, and so is one while a member holds an older primary") {
  Fixture f;
  f.keyring.keys = {key_of('b'), key_of('a')};
  f.keyring.version = 1;
  f.admin->handle_keyring(wire::KeyringRequest{wire::KeyAction::kConfirm, "", 1, id_of(3), "fpb"}, core::Now{});
  f.keys(wire::KeyAction::kRemove, key_of('b'));
  f.answer_all({"fpb", "fpa"}, 1);
  CHECK(std::get<wire::ErrorReply>(f.take_answer()).message.find("current primary") != std::string::npos);

  f.keys(wire::KeyAction::kRemove, key_of('a'));
  f.answer_all({"fpa", "fpb"}, 0);  // node2 still seals with the old key
  auto refused = std::get<wire::ErrorReply>(f.take_answer());
  CHECK(refused.message.find("node2") != std::string::npos);
  CHECK(f.keyring.keys.size() == 2);
}

TEST_CASE("sync adopts a pushed primary only when its version is higher") {
  Fixture f;
  f.keyring.version = 3;
  auto sync = [&](char key, uint64_t version) {
    return std::get<wire::KeyringReply>(
        f.admin->handle_keyring(wire::KeyringRequest{wire::KeyAction::kSync, key_of(key), version}, core::Now{}));
  };
  auto kept = sync('b', 3);
  CHECK(kept.ok);
  CHECK(kept.fingerprints == std::vector<std::string>{"fpa"});  // not installed either
  CHECK(f.admin->take_peer_requests().empty());
  auto adopted = sync('b', 4);
  CHECK(adopted.ok);
  CHECK(adopted.fingerprints == std::vector<std::string>{"fpb", "fpa"});
  CHECK(adopted.version == 4);
  auto confirms = f.admin->take_peer_requests();
  REQUIRE(confirms.size() == 1);
  CHECK(std::get<wire::KeyringRequest>(confirms[0].body).action == wire::KeyAction::kConfirm);
  CHECK_FALSE(f.admin->take_notices().empty());
  CHECK(sync('a', 2).fingerprints.front() == "fpb");  // an older push does not flap it back
}

TEST_CASE("a member sealing with an older key gets the primary, sealed with that key, at most once per interval") {
  Fixture f;
  f.keyring.keys = {key_of('b'), key_of('a')};
  f.keyring.version = 2;
  f.admin->on_old_key_seen(id_of(2), key_of('a'), core::Now{0, 1000});
  auto pushes = f.admin->take_peer_requests();
  REQUIRE(pushes.size() == 1);
  CHECK(pushes[0].seal_with == key_of('a'));
  const auto& body = std::get<wire::KeyringRequest>(pushes[0].body);
  CHECK(body.action == wire::KeyAction::kSync);
  CHECK(body.key == key_of('b'));
  CHECK(body.version == 2);
  f.admin->on_old_key_seen(id_of(2), key_of('a'), core::Now{0, 1500});
  CHECK(f.admin->take_peer_requests().empty());
  f.admin->on_old_key_seen(id_of(2), key_of('a'), core::Now{0, 3500});
  CHECK(f.admin->take_peer_requests().size() == 1);
  f.admin->on_old_key_seen(id_of(9), key_of('a'), core::Now{0, 9000});  // not a member
  CHECK(f.admin->take_peer_requests().empty());
}

TEST_CASE("confirmations survive a restart and a bad confirmation is refused") {
  Fixture f;
  f.admin->handle_keyring(wire::KeyringRequest{wire::KeyAction::kConfirm, "", 7, id_of(3), "fpb"}, core::Now{});
  auto bad = std::get<wire::KeyringReply>(
      f.admin->handle_keyring(wire::KeyringRequest{wire::KeyAction::kConfirm, "", 9, "short", "fpc"}, core::Now{}));
  CHECK_FALSE(bad.ok);
  core::KeyringAdmin restarted(core::KeyringAdminConfig{}, f.view, f.swim, &f.keyring, f.engine);
  REQUIRE(restarted.confirmations().size() == 1);
  CHECK(restarted.confirmations().at(id_of(3)) == core::Confirmation{"fpb", 7});
}

TEST_CASE("a second operation while one runs is refused, and a node without a keyring refuses all") {
  Fixture f;
  f.keys(wire::KeyAction::kList);
  f.keys(wire::KeyAction::kList);
  auto busy = f.admin->take_replies();
  REQUIRE(busy.size() == 1);
  CHECK(std::get<wire::ErrorReply>(busy[0].message.body).code == wire::ErrorCode::kUnavailable);
  f.admin->set_port(nullptr);
  CHECK_FALSE(std::get<wire::KeyringReply>(f.admin->handle_keyring(wire::KeyringRequest{}, core::Now{})).ok);
}

TEST_CASE("a member added later with the current primary at version 0 counts as confirmed and lifts no one") {
  Fixture f;
  f.keyring.keys = {key_of('b'), key_of('a')};
  f.keyring.version = 0;  // this node: added from a key file after the rotation
  f.admin->handle_keyring(wire::KeyringRequest{wire::KeyAction::kConfirm, "", 2, id_of(3), "fpb"}, core::Now{});
  CHECK(f.keyring.version == 2);  // same primary, higher version: taken
  f.keys(wire::KeyAction::kRemove, key_of('a'));
  f.answer_all({"fpb", "fpa"}, 0);  // node2, also added later: version 0
  CHECK(f.keyring.keys == std::vector<std::string>{key_of('b')});
  f.answer_all({"fpb"}, 0);
  auto reply = std::get<wire::KeysReply>(f.take_answer());
  CHECK(reply.nodes[1].ok);
}

TEST_CASE("a session opened with an older key from a member's host pushes the primary to that member") {
  Fixture f;
  f.keyring.keys = {key_of('b'), key_of('a')};
  f.keyring.version = 1;
  f.admin->on_old_key_from_host("127.0.0.1", key_of('a'), core::Now{0, 1000});
  auto pushes = f.admin->take_peer_requests();
  REQUIRE(pushes.size() == 1);  // node2; never this node itself
  CHECK(pushes[0].address == "127.0.0.1:7002");
  CHECK(pushes[0].seal_with == key_of('a'));
  f.admin->on_old_key_from_host("10.9.9.9", key_of('a'), core::Now{0, 9000});
  CHECK(f.admin->take_peer_requests().empty());
}
