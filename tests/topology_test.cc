// Topology changes: range moves between rings, cleanup ranges, and the
// Streamer moving ranges between two engines over a simulated network
// (batches, resume after a failure, last write wins against streamed data).
#include <doctest/doctest.h>

#include <random>

#include "node/core/anti_entropy.h"
#include "node/core/range_moves.h"
#include "node/core/streamer.h"
#include "storage/memory_engine.h"
#include "storage/storage_key.h"

using namespace ringkv;
using core::PositionRange;
using core::Ring;
using core::RingNode;

namespace {

RingNode node(char c, uint32_t vnodes = 64) {
  return RingNode{std::string(16, c), std::string(1, c), std::string("10.0.0.") + c + ":1", vnodes};
}

std::vector<std::string> ids(const std::vector<const RingNode*>& nodes) {
  std::vector<std::string> out;
  for (const RingNode* n : nodes) out.push_back(n->id);
  return out;
}

bool in(const PositionRange& range, uint64_t position) {
  return position >= range.begin && (range.end == 0 || position < range.end);
}

}  // namespace

TEST_CASE("range moves name exactly the replicas a ring change adds, and their old owners") {
  const Ring before = Ring::build({node('a'), node('b'), node('c')});
  for (const Ring& after : {Ring::build({node('a'), node('b'), node('c'), node('d')}),  // a join
                            Ring::build({node('a'), node('b')})}) {                      // a leave
    const auto moves = core::range_moves(before, after, 2);
    REQUIRE_FALSE(moves.empty());
    std::mt19937_64 rng(7);
    for (int i = 0; i < 20000; ++i) {
      const uint64_t position = rng();
      const auto old_ids = ids(before.preference_list(position, 2));
      std::vector<std::string> added;
      for (const auto& id : ids(after.preference_list(position, 2))) {
        if (std::find(old_ids.begin(), old_ids.end(), id) == old_ids.end()) added.push_back(id);
      }
      const core::RangeMove* found = nullptr;
      for (const auto& move : moves) {
        if (move.range.contains(position)) found = &move;
      }
      if (added.empty()) {
        CHECK(found == nullptr);
      } else {
        REQUIRE(found != nullptr);
        CHECK(found->to == added);
        CHECK(found->from == old_ids);
      }
    }
  }
  // Nothing moves between equal rings.
  CHECK(core::range_moves(before, before, 2).empty());
}

TEST_CASE("cleanup ranges are exactly the positions a node does not replicate") {
  const Ring ring = Ring::build({node('a'), node('b'), node('c'), node('d')});
  const std::string self = std::string(16, 'b');
  const auto unowned = core::unowned_ranges(ring, self, 2);
  REQUIRE_FALSE(unowned.empty());
  std::mt19937_64 rng(11);
  for (int i = 0; i < 20000; ++i) {
    const uint64_t position = rng();
    const auto replicas = ids(ring.preference_list(position, 2));
    const bool owned = std::find(replicas.begin(), replicas.end(), self) != replicas.end();
    const bool dropped = std::any_of(unowned.begin(), unowned.end(), [&](auto& r) { return in(r, position); });
    CHECK(owned != dropped);
  }
  // A node replicating everything, or outside the ring, drops nothing.
  CHECK(core::unowned_ranges(ring, self, 4).empty());
  CHECK(core::unowned_ranges(ring, std::string(16, 'z'), 2).empty());
}

namespace {

constexpr uint64_t kWallUs = 1'000'000'000'000;

struct Side {
  storage::MemoryEngine engine{storage::Options{.clock_us = [] { return kWallUs; }}};
  core::ReplicaStore store = *core::ReplicaStore::open(engine, core::HintLimits{});
};

struct StreamFixture {
  Side here, peer;
  core::ClusterView view;
  core::Streamer streamer{core::StreamConfig{.window = 2, .batch_bytes = 2000, .retry_ms = 100}, view,
                          here.store, core::PeerOwner::kTopologyStream};
  membership::TimeMs now_ms = 1;
  int requests = 0;

  StreamFixture() {
    view.self_id = std::string(16, 'a');
    view.ring = std::make_shared<const Ring>(Ring::build({node('a'), node('b')}));
    view.future_ring = view.ring;
  }
  core::Now now() const { return core::Now{kWallUs, now_ms}; }
  static storage::Record record(uint64_t ts, std::string value) {
    return storage::Record{{ts, 1}, false, std::move(value)};
  }
  // Delivers every request to `peer`, failing the `fail_at`-th one.
  void run(int fail_at = -1) {
    for (int round = 0; round < 100000 && !streamer.done(); ++round) {
      auto out = streamer.take_peer_requests();
      if (out.empty()) {
        now_ms += 50;
        streamer.tick(now());
        continue;
      }
      for (auto& request : out) {
        ++requests;
        std::expected<wire::Message, std::string> reply = std::unexpected("connection reset");
        if (requests != fail_at) {
          if (auto* read = std::get_if<wire::StreamReadRequest>(&request.body)) {
            reply = wire::Message{1, *core::read_stream_batch(peer.engine, {read->begin, read->end},
                                                             read->after, read->max_bytes)};
          } else if (auto* push = std::get_if<wire::StreamWriteRequest>(&request.body)) {
            REQUIRE(core::apply_stream_batch(peer.engine, push->entries));
            reply = wire::Message{1, wire::StreamWriteReply{}};
          }
        }
        streamer.handle_reply(request.route.id, reply, now());
      }
    }
    REQUIRE(streamer.done());
  }
};

}  // namespace

TEST_CASE("a pull streams a range in batches, resumes after a failure and keeps newer local writes") {
  StreamFixture f;
  for (int i = 0; i < 500; ++i) {
    REQUIRE(f.peer.engine.write({{"key" + std::to_string(i), StreamFixture::record(100, std::string(50, 'x'))}}));
  }
  REQUIRE(f.peer.engine.write({{"gone", storage::Record{{100, 1}, true, ""}}}));  // tombstones stream too
  // A coordinator already wrote a newer version here: the stream must not undo it.
  REQUIRE(f.here.engine.write({{"key7", StreamFixture::record(200, "newer")}}));
  f.streamer.add({core::StreamTask{core::StreamTask::Kind::kPull, {0, 1ull << 63}, {std::string(16, 'b')}},
                  core::StreamTask{core::StreamTask::Kind::kPull, {1ull << 63, 0}, {std::string(16, 'b')}}},
                 f.now());
  f.streamer.tick(f.now());
  f.run(/*fail_at=*/5);
  CHECK(f.streamer.stats().failed_batches >= 1);
  CHECK(f.requests > 10);  // batches of ~2000 bytes
  for (int i = 0; i < 500; ++i) {
    auto stored = f.here.engine.read("key" + std::to_string(i));
    REQUIRE(stored);
    REQUIRE(stored->has_value());
    CHECK((*stored)->value == (i == 7 ? "newer" : std::string(50, 'x')));
  }
  auto gone = f.here.engine.read("gone");
  CHECK((gone && gone->has_value() && (*gone)->tombstone));
  CHECK(f.streamer.stats().keys_received >= 501);
}

TEST_CASE("a push sends only the range it was given") {
  StreamFixture f;
  std::vector<std::string> keys;
  for (int i = 0; i < 300; ++i) {
    keys.push_back("k" + std::to_string(i));
    REQUIRE(f.here.engine.write({{keys.back(), StreamFixture::record(100, "v")}}));
  }
  const PositionRange half{0, 1ull << 63};
  f.streamer.add({core::StreamTask{core::StreamTask::Kind::kPush, half, {std::string(16, 'b')}}}, f.now());
  f.streamer.tick(f.now());
  f.run(/*fail_at=*/2);
  for (const auto& key : keys) {
    auto stored = f.peer.engine.read(key);
    REQUIRE(stored);
    CHECK(stored->has_value() == in(half, storage::ring_position(key)));
  }
}

TEST_CASE("a pull whose only source is down waits and retries instead of completing") {
  StreamFixture f;
  f.view.down_since_ms[std::string(16, 'b')] = 0;
  f.streamer.add({core::StreamTask{core::StreamTask::Kind::kPull, {0, 0}, {std::string(16, 'b')}}}, f.now());
  for (int i = 0; i < 10; ++i) {
    f.now_ms += 200;
    f.streamer.tick(f.now());
  }
  CHECK_FALSE(f.streamer.done());
  CHECK(f.streamer.take_peer_requests().empty());
  f.view.down_since_ms.clear();
  f.now_ms += 200;
  f.streamer.tick(f.now());
  f.run();
  CHECK(f.streamer.done());
}

TEST_CASE("shared ranges cover exactly the positions a node replicates, with the other replicas") {
  const Ring ring = Ring::build({node('a'), node('b'), node('c'), node('d')});
  const std::string self = std::string(16, 'c');
  const auto shared = core::shared_ranges(ring, self, 2);
  std::mt19937_64 rng(5);
  for (int i = 0; i < 20000; ++i) {
    const uint64_t position = rng();
    auto replicas = ids(ring.preference_list(position, 2));
    const auto me = std::find(replicas.begin(), replicas.end(), self);
    const core::SharedRange* found = nullptr;
    for (const auto& range : shared) {
      if (range.range.contains(position)) found = &range;
    }
    if (me == replicas.end()) {
      CHECK(found == nullptr);
    } else {
      REQUIRE(found != nullptr);
      replicas.erase(me);
      CHECK(found->others == replicas);
    }
  }
}

TEST_CASE("range digests match exactly when keys and versions match, values aside") {
  Side one, two;
  for (int i = 0; i < 200; ++i) {
    const std::string key = "k" + std::to_string(i);
    REQUIRE(one.engine.write({{key, StreamFixture::record(100 + i, "v")}}));
    REQUIRE(two.engine.write({{key, StreamFixture::record(100 + i, "v")}}));
  }
  const PositionRange all{0, 0};
  auto digest = [](storage::Engine& engine, PositionRange range, uint64_t purge_before = 0) {
    return *core::range_digest(engine, range, purge_before);
  };
  CHECK(digest(one.engine, all).digest == digest(two.engine, all).digest);
  CHECK(digest(one.engine, all).count == 200);
  // A missed write, a newer version, a tombstone: each shows.
  REQUIRE(two.engine.write({{"extra", StreamFixture::record(1, "x")}}));
  CHECK(digest(one.engine, all).digest != digest(two.engine, all).digest);
  REQUIRE(one.engine.write({{"extra", StreamFixture::record(1, "x")}}));
  CHECK(digest(one.engine, all).digest == digest(two.engine, all).digest);
  REQUIRE(one.engine.write({{"k5", storage::Record{{500, 1}, true, ""}}}));
  CHECK(digest(one.engine, all).digest != digest(two.engine, all).digest);
  // Tombstones older than the grace period are left out (each replica purges them on its own).
  CHECK(digest(one.engine, all, 1000).count == 200);
  // So are values that expired and were written before it; one that expired since is kept.
  storage::Record expired = StreamFixture::record(600, "x");
  expired.expires_at_us = 700;
  REQUIRE(one.engine.write({{"k6", expired}}));
  CHECK(digest(one.engine, all, 1000).count == 199);
  CHECK(digest(one.engine, all, 650).count == 200);
  // A sub-range digests only its own keys.
  const PositionRange half{0, 1ull << 63};
  CHECK(digest(one.engine, half).count < 201);
}
