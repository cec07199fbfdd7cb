// Wire protocol: codec round-trips, limits, framing and hostile input.
#include <doctest/doctest.h>
#include <msgpack.hpp>

#include <random>
#include <tuple>

#include "node/wire/address.h"
#include "node/wire/codec.h"
#include "node/wire/glob.h"

using namespace ringkv::wire;

namespace {

Message round_trip(const Message& message) {
  auto decoded = decode(encode(message), Limits{});
  REQUIRE(decoded.has_value());
  CHECK(decoded->request_id == message.request_id);
  CHECK(type_of(decoded->body) == type_of(message.body));
  return *decoded;
}

// A raw msgpack message [version, type, id, fields...] built by hand.
template <typename... Fields>
std::string raw_message(uint64_t version, uint64_t type, uint64_t id, const Fields&... fields) {
  msgpack::sbuffer buffer;
  msgpack::packer<msgpack::sbuffer> pk(buffer);
  pk.pack_array(3 + sizeof...(fields));
  pk.pack(version);
  pk.pack(type);
  pk.pack(id);
  (pk.pack(fields), ...);
  return std::string(buffer.data(), buffer.size());
}

std::string frame_bytes(uint32_t size, std::string_view payload) {
  std::string out{static_cast<char>(size >> 24), static_cast<char>(size >> 16), static_cast<char>(size >> 8),
                  static_cast<char>(size)};
  return out + std::string(payload);
}

}  // namespace

TEST_CASE("every message type survives a round trip with binary keys and values") {
  const std::string binary("\x00\xff\x01key\x00", 7);
  auto put = round_trip({7, PutRequest{binary, std::string("v\x00\x80", 3), Consistency::kAll}});
  CHECK(std::get<PutRequest>(put.body).key == binary);
  CHECK(std::get<PutRequest>(put.body).value == std::string("v\x00\x80", 3));
  CHECK(std::get<PutRequest>(put.body).consistency == Consistency::kAll);

  auto get = round_trip({8, GetRequest{"k", Consistency::kOne, true}});
  CHECK(std::get<GetRequest>(get.body).local);
  CHECK(std::get<GetRequest>(get.body).consistency == Consistency::kOne);

  auto del = round_trip({9, DeleteRequest{"k", Consistency::kAny}});
  CHECK(std::get<DeleteRequest>(del.body).consistency == Consistency::kAny);

  auto write = round_trip({10, WriteReply{123456789012345, 42}});
  CHECK(std::get<WriteReply>(write.body).timestamp_us == 123456789012345);
  CHECK(std::get<WriteReply>(write.body).tiebreak == 42);

  auto reply = round_trip({11, GetReply{true, "value", 5, 6}});
  CHECK(std::get<GetReply>(reply.body).found);
  CHECK(std::get<GetReply>(reply.body).value == "value");

  auto error = round_trip({UINT64_MAX, ErrorReply{ErrorCode::kTimeout, "slow"}});
  CHECK(std::get<ErrorReply>(error.body).code == ErrorCode::kTimeout);
  CHECK(std::get<ErrorReply>(error.body).message == "slow");
}

TEST_CASE("a key at the limit is accepted and one byte more is refused as too large") {
  Limits limits;
  limits.key_bytes_max = 16;
  CHECK(decode(encode({1, PutRequest{std::string(16, 'k'), "v"}}), limits).has_value());
  auto refused = decode(encode({1, PutRequest{std::string(17, 'k'), "v"}}), limits);
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().kind == DecodeErrorKind::kTooLarge);
  CHECK(refused.error().request_id == 1);
}

TEST_CASE("a value over the value limit is refused as too large") {
  Limits limits;
  limits.value_bytes_max = 100;
  CHECK(decode(encode({1, PutRequest{"k", std::string(100, 'v')}}), limits).has_value());
  auto refused = decode(encode({1, PutRequest{"k", std::string(101, 'v')}}), limits);
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().kind == DecodeErrorKind::kTooLarge);
}

TEST_CASE("an empty key is refused") {
  auto refused = decode(encode({1, PutRequest{"", "v"}}), Limits{});
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().kind == DecodeErrorKind::kMalformed);
}

TEST_CASE("another protocol version is refused with the request id echoed") {
  auto refused = decode(raw_message(99, 4, 77, std::string("k"), 2u, false), Limits{});
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().kind == DecodeErrorKind::kBadVersion);
  CHECK(refused.error().request_id == 77);
}

TEST_CASE("an unknown message type is reported as such") {
  auto refused = decode(raw_message(kProtocolVersion, 9999, 5), Limits{});
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().kind == DecodeErrorKind::kUnknownType);
  CHECK(refused.error().request_id == 5);
}

TEST_CASE("wrong field types, missing fields, extra fields and bad consistency are malformed") {
  const auto version = kProtocolVersion;
  const auto get = static_cast<uint64_t>(MessageType::kGetRequest);
  CHECK_FALSE(decode(raw_message(version, get, 1, 5u, 2u, false), Limits{}).has_value());
  CHECK_FALSE(decode(raw_message(version, get, 1, std::string("k")), Limits{}).has_value());
  CHECK_FALSE(decode(raw_message(version, get, 1, std::string("k"), 2u, false, 1u), Limits{}).has_value());
  CHECK_FALSE(decode(raw_message(version, get, 1, std::string("k"), 9u, false), Limits{}).has_value());
  CHECK(decode(raw_message(version, get, 1, std::string("k"), 2u, false), Limits{}).has_value());
}

TEST_CASE("10,000-deep nesting is refused without recursion trouble") {
  std::string deep(10000, '\x91');  // fixarray of one element, nested
  deep += '\x01';
  auto refused = decode(deep, Limits{});
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().kind == DecodeErrorKind::kTooLarge);
}

TEST_CASE("an array header claiming billions of elements is refused before allocation") {
  const std::string huge_array("\xdd\xff\xff\xff\xff", 5);
  auto refused = decode(huge_array, Limits{});
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().kind == DecodeErrorKind::kTooLarge);
}

TEST_CASE("random bytes never crash the decoder") {
  std::mt19937_64 random(1234);
  for (int i = 0; i < 20000; ++i) {
    std::string bytes(random() % 64, '\0');
    for (auto& c : bytes) c = static_cast<char>(random());
    (void)decode(bytes, Limits{});
  }
  // Truncations of a valid message are all refused.
  const std::string valid = encode({3, PutRequest{"key", "value"}});
  for (size_t length = 0; length < valid.size(); ++length) {
    CHECK_FALSE(decode(valid.substr(0, length), Limits{}).has_value());
  }
}

TEST_CASE("the frame reader splits a stream fed one byte at a time") {
  std::string stream;
  encode_frame({1, PutRequest{"a", "1"}}, stream);
  encode_frame({2, GetRequest{"b"}}, stream);
  FrameReader reader{Limits{}};
  std::vector<uint64_t> ids;
  for (char c : stream) {
    reader.feed(std::string_view(&c, 1));
    std::string_view payload;
    std::string error;
    while (reader.next(payload, error) == FrameReader::Status::kFrame) {
      auto message = decode(payload, Limits{});
      REQUIRE(message.has_value());
      ids.push_back(message->request_id);
    }
  }
  CHECK(ids == std::vector<uint64_t>{1, 2});
  CHECK(reader.buffered_bytes() == 0);
}

TEST_CASE("a replica write is the same bytes as packed by hand, and a frame appends after what the buffer holds") {
  // The wire format is the contract with other versions: packed here field by
  // field with msgpack's own buffer, independently of the codec.
  msgpack::sbuffer buffer;
  msgpack::packer<msgpack::sbuffer> pk(buffer);
  const std::string key("k\0y", 3);
  const std::string value(300, 'v');
  pk.pack_array(3 + 7);
  pk.pack(uint64_t{kProtocolVersion});
  pk.pack(uint32_t{11});  // ReplicaWriteRequest
  pk.pack(uint64_t{77});
  pk.pack_bin(3);
  pk.pack_bin_body(key.data(), 3);
  pk.pack(uint64_t{1'700'000'000'000'000});
  pk.pack(uint64_t{42});
  pk.pack(false);
  pk.pack_bin(300);
  pk.pack_bin_body(value.data(), 300);
  pk.pack_bin(0);
  pk.pack_bin_body("", 0);
  pk.pack(uint64_t{1'800'000'000'000'000});
  const std::string expected(buffer.data(), buffer.size());

  ReplicaWriteRequest write;
  write.key = key;
  write.record.timestamp_us = 1'700'000'000'000'000;
  write.record.tiebreak = 42;
  write.record.value = value;
  write.record.expires_at_us = 1'800'000'000'000'000;
  const Message message{77, write};
  CHECK(encode(message) == expected);
  std::string stream = "earlier bytes";
  encode_frame(message, stream);
  encode_frame(message, stream);
  const std::string framed = frame_bytes(static_cast<uint32_t>(expected.size()), expected);
  CHECK(stream == "earlier bytes" + framed + framed);
}

TEST_CASE("decodes reuse their scratch: a refused or large message leaves nothing behind for the next") {
  const Limits limits;
  const std::string small = encode({5, ReplicaReadRequest{"key"}});
  // A big array of keys (grows the decoder's scratch beyond its first chunk),
  // then a refused one (thrown out of the parser midway), then the small one.
  ScanReply scan;
  scan.cursor = 9;
  for (int i = 0; i < 5000; ++i) scan.keys.push_back("key-" + std::to_string(i));
  const std::string big = encode({6, scan});
  std::string nested(100'000, '\x91');  // arrays nested far too deep
  for (int round = 0; round < 3; ++round) {
    auto decoded_big = decode(big, limits);
    REQUIRE(decoded_big.has_value());
    const auto& keys = std::get<ScanReply>(decoded_big->body).keys;
    REQUIRE(keys.size() == 5000);
    CHECK(keys[4999] == "key-4999");
    CHECK(decode(nested, limits).error().kind == DecodeErrorKind::kTooLarge);
    CHECK(decode(big.substr(0, big.size() / 2), limits).error().kind == DecodeErrorKind::kMalformed);
    auto decoded_small = decode(small, limits);
    REQUIRE(decoded_small.has_value());
    CHECK(decoded_small->request_id == 5);
    CHECK(std::get<ReplicaReadRequest>(decoded_small->body).key == "key");
  }
  // What a Message holds is its own: the payload it came from can go.
  std::string payload = encode({8, PutRequest{"a key", std::string(100, 'x')}});
  auto decoded = decode(payload, limits);
  payload.assign(payload.size(), '\0');
  REQUIRE(decoded.has_value());
  CHECK(std::get<PutRequest>(decoded->body).key == "a key");
  CHECK(std::get<PutRequest>(decoded->body).value == std::string(100, 'x'));
}

TEST_CASE("a length header near 4 GiB is an error before any payload arrives") {
  FrameReader reader{Limits{}};
  reader.feed(frame_bytes(0xFFFFFFF0u, ""));
  std::string_view payload;
  std::string error;
  CHECK(reader.next(payload, error) == FrameReader::Status::kError);
  CHECK(error.find("exceeds") != std::string::npos);
  CHECK(reader.buffered_bytes() == 4);
}

TEST_CASE("a zero-length frame is an error") {
  FrameReader reader{Limits{}};
  reader.feed(frame_bytes(0, ""));
  std::string_view payload;
  std::string error;
  CHECK(reader.next(payload, error) == FrameReader::Status::kError);
}

TEST_CASE("consistency names parse and print both ways") {
  for (auto name : {"one", "quorum", "all", "any"}) {
    Consistency parsed;
    REQUIRE(parse_consistency(name, parsed));
    CHECK(consistency_name(parsed) == name);
  }
  Consistency ignored;
  CHECK_FALSE(parse_consistency("QUORUM2", ignored));
}

TEST_CASE("addresses parse HOST:PORT and refuse the rest") {
  auto parsed = parse_address("127.0.0.3:7000");
  REQUIRE(parsed.has_value());
  CHECK(format_address(*parsed) == "127.0.0.3:7000");
  CHECK(format_address(*parse_address("localhost:1")) == "127.0.0.1:1");
  CHECK_FALSE(parse_address("127.0.0.1").has_value());
  CHECK_FALSE(parse_address("127.0.0.1:0").has_value());
  CHECK_FALSE(parse_address("127.0.0.1:70000").has_value());
  CHECK_FALSE(parse_address("nohost:80").has_value());
  CHECK_FALSE(parse_address("1.2.3.4:80x").has_value());
}

TEST_CASE("default limits are consistent") {
  CHECK(Limits{}.validate().empty());
  Limits bad;
  bad.frame_bytes_max = 10;
  CHECK_FALSE(bad.validate().empty());
}

TEST_CASE("status replies and push-pull payloads survive a round trip") {
  StatusReply status;
  status.node_name = "node1";
  status.members.push_back({"node1", std::string(16, '\x01'), "127.0.0.1:7000", "alive", "normal", 1ull << 32, 64});
  status.members.push_back({"node2", std::string(16, '\x02'), "127.0.0.2:7000", "dead", "joining", 7, 64});
  status.keys = 10;
  status.bytes = 2000;
  auto decoded = std::get<StatusReply>(round_trip({4, status}).body);
  REQUIRE(decoded.members.size() == 2);
  CHECK(decoded.members[1].name == "node2");
  CHECK(decoded.members[1].liveness == "dead");
  CHECK(decoded.members[0].incarnation == 1ull << 32);
  CHECK(decoded.members[0].id == std::string(16, '\x01'));
  CHECK(decoded.keys == 10);
  CHECK(decoded.bytes == 2000);

  const std::string payload("\x00\x01gossip", 8);
  CHECK(std::get<PushPullRequest>(round_trip({5, PushPullRequest{payload}}).body).payload == payload);
  CHECK(std::get<PushPullReply>(round_trip({6, PushPullReply{payload}}).body).payload == payload);
  round_trip({7, StatusRequest{}});
}

TEST_CASE("a member's clock offset survives a round trip, and replies without it still decode") {
  StatusReply status;
  status.node_name = "node1";
  status.members.push_back({"node1", std::string(16, '\x01'), "127.0.0.1:7000", "alive", "normal", 1, 64});
  status.members.push_back(
      {"node2", std::string(16, '\x02'), "127.0.0.2:7000", "alive", "normal", 1, 64, -60'123});
  status.members.push_back(
      {"node3", std::string(16, '\x03'), "127.0.0.3:7000", "alive", "normal", 1, 64, 60'000});
  auto decoded = std::get<StatusReply>(round_trip({4, status}).body);
  REQUIRE(decoded.members.size() == 3);
  CHECK_FALSE(decoded.members[0].clock_offset_ms.has_value());
  CHECK(decoded.members[1].clock_offset_ms == -60'123);
  CHECK(decoded.members[2].clock_offset_ms == 60'000);

  using OldMember = std::tuple<std::string, std::string, std::string, std::string, std::string, uint64_t, uint32_t>;
  const std::vector<OldMember> old_members{{"node2", std::string(16, '\x02'), "127.0.0.2:7000", "alive", "normal", 5, 64}};
  const auto type = static_cast<uint64_t>(MessageType::kStatusReply);
  auto old = decode(raw_message(kProtocolVersion, type, 1, std::string("n"), old_members, 0u, 0u), Limits{});
  REQUIRE(old.has_value());
  const auto& members = std::get<StatusReply>(old->body).members;
  REQUIRE(members.size() == 1);
  CHECK(members[0].incarnation == 5);
  CHECK_FALSE(members[0].clock_offset_ms.has_value());
}

TEST_CASE("racks survive a round trip in status, endpoints and ring replies; the default rack adds no field") {
  StatusReply status;
  status.node_name = "node1";
  status.members.push_back({"node1", std::string(16, '\x01'), "127.0.0.1:7000", "alive", "normal", 1, 64});
  status.members.push_back(
      {"node2", std::string(16, '\x02'), "127.0.0.2:7000", "alive", "normal", 1, 64, std::nullopt, "east"});
  auto decoded = std::get<StatusReply>(round_trip({4, status}).body);
  REQUIRE(decoded.members.size() == 2);
  CHECK(decoded.members[0].rack.empty());
  CHECK(decoded.members[1].rack == "east");
  CHECK_FALSE(decoded.members[1].clock_offset_ms.has_value());

  auto endpoints = std::get<EndpointsReply>(
      round_trip({5, EndpointsReply{7, {{"a", "127.0.0.1:1", "r1"}, {"b", "127.0.0.2:1"}}}}).body);
  REQUIRE(endpoints.endpoints.size() == 2);
  CHECK(endpoints.endpoints[0].rack == "r1");
  CHECK(endpoints.endpoints[1].rack.empty());
  auto ring = std::get<RingReply>(round_trip({6, RingReply{3, {{"a", "127.0.0.1:1", 256, 1, 2, "r2"}}}}).body);
  REQUIRE(ring.members.size() == 1);
  CHECK(ring.members[0].rack == "r2");

  // A rack longer than membership allows is refused, not truncated.
  status.members[1].rack = std::string(65, 'r');
  CHECK_FALSE(decode(encode(Message{4, status}), Limits{}).has_value());
}

TEST_CASE("a status reply with a malformed member entry is refused") {
  const auto type = static_cast<uint64_t>(MessageType::kStatusReply);
  std::vector<std::vector<uint64_t>> bad_members{{1, 2, 3}};
  auto refused = decode(raw_message(kProtocolVersion, type, 1, std::string("n"), bad_members, 0u, 0u), Limits{});
  CHECK_FALSE(refused.has_value());
}

TEST_CASE("a status reply whose vnode count does not fit 32 bits is refused, not truncated") {
  using Member = std::tuple<std::string, std::string, std::string, std::string, std::string, uint64_t, uint64_t>;
  const std::vector<Member> members{
      {"node2", std::string(16, '\x02'), "127.0.0.2:7000", "alive", "normal", 5, (uint64_t{1} << 32) + 64}};
  const auto type = static_cast<uint64_t>(MessageType::kStatusReply);
  auto refused = decode(raw_message(kProtocolVersion, type, 1, std::string("n"), members, 0u, 0u), Limits{});
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().reason == "integer out of range");
}

TEST_CASE("replica, endpoints, ring and stats messages survive a round trip") {
  WireRecord record{99, 3, true, std::string("\x00v", 2)};
  auto write = std::get<ReplicaWriteRequest>(round_trip({1, ReplicaWriteRequest{"k", record, std::string(16, 'h')}}).body);
  CHECK(write.record.timestamp_us == 99);
  CHECK(write.record.tiebreak == 3);
  CHECK(write.record.tombstone);
  CHECK(write.record.value == std::string("\x00v", 2));
  CHECK(write.hint_target == std::string(16, 'h'));
  round_trip({2, ReplicaWriteReply{}});
  CHECK(std::get<ReplicaReadRequest>(round_trip({3, ReplicaReadRequest{"k"}}).body).key == "k");
  auto read = std::get<ReplicaReadReply>(round_trip({4, ReplicaReadReply{true, record}}).body);
  CHECK(read.found);
  CHECK(read.record.value == record.value);
  auto endpoints = std::get<EndpointsReply>(
      round_trip({5, EndpointsReply{77, {{"a", "127.0.0.1:1"}, {"b", "127.0.0.2:1"}}}}).body);
  CHECK(endpoints.position == 77);
  REQUIRE(endpoints.endpoints.size() == 2);
  CHECK(endpoints.endpoints[1].name == "b");
  auto ring = std::get<RingReply>(round_trip({6, RingReply{3, {{"a", "127.0.0.1:1", 256, 600000, 200000}}}}).body);
  CHECK(ring.replicas == 3);
  REQUIRE(ring.members.size() == 1);
  CHECK(ring.members[0].ownership_ppm == 600000);
  auto stats = std::get<StatsReply>(round_trip({7, StatsReply{{{"puts", 5}, {"gets", 6}}}}).body);
  REQUIRE(stats.values.size() == 2);
  CHECK(stats.values[1] == std::pair<std::string, uint64_t>{"gets", 6});
}

TEST_CASE("stream and topology messages round-trip") {
  const WireRecord record{12, 34, true, ""};
  auto read = std::get<StreamReadRequest>(round_trip({1, StreamReadRequest{5, 0, "cursor", 1024}}).body);
  CHECK((read.begin == 5 && read.end == 0 && read.after == "cursor" && read.max_bytes == 1024));
  auto batch = std::get<StreamReadReply>(
      round_trip({2, StreamReadReply{{{"k1", {1, 2, false, "v"}}, {"k2", record}}, false}}).body);
  REQUIRE(batch.entries.size() == 2);
  CHECK(batch.entries[0].record.value == "v");
  CHECK(batch.entries[1].record.tombstone);
  CHECK_FALSE(batch.done);
  auto push = std::get<StreamWriteRequest>(round_trip({3, StreamWriteRequest{{{"k", record}}}}).body);
  REQUIRE(push.entries.size() == 1);
  CHECK(push.entries[0].record.timestamp_us == 12);
  auto change = std::get<TopologyRequest>(round_trip({4, TopologyRequest{TopologyAction::kRemoveNode, "n3"}}).body);
  CHECK((change.action == TopologyAction::kRemoveNode && change.node == "n3"));
  CHECK(std::get<TopologyReply>(round_trip({5, TopologyReply{"ok"}}).body).message == "ok");
}

TEST_CASE("malformed stream and topology requests are refused") {
  // A range whose begin is past its end, an unknown action, an empty key in a batch.
  CHECK_FALSE(decode(encode({1, StreamReadRequest{9, 5, "", 1}}), Limits{}).has_value());
  CHECK_FALSE(decode(encode({1, TopologyRequest{static_cast<TopologyAction>(9), ""}}), Limits{}).has_value());
  CHECK_FALSE(decode(encode({1, StreamWriteRequest{{{"", {}}}}}), Limits{}).has_value());
  Limits small;
  small.key_bytes_max = 4;
  CHECK_FALSE(decode(encode({1, StreamWriteRequest{{{"longkey", {}}}}}), small).has_value());
}

TEST_CASE("a hint target that is not a node id is refused") {
  CHECK_FALSE(decode(encode({1, ReplicaWriteRequest{"k", {}, std::string(17, 'h')}}), Limits{}).has_value());
  CHECK_FALSE(decode(encode({1, ReplicaWriteRequest{"k", {}, std::string(5, 'h')}}), Limits{}).has_value());
  CHECK(decode(encode({1, ReplicaWriteRequest{"k", {}, ""}}), Limits{}).has_value());
}

TEST_CASE("auth requests and replies round-trip, and an oversized password is refused") {
  auto auth = std::get<AuthRequest>(round_trip({6, AuthRequest{"alice", std::string("p\0w", 3)}}).body);
  CHECK(auth.user == "alice");
  CHECK(auth.password == std::string("p\0w", 3));
  CHECK(std::get<AuthReply>(round_trip({7, AuthReply{"admin"}}).body).role == "admin");
  CHECK_FALSE(decode(encode({1, AuthRequest{"alice", std::string(5000, 'x')}}), Limits{}).has_value());
  CHECK(error_code_name(ErrorCode::kNotAuthenticated) == "NOT_AUTHENTICATED");
  CHECK(error_code_name(ErrorCode::kForbidden) == "FORBIDDEN");
  CHECK(error_code_name(ErrorCode::kBusy) == "BUSY");
}

TEST_CASE("keyring messages survive a round trip and an unknown keys action is refused") {
  auto keys = round_trip({3, KeysRequest{KeyAction::kUse, std::string(32, '\x01')}});
  CHECK(std::get<KeysRequest>(keys.body).action == KeyAction::kUse);
  CHECK(std::get<KeysRequest>(keys.body).key == std::string(32, '\x01'));
  KeysReply reply{{KeysNodeResult{"node1", true, "", {"aa", "bb"}, 4}, KeysNodeResult{"node2", false, "down", {}, 0}}};
  auto decoded = std::get<KeysReply>(round_trip({4, reply}).body);
  REQUIRE(decoded.nodes.size() == 2);
  CHECK(decoded.nodes[0].fingerprints == std::vector<std::string>{"aa", "bb"});
  CHECK(decoded.nodes[0].version == 4);
  CHECK(decoded.nodes[1].message == "down");
  auto request = std::get<KeyringRequest>(
      round_trip({5, KeyringRequest{KeyAction::kConfirm, "", 9, std::string(16, 'n'), "ff"}}).body);
  CHECK(request.action == KeyAction::kConfirm);
  CHECK(request.version == 9);
  CHECK(request.node == std::string(16, 'n'));
  auto keyring = std::get<KeyringReply>(round_trip({6, KeyringReply{true, "", {"ff"}, 9}}).body);
  CHECK(keyring.fingerprints == std::vector<std::string>{"ff"});
  // kSync is internode only: a client cannot ask for it.
  auto bad = decode(encode({7, KeysRequest{KeyAction::kSync, ""}}), Limits{});
  CHECK_FALSE(bad.has_value());
}
TEST_CASE("a status reply's trust problem is optional on the wire") {
  StatusReply with;
  with.node_name = "n";
  with.trust_problem = "no seed accepts this node's keys";
  CHECK(std::get<StatusReply>(round_trip({1, with}).body).trust_problem == with.trust_problem);
  StatusReply without;
  without.node_name = "n";
  CHECK(std::get<StatusReply>(round_trip({2, without}).body).trust_problem.empty());
}

TEST_CASE("snapshot messages round-trip, and an unknown action or an oversized tag is refused") {
  auto request = std::get<SnapshotRequest>(round_trip({3, SnapshotRequest{SnapshotAction::kRemove, "s1"}}).body);
  CHECK(request.action == SnapshotAction::kRemove);
  CHECK(request.tag == "s1");
  SnapshotReply reply{"node1", {SnapshotEntry{"a", 17, 4096}, SnapshotEntry{"b", 18, 0}}};
  auto decoded = std::get<SnapshotReply>(round_trip({4, reply}).body);
  CHECK(decoded.node_name == "node1");
  REQUIRE(decoded.snapshots.size() == 2);
  CHECK(decoded.snapshots[0].tag == "a");
  CHECK(decoded.snapshots[0].created_us == 17);
  CHECK(decoded.snapshots[0].bytes == 4096);
  CHECK(decoded.snapshots[1].tag == "b");
  CHECK_FALSE(decode(encode({5, SnapshotRequest{static_cast<SnapshotAction>(9), ""}}), Limits{}).has_value());
  CHECK_FALSE(decode(encode({6, SnapshotRequest{SnapshotAction::kCreate, std::string(300, 'x')}}), Limits{})
                  .has_value());
}

TEST_CASE("scan messages round-trip with binary keys, and bad counts or ranges are refused") {
  const std::string binary("k\x00\xff", 3);
  auto request = std::get<ScanRequest>(round_trip({1, ScanRequest{UINT64_MAX, "a*", 1000, Consistency::kAll}}).body);
  CHECK(request.cursor == UINT64_MAX);
  CHECK(request.pattern == "a*");
  CHECK(request.count == 1000);
  CHECK(request.consistency == Consistency::kAll);
  auto reply = std::get<ScanReply>(round_trip({2, ScanReply{42, {"a", binary}}}).body);
  CHECK(reply.cursor == 42);
  CHECK(reply.keys == std::vector<std::string>{"a", binary});
  auto range = std::get<RangeKeysRequest>(round_trip({3, RangeKeysRequest{5, 9, "", 10}}).body);
  CHECK(range.begin == 5);
  CHECK(range.end_inclusive == 9);
  CHECK(range.max_entries == 10);
  auto keys = std::get<RangeKeysReply>(
      round_trip({4, RangeKeysReply{{{binary, 7, 8, true, 9}, {"b", 1, 2, false, 0}}, 99}}).body);
  REQUIRE(keys.entries.size() == 2);
  CHECK(keys.entries[0].key == binary);
  CHECK(keys.entries[0].timestamp_us == 7);
  CHECK(keys.entries[0].tiebreak == 8);
  CHECK(keys.entries[0].tombstone);
  CHECK(keys.entries[0].expires_at_us == 9);
  CHECK_FALSE(keys.entries[1].tombstone);
  CHECK(keys.covered_through == 99);
  auto size = std::get<DbSizeReply>(round_trip({5, DbSizeReply{2000, 2, 3}}).body);
  CHECK(size.keys == 2000);
  CHECK(size.nodes_answered == 2);
  CHECK(size.nodes == 3);
  CHECK(std::holds_alternative<DbSizeRequest>(round_trip({6, DbSizeRequest{}}).body));

  CHECK_FALSE(decode(encode({7, ScanRequest{0, "", 0, Consistency::kOne}}), Limits{}).has_value());
  CHECK_FALSE(decode(encode({8, ScanRequest{0, "", kScanCountMax + 1, Consistency::kOne}}), Limits{}).has_value());
  CHECK_FALSE(decode(encode({9, ScanRequest{0, std::string(kScanPatternBytesMax + 1, '*'), 10, Consistency::kOne}}),
                     Limits{}).has_value());
  CHECK_FALSE(decode(encode({10, RangeKeysRequest{9, 5, "", 10}}), Limits{}).has_value());
  CHECK_FALSE(decode(encode({11, RangeKeysRequest{5, 9, "", 0}}), Limits{}).has_value());
  CHECK_FALSE(decode(encode({12, ScanReply{1, {""}}}), Limits{}).has_value());
}

TEST_CASE("glob patterns match as Redis's do") {
  CHECK(glob_matches("", "anything"));
  CHECK(glob_matches("*", ""));
  CHECK(glob_matches("h?llo", "hello"));
  CHECK_FALSE(glob_matches("h?llo", "hllo"));
  CHECK(glob_matches("h*llo", "hllo"));
  CHECK(glob_matches("h*llo", "heeeello"));
  CHECK(glob_matches("h[ae]llo", "hallo"));
  CHECK_FALSE(glob_matches("h[ae]llo", "hillo"));
  CHECK(glob_matches("h[^e]llo", "hallo"));
  CHECK_FALSE(glob_matches("h[^e]llo", "hello"));
  CHECK(glob_matches("h[a-b]llo", "hbllo"));
  CHECK(glob_matches("h[b-a]llo", "hallo"));  // a reversed range, as Redis allows
  CHECK_FALSE(glob_matches("h[a-b]llo", "hcllo"));
  CHECK(glob_matches("a\\*b", "a*b"));
  CHECK_FALSE(glob_matches("a\\*b", "axb"));
  CHECK(glob_matches("[\\]]", "]"));
  CHECK(glob_matches("*a*b*c*", "xxaxxbxxcxx"));
  CHECK_FALSE(glob_matches("*a*b*c*", "xxaxxcxxbxx"));
  CHECK(glob_matches("user:*:name", "user:42:name"));
  CHECK_FALSE(glob_matches("user:*:name", "user:42:names"));
  CHECK(glob_matches("[abc", "b"));  // an unclosed class ends with the pattern
  CHECK(glob_matches("k*", std::string("k\x00\xff", 3)));
  CHECK(glob_matches("?", std::string(1, '\0')));
  // Many stars against a long key: iterative, so this is quick.
  CHECK_FALSE(glob_matches(std::string(500, '*') + "b", std::string(60000, 'a')));
}

TEST_CASE("a prefix becomes a pattern that matches exactly the keys starting with it") {
  CHECK(prefix_pattern("") == "");
  CHECK(prefix_pattern("user:") == "user:*");
  const std::string tricky = "a*[?]\\";
  CHECK(glob_matches(prefix_pattern(tricky), tricky));
  CHECK(glob_matches(prefix_pattern(tricky), tricky + "rest"));
  CHECK_FALSE(glob_matches(prefix_pattern(tricky), "a*[x]\\"));
  CHECK_FALSE(glob_matches(prefix_pattern(tricky), "axx"));
}
