// Expiry: the instant a put's value expires, and what a read answers for it.
#include <doctest/doctest.h>

#include "node/core/expiry.h"
#include "node/wire/codec.h"

using namespace ringkv;

namespace {
constexpr uint64_t kNowUs = 1'700'000'000'000'000;
}

TEST_CASE("a put's expiry is fixed from the coordinator's wall clock, or absolute, or never") {
  wire::PutRequest put{"k", "v"};
  CHECK(core::expiry_of(put, kNowUs) == 0);
  put.ttl_ms = 1500;
  CHECK(core::expiry_of(put, kNowUs) == kNowUs + 1'500'000);
  put.ttl_ms = 0;
  put.expire_at_ms = 1'800'000'000'000;
  CHECK(core::expiry_of(put, kNowUs) == 1'800'000'000'000'000);
  put.ttl_ms = UINT64_MAX;  // saturates instead of wrapping into the past
  CHECK(core::expiry_of(put, kNowUs) == UINT64_MAX);
}

TEST_CASE("a read answers an expired value or a tombstone as absent, else the value and the time left") {
  storage::Record record{{kNowUs - 10, 1}, false, "v", kNowUs + 2'000'500};
  auto reply = core::get_reply(record, kNowUs);
  CHECK((reply.found && reply.value == "v" && reply.ttl_ms == 2001 && reply.expires_at_us == kNowUs + 2'000'500));
  record.expires_at_us = kNowUs;
  CHECK_FALSE(core::get_reply(record, kNowUs).found);
  record.expires_at_us = 0;
  reply = core::get_reply(record, kNowUs);
  CHECK((reply.found && reply.ttl_ms == 0 && reply.expires_at_us == 0));
  record.tombstone = true;
  CHECK_FALSE(core::get_reply(record, kNowUs).found);
}

TEST_CASE("expiry travels as a trailing field only when set, so unexpiring messages keep their layout") {
  const wire::Limits limits;
  auto round_trip = [&](wire::Body body) {
    const std::string bytes = wire::encode(wire::Message{9, std::move(body)});
    auto decoded = wire::decode(bytes, limits);
    REQUIRE(decoded.has_value());
    return std::pair{bytes.size(), std::move(decoded->body)};
  };
  wire::WireRecord record{kNowUs, 3, false, "v", kNowUs + 5};
  auto [with_size, with] = round_trip(wire::ReplicaWriteRequest{"k", record, ""});
  CHECK(std::get<wire::ReplicaWriteRequest>(with).record.expires_at_us == kNowUs + 5);
  record.expires_at_us = 0;
  auto [without_size, without] = round_trip(wire::ReplicaWriteRequest{"k", record, ""});
  CHECK(std::get<wire::ReplicaWriteRequest>(without).record.expires_at_us == 0);
  CHECK(without_size < with_size);

  auto [read_size, read] = round_trip(wire::ReplicaReadReply{true, wire::WireRecord{1, 2, false, "v", 77}});
  CHECK(std::get<wire::ReplicaReadReply>(read).record.expires_at_us == 77);
  auto [stream_size, stream] =
      round_trip(wire::StreamWriteRequest{{{"a", wire::WireRecord{1, 2, false, "v", 88}}, {"b", wire::WireRecord{1, 2, false, "w"}}}});
  const auto& entries = std::get<wire::StreamWriteRequest>(stream).entries;
  REQUIRE(entries.size() == 2);
  CHECK((entries[0].record.expires_at_us == 88 && entries[1].record.expires_at_us == 0));
  wire::PutRequest put{"k", "v", wire::Consistency::kQuorum, 1000, 0};
  auto [put_size, put_body] = round_trip(put);
  CHECK(std::get<wire::PutRequest>(put_body).ttl_ms == 1000);
  wire::GetReply get{true, "v", 1, 2, 345, kNowUs + 345'000};
  auto [get_size, get_body] = round_trip(get);
  CHECK(std::get<wire::GetReply>(get_body).ttl_ms == 345);
  CHECK(std::get<wire::GetReply>(get_body).expires_at_us == kNowUs + 345'000);
}
