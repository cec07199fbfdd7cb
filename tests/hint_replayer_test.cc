// Hinted handoff replay: windows, deletion on acknowledgement, retry after
// a failed delivery, and nothing sent to a target that is down.
#include <doctest/doctest.h>

#include "node/core/hint_replayer.h"
#include "storage/memory_engine.h"

using namespace ringkv;

namespace {

constexpr uint64_t kWallUs = 1'000'000'000'000;

struct Fixture {
  storage::MemoryEngine engine{storage::Options{.clock_us = [] { return uint64_t{0}; }}};
  core::ReplicaStore store = *core::ReplicaStore::open(engine, core::HintLimits{});
  core::ClusterView view;
  core::HintReplayer replayer{core::HintReplayConfig{.window = 8}, view, store};
  const std::string target = std::string(16, 'b');

  Fixture() {
    view.self_id = std::string(16, 'a');
    view.ring = std::make_shared<const core::Ring>(core::Ring::build(
        {{view.self_id, "a", "10.0.0.1:1", 8}, {target, "b", "10.0.0.2:1", 8}}));
  }
  void hint(int count) {
    for (int i = 0; i < count; ++i) {
      storage::Record record{{kWallUs + static_cast<uint64_t>(i), 1}, false, "v"};
      REQUIRE(*store.store_hint(target, "key" + std::to_string(i), record, kWallUs));
    }
  }
  uint64_t stored() const {
    auto it = store.hint_counts().find(target);
    return it == store.hint_counts().end() ? 0 : it->second;
  }
};

core::Now now(membership::TimeMs monotonic_ms = 0) { return core::Now{kWallUs, monotonic_ms}; }

}  // namespace

TEST_CASE("hints for a target that is down stay put") {
  Fixture f;
  f.hint(3);
  f.view.down_since_ms[f.target] = 0;
  f.replayer.tick(now());
  CHECK(f.replayer.take_peer_requests().empty());
  CHECK(f.stored() == 3);
}

TEST_CASE("hints replay in windows and are deleted as the target acknowledges them") {
  Fixture f;
  f.hint(20);
  f.replayer.tick(now());
  auto requests = f.replayer.take_peer_requests();
  REQUIRE(requests.size() == 8);
  CHECK(requests[0].address == "10.0.0.2:1");
  CHECK(std::get<wire::ReplicaWriteRequest>(requests[0].body).hint_target.empty());
  size_t delivered = 0;
  while (!requests.empty()) {
    for (const auto& request : requests) {
      f.replayer.handle_reply(request.route.id, wire::Message{0, wire::ReplicaWriteReply{}}, now());
      ++delivered;
    }
    requests = f.replayer.take_peer_requests();
    if (requests.empty()) {
      f.replayer.tick(now());
      requests = f.replayer.take_peer_requests();
    }
  }
  CHECK(delivered == 20);
  CHECK(f.stored() == 0);
  CHECK(f.replayer.stats().at(f.target).replayed == 20);
}

TEST_CASE("a failed delivery keeps the hint and it is sent again") {
  Fixture f;
  f.hint(1);
  f.replayer.tick(now());
  auto first = f.replayer.take_peer_requests();
  REQUIRE(first.size() == 1);
  f.replayer.handle_reply(first[0].route.id, std::unexpected("connection reset"), now());
  CHECK(f.stored() == 1);
  f.replayer.tick(now());  // no pause: membership says when a target is down
  auto again = f.replayer.take_peer_requests();
  REQUIRE(again.size() == 1);
  CHECK(std::get<wire::ReplicaWriteRequest>(again[0].body).key == "key0");
  f.replayer.handle_reply(again[0].route.id, wire::Message{0, wire::ReplicaWriteReply{}}, now());
  CHECK(f.stored() == 0);
  CHECK(f.replayer.stats().at(f.target).backoffs == 0);
}

TEST_CASE("a target whose storage keeps refusing hints is retried ever less often, up to the "
          "bound, and at full speed again once one is delivered") {
  Fixture f;
  f.hint(3);
  const wire::Message full{0, wire::ErrorReply{wire::ErrorCode::kInternal, "storage full"}};
  membership::TimeMs t = 0;
  std::vector<membership::TimeMs> pauses;
  for (int round = 0; round < 8; ++round) {
    // Tick every 10 ms until the replayer sends again.
    std::vector<core::PeerRequest> requests;
    const membership::TimeMs failed_at = t;
    while (requests.empty()) {
      f.replayer.tick(now(t));
      requests = f.replayer.take_peer_requests();
      if (requests.empty()) t += 10;
    }
    if (round > 0) pauses.push_back(t - failed_at);
    CHECK(requests.size() == 3);  // the window, once per pause: no hot loop
    for (const auto& request : requests) f.replayer.handle_reply(request.route.id, full, now(t));
  }
  CHECK(pauses == std::vector<membership::TimeMs>{250, 500, 1000, 2000, 4000, 8000, 8000});
  CHECK(f.replayer.stats().at(f.target).backoffs == 8);
  CHECK(f.stored() == 3);

  t += 8000;
  f.replayer.tick(now(t));
  auto requests = f.replayer.take_peer_requests();
  REQUIRE(requests.size() == 3);
  f.replayer.handle_reply(requests[0].route.id, wire::Message{0, wire::ReplicaWriteReply{}}, now(t));
  f.replayer.handle_reply(requests[1].route.id, full, now(t));
  f.replayer.handle_reply(requests[2].route.id, full, now(t));
  // One delivery reset the pause: the next failure pauses for the initial 250 ms.
  f.replayer.tick(now(t + 250));
  CHECK(f.replayer.take_peer_requests().size() == 2);
}

TEST_CASE("a hint delivered but not deleted (a full disk here) is delivered again after a pause") {
  // cluster_sim --storage-faults seed 4: the read cursor had moved past the
  // hint, so it stayed until the node restarted.
  Fixture f;
  f.hint(2);
  f.replayer.tick(now());
  auto requests = f.replayer.take_peer_requests();
  REQUIRE(requests.size() == 2);
  f.engine.fail_writes_with(storage::ErrorKind::kNoSpace);
  for (const auto& request : requests) {
    f.replayer.handle_reply(request.route.id, wire::Message{0, wire::ReplicaWriteReply{}}, now());
  }
  CHECK(f.stored() == 2);
  CHECK(f.replayer.storage_errors() == 2);
  f.engine.fail_writes_with(std::nullopt);
  f.replayer.tick(now(249));
  CHECK(f.replayer.take_peer_requests().empty());
  f.replayer.tick(now(250));
  auto again = f.replayer.take_peer_requests();
  REQUIRE(again.size() == 2);
  for (const auto& request : again) {
    f.replayer.handle_reply(request.route.id, wire::Message{0, wire::ReplicaWriteReply{}}, now(250));
  }
  CHECK(f.stored() == 0);
}

TEST_CASE("a hint older than its time-to-live is dropped, not delivered") {
  Fixture f;
  f.hint(1);
  const uint64_t day_us = 24ull * 3600 * 1'000'000;
  f.replayer.tick(core::Now{kWallUs + 2 * day_us, 0});
  CHECK(f.replayer.take_peer_requests().empty());
  CHECK(f.stored() == 0);
  CHECK(f.replayer.stats().at(f.target).expired == 1);
}
