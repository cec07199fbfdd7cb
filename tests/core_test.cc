// Node core: request handling against an in-memory engine, and the hybrid
// logical clock.
#include <doctest/doctest.h>

#include "node/core/hybrid_clock.h"
#include "node/core/node_core.h"
#include "storage/memory_engine.h"

using namespace ringkv;

namespace {

struct Fixture {
  storage::MemoryEngine engine{storage::Options{.clock_us = [] { return uint64_t{0}; }}};
  core::NodeCore core{engine, /*tiebreak=*/7};

  wire::Body call(wire::Body request, uint64_t now_us, core::ClientId client = 1) {
    core.handle_client(client, wire::Message{99, std::move(request)}, now_us);
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
  CHECK(f.core.counters().storage_errors == 1);
}

TEST_CASE("a reply type sent as a request is refused as invalid") {
  Fixture f;
  auto refused = std::get<wire::ErrorReply>(f.call(wire::GetReply{}, 1000));
  CHECK(refused.code == wire::ErrorCode::kInvalid);
}
