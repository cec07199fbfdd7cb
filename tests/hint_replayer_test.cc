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

core::Now now() { return core::Now{kWallUs, 0}; }

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
      f.replayer.handle_reply(request.token, wire::Message{0, wire::ReplicaWriteReply{}}, now());
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
  f.replayer.handle_reply(first[0].token, std::unexpected("connection reset"), now());
  CHECK(f.stored() == 1);
  f.replayer.tick(now());
  auto again = f.replayer.take_peer_requests();
  REQUIRE(again.size() == 1);
  CHECK(std::get<wire::ReplicaWriteRequest>(again[0].body).key == "key0");
  f.replayer.handle_reply(again[0].token, wire::Message{0, wire::ReplicaWriteReply{}}, now());
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
