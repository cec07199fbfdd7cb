// Unit tests for membership/: the state machine is driven with crafted datagrams and explicit
// time. No sockets, no sleeps; a tiny in-memory network lives at the bottom of the helpers.
#include <doctest/doctest.h>

#include <algorithm>
#include <msgpack.hpp>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "membership/broadcast_queue.h"
#include "membership/clock_offset.h"
#include "membership/codec.h"
#include "membership/config.h"
#include "membership/member.h"
#include "membership/suspicion.h"
#include "membership/swim.h"

namespace ringkv::membership {
namespace {

constexpr TimeMs kStart = 1'000'000;

std::string id_of(int i) {
  std::string id(kNodeIdBytes, '\0');
  id[0] = 'n';
  id[14] = static_cast<char>(i / 256);
  id[15] = static_cast<char>(i % 256);
  return id;
}

std::string address_of(int i) {
  return "127.0." + std::to_string(i / 256) + "." + std::to_string(i % 256) + ":7000";
}

Member member_of(int i, uint64_t incarnation = 0, Liveness liveness = Liveness::kAlive) {
  Member member;
  member.id = id_of(i);
  member.name = "node" + std::to_string(i);
  member.address = address_of(i);
  member.incarnation = incarnation;
  member.liveness = liveness;
  member.ring_status = RingStatus::kNormal;
  member.vnode_count = 16;
  return member;
}

Swim make_swim(int i, uint32_t generation = 1, Config config = {}, TimeMs now = kStart) {
  auto swim = Swim::create(config, member_of(i), generation, /*rng_seed=*/1000 + i, now);
  REQUIRE(swim.has_value());
  return std::move(*swim);
}

std::string datagram(int sender, const Body& body, const std::vector<Update>& updates = {},
                     std::string cluster = "ringkv", uint64_t sender_incarnation = 0) {
  PacketWriter writer(PacketHeader{kProtocolVersion, cluster, id_of(sender), sender_incarnation},
                      body, 1400);
  for (const Update& update : updates) REQUIRE(writer.try_add(encode_update(update)));
  return std::move(writer).finish();
}

// Teaches `swim` the given members, as a push-pull reply from member `sender` would.
void teach(Swim& swim, int sender, const std::vector<Member>& members, TimeMs now) {
  const std::string bytes =
      encode_push_pull(PushPull{kProtocolVersion, "ringkv", id_of(sender), false, members});
  REQUIRE(swim.handle_push_pull_reply(address_of(sender), bytes, now).has_value());
}

std::vector<Member> alive_members(int first, int last, uint64_t incarnation = 1ull << 32) {
  std::vector<Member> members;
  for (int i = first; i <= last; ++i) members.push_back(member_of(i, incarnation));
  return members;
}

struct Sent {
  std::string address;
  Packet packet;
};

std::vector<Sent> decode_all(const std::vector<OutgoingDatagram>& outgoing) {
  std::vector<Sent> sent;
  for (const OutgoingDatagram& datagram : outgoing) {
    auto packet = decode_packet(datagram.bytes, 1400);
    REQUIRE(packet.has_value());
    sent.push_back(Sent{datagram.address, std::move(*packet)});
  }
  return sent;
}

// Ticks `swim` at each of its deadlines up to `until`, collecting what it sends.
std::vector<Sent> run_until(Swim& swim, TimeMs& now, TimeMs until) {
  std::vector<OutgoingDatagram> outgoing;
  while (swim.next_deadline() <= until) {
    now = std::max(now, swim.next_deadline());
    swim.tick(now);
    for (auto& datagram : swim.take_outgoing()) outgoing.push_back(std::move(datagram));
  }
  now = until;
  swim.tick(now);
  for (auto& datagram : swim.take_outgoing()) outgoing.push_back(std::move(datagram));
  return decode_all(outgoing);
}

// Ticks `swim` deadline by deadline until it sends a datagram of kind T; returns what it sent
// in that step.
template <typename T>
std::vector<Sent> tick_until_sent(Swim& swim, TimeMs& now) {
  for (int step = 0; step < 1000; ++step) {
    now = swim.next_deadline();
    swim.tick(now);
    auto sent = decode_all(swim.take_outgoing());
    if (std::any_of(sent.begin(), sent.end(),
                    [](const Sent& s) { return std::holds_alternative<T>(s.packet.body); })) {
      return sent;
    }
  }
  FAIL("nothing of the expected kind was sent");
  return {};
}

template <typename T>
std::vector<Sent> of_kind(const std::vector<Sent>& sent) {
  std::vector<Sent> matching;
  for (const Sent& s : sent) {
    if (std::holds_alternative<T>(s.packet.body)) matching.push_back(s);
  }
  return matching;
}

bool carries(const Packet& packet, const std::string& id, Liveness liveness) {
  return std::any_of(packet.updates.begin(), packet.updates.end(), [&](const Update& update) {
    return update.member.id == id && update.member.liveness == liveness;
  });
}

Liveness liveness_in(const Swim& swim, int i) {
  auto member = swim.member(id_of(i));
  REQUIRE(member.has_value());
  return member->liveness;
}

// A lossless, instant network between a few Swims, for tests that need real exchanges.
struct TinyNetwork {
  std::map<std::string, Swim*> by_address;

  void add(Swim& swim) { by_address[swim.self().address] = &swim; }

  // Delivers everything in flight until nothing is sent any more.
  void settle(TimeMs now) {
    for (int round = 0; round < 100; ++round) {
      bool any = false;
      for (auto& [address, swim] : by_address) {
        for (auto& request : swim->take_push_pull_requests()) {
          auto target = by_address.find(request.address);
          if (target == by_address.end()) continue;
          auto reply = target->second->handle_push_pull_request(address, request.bytes, now);
          REQUIRE(reply.has_value());
          REQUIRE(swim->handle_push_pull_reply(request.address, *reply, now).has_value());
          any = true;
        }
        for (auto& datagram : swim->take_outgoing()) {
          auto target = by_address.find(datagram.address);
          if (target == by_address.end()) continue;
          (void)target->second->handle_datagram(address, datagram.bytes, now);
          any = true;
        }
      }
      if (!any) return;
    }
  }
};

}  // namespace

TEST_CASE("a higher incarnation wins and at equal incarnation left beats dead beats suspect") {
  const Member alive = member_of(1, 7, Liveness::kAlive);
  const Member suspect = member_of(1, 7, Liveness::kSuspect);
  const Member dead = member_of(1, 7, Liveness::kDead);
  const Member left = member_of(1, 7, Liveness::kLeft);
  const Member newer_alive = member_of(1, 8, Liveness::kAlive);

  CHECK(supersedes(suspect, alive));
  CHECK(supersedes(dead, suspect));
  CHECK(supersedes(left, dead));
  CHECK_FALSE(supersedes(alive, suspect));
  CHECK_FALSE(supersedes(dead, left));
  CHECK_FALSE(supersedes(alive, alive));
  CHECK(supersedes(newer_alive, left));
  CHECK(supersedes(newer_alive, dead));
  CHECK_FALSE(supersedes(member_of(1, 6, Liveness::kLeft), alive));
}

TEST_CASE("a restarted process starts at an incarnation above every earlier generation") {
  CHECK(initial_incarnation(2) > initial_incarnation(1) + 1'000'000);
  CHECK(initial_incarnation(1) == (1ull << 32));
}

TEST_CASE("the default config is memberlist's LAN config and validates") {
  const Config config;
  CHECK(config.probe_interval_ms == 1000);
  CHECK(config.probe_timeout_ms == 500);
  CHECK(config.indirect_checks == 3);
  CHECK(config.suspicion_mult == 4);
  CHECK(config.suspicion_max_timeout_mult == 6);
  CHECK(config.gossip_interval_ms == 200);
  CHECK(config.gossip_nodes == 3);
  CHECK(config.retransmit_mult == 4);
  CHECK(config.push_pull_interval_ms == 30000);
  CHECK(config.datagram_bytes_max == 1400);
  CHECK(config.validate().has_value());
}

TEST_CASE("a config whose probe timeout is not below the probe interval is refused") {
  Config config;
  config.probe_timeout_ms = config.probe_interval_ms;
  CHECK_FALSE(config.validate().has_value());
  CHECK_FALSE(Swim::create(config, member_of(1), 1, 1, kStart).has_value());
}

TEST_CASE("an invalid own record is refused") {
  Member self = member_of(1);
  self.address = "no-port";
  CHECK_FALSE(Swim::create(Config{}, self, 1, 1, kStart).has_value());
  self = member_of(1);
  self.id = "short";
  CHECK_FALSE(Swim::create(Config{}, self, 1, 1, kStart).has_value());
}

TEST_CASE("datagrams and push-pulls round-trip through the codec") {
  const Update update{member_of(3, 42, Liveness::kSuspect), id_of(4)};
  const std::string bytes = datagram(1, PingReq{9, id_of(3), address_of(3)}, {update});
  auto packet = decode_packet(bytes, 1400);
  REQUIRE(packet.has_value());
  CHECK(packet->header.sender_id == id_of(1));
  const auto& request = std::get<PingReq>(packet->body);
  CHECK(request.seq == 9);
  CHECK(request.target_address == address_of(3));
  REQUIRE(packet->updates.size() == 1);
  CHECK(packet->updates[0].member == update.member);
  CHECK(packet->updates[0].origin_id == id_of(4));

  const PushPull state{kProtocolVersion, "ringkv", id_of(1), true, alive_members(1, 5)};
  auto decoded = decode_push_pull(encode_push_pull(state), 1 << 20, 100);
  REQUIRE(decoded.has_value());
  CHECK(decoded->join);
  CHECK(decoded->members == state.members);
}

TEST_CASE("a ping is answered with an ack of the same sequence number") {
  Swim swim = make_swim(1);
  REQUIRE(swim.handle_datagram(address_of(2), datagram(2, Ping{77, id_of(1)}), kStart));
  auto sent = decode_all(swim.take_outgoing());
  REQUIRE(sent.size() == 1);
  CHECK(sent[0].address == address_of(2));
  CHECK(std::get<Ack>(sent[0].packet.body).seq == 77);
}

TEST_CASE("a ping meant for another node id is dropped unanswered") {
  Swim swim = make_swim(1);
  auto result = swim.handle_datagram(address_of(2), datagram(2, Ping{5, id_of(9)}), kStart);
  REQUIRE_FALSE(result.has_value());
  CHECK(result.error() == DropReason::kWrongTarget);
  CHECK(swim.take_outgoing().empty());
  CHECK(swim.stats().dropped_wrong_target == 1);
}

TEST_CASE("a probe without an ack goes indirect through three other members") {
  Swim swim = make_swim(1);
  TimeMs now = kStart;
  teach(swim, 2, alive_members(2, 6), now);
  (void)swim.take_outgoing();
  auto pings = of_kind<Ping>(tick_until_sent<Ping>(swim, now));
  REQUIRE(pings.size() == 1);
  const TimeMs pinged_at = now;
  const std::string target = std::get<Ping>(pings[0].packet.body).target_id;
  const uint64_t seq = std::get<Ping>(pings[0].packet.body).seq;

  auto requests = of_kind<PingReq>(tick_until_sent<PingReq>(swim, now));
  CHECK(now == pinged_at + 500);
  REQUIRE(requests.size() == 3);
  for (const Sent& request : requests) {
    const auto& body = std::get<PingReq>(request.packet.body);
    CHECK(body.target_id == target);
    CHECK(body.seq == seq);
    CHECK(request.address != pings[0].address);
  }
  CHECK(swim.stats().ping_reqs_sent == 3);
}

TEST_CASE("an ack relayed by a helper keeps the target alive") {
  Swim swim = make_swim(1);
  TimeMs now = kStart;
  teach(swim, 2, alive_members(2, 6), now);
  auto pings = of_kind<Ping>(tick_until_sent<Ping>(swim, now));
  REQUIRE(pings.size() == 1);
  const auto ping = std::get<Ping>(pings[0].packet.body);
  auto requests = of_kind<PingReq>(tick_until_sent<PingReq>(swim, now));
  REQUIRE_FALSE(requests.empty());
  // The helper forwards the target's ack under our sequence number.
  const int helper = [&] {
    for (int i = 2; i <= 6; ++i) {
      if (address_of(i) == requests[0].address) return i;
    }
    return -1;
  }();
  REQUIRE(swim.handle_datagram(requests[0].address, datagram(helper, Ack{ping.seq}), now));
  run_until(swim, now, now + 499);  // the end of this probe period
  CHECK(swim.stats().probes_acked == 1);
  CHECK(swim.stats().probes_failed == 0);
  CHECK(liveness_in(swim, ping.target_id.back()) == Liveness::kAlive);
}

TEST_CASE("a helper relays a ping-req and nacks when the target stays silent") {
  Swim swim = make_swim(1);
  TimeMs now = kStart;
  REQUIRE(
      swim.handle_datagram(address_of(2), datagram(2, PingReq{55, id_of(3), address_of(3)}), now));
  auto sent = decode_all(swim.take_outgoing());
  REQUIRE(sent.size() == 1);
  CHECK(sent[0].address == address_of(3));
  CHECK(std::get<Ping>(sent[0].packet.body).target_id == id_of(3));

  sent = run_until(swim, now, now + 500);
  auto nacks = of_kind<Nack>(sent);
  REQUIRE(nacks.size() == 1);
  CHECK(nacks[0].address == address_of(2));
  CHECK(std::get<Nack>(nacks[0].packet.body).seq == 55);
}

TEST_CASE("a helper forwards the target's ack to the requester") {
  Swim swim = make_swim(1);
  TimeMs now = kStart;
  REQUIRE(
      swim.handle_datagram(address_of(2), datagram(2, PingReq{55, id_of(3), address_of(3)}), now));
  auto sent = decode_all(swim.take_outgoing());
  const uint64_t relay_seq = std::get<Ping>(sent.at(0).packet.body).seq;
  REQUIRE(swim.handle_datagram(address_of(3), datagram(3, Ack{relay_seq}), now + 10));
  sent = decode_all(swim.take_outgoing());
  REQUIRE(sent.size() == 1);
  CHECK(sent[0].address == address_of(2));
  CHECK(std::get<Ack>(sent[0].packet.body).seq == 55);
  CHECK(of_kind<Nack>(run_until(swim, now, now + 2000)).empty());
}

TEST_CASE("missing nacks raise the local health score and received nacks spare it") {
  for (bool nacks_arrive : {false, true}) {
    CAPTURE(nacks_arrive);
    Swim swim = make_swim(1);
    TimeMs now = kStart;
    teach(swim, 2, alive_members(2, 6), now);
    auto pings = of_kind<Ping>(tick_until_sent<Ping>(swim, now));
    REQUIRE(pings.size() == 1);
    const uint64_t seq = std::get<Ping>(pings[0].packet.body).seq;
    auto requests = of_kind<PingReq>(tick_until_sent<PingReq>(swim, now));
    REQUIRE(requests.size() == 3);
    if (nacks_arrive) {
      for (const Sent& request : requests) {
        const int helper = request.address[8] - '0';  // "127.0.0.N:7000"
        REQUIRE(swim.handle_datagram(request.address, datagram(helper, Nack{seq}), now));
      }
    }
    const std::size_t failed_before = swim.stats().probes_failed;
    // Stop at the end of this probe period, before another probe can change the score.
    while (swim.stats().probes_failed == failed_before) {
      now = swim.next_deadline();
      swim.tick(now);
    }
    CHECK(swim.health_score() == (nacks_arrive ? 0 : 3));
  }
}

TEST_CASE("an unanswered probe makes the target suspect and tells it directly") {
  Swim swim = make_swim(1);
  TimeMs now = kStart;
  teach(swim, 2, {member_of(2, 1ull << 32)}, now);
  (void)swim.take_events();
  auto sent = run_until(swim, now, kStart + 2100);
  CHECK(liveness_in(swim, 2) == Liveness::kSuspect);
  auto gossip = of_kind<Gossip>(sent);
  CHECK(std::any_of(gossip.begin(), gossip.end(), [](const Sent& s) {
    return s.address == address_of(2) && carries(s.packet, id_of(2), Liveness::kSuspect);
  }));
  auto events = swim.take_events();
  REQUIRE_FALSE(events.empty());
  CHECK(events.back().kind == EventKind::kSuspect);
}

TEST_CASE("a suspect that is not refuted is declared dead after the suspicion timeout") {
  Swim swim = make_swim(1);
  TimeMs now = kStart;
  teach(swim, 2, {member_of(2, 1ull << 32)}, now);
  run_until(swim, now, kStart + 2100);
  REQUIRE(liveness_in(swim, 2) == Liveness::kSuspect);
  const TimeMs suspected_at = now;
  // Two members: no one can confirm, so the timeout is the minimum: 4 * 1 * 1 s.
  run_until(swim, now, suspected_at + 3000);
  CHECK(liveness_in(swim, 2) == Liveness::kSuspect);
  run_until(swim, now, suspected_at + 5000);
  CHECK(liveness_in(swim, 2) == Liveness::kDead);
  CHECK(swim.stats().members_declared_dead == 1);
}

TEST_CASE("a suspected member refutes with a higher incarnation and is alive again") {
  Swim a = make_swim(1);
  Swim b = make_swim(2);
  TinyNetwork network;
  network.add(a);
  network.add(b);
  TimeMs now = kStart;
  a.join({b.self().address}, now);
  network.settle(now);
  REQUIRE(liveness_in(a, 2) == Liveness::kAlive);
  const uint64_t before = b.self().incarnation;

  // Someone tells b that a third member suspects it.
  Member accusation = b.self();
  accusation.liveness = Liveness::kSuspect;
  REQUIRE(b.handle_datagram(address_of(3), datagram(3, Gossip{}, {{accusation, id_of(3)}}), now));
  CHECK(b.self().incarnation > before);
  CHECK(b.stats().refutations == 1);
  CHECK(b.health_score() == 1);

  // The same accusation reaches a, then b's refutation does.
  REQUIRE(a.handle_datagram(address_of(3), datagram(3, Gossip{}, {{accusation, id_of(3)}}), now));
  CHECK(liveness_in(a, 2) == Liveness::kSuspect);
  for (int round = 0; round < 5; ++round) {
    now += 200;
    a.tick(now);
    b.tick(now);
    network.settle(now);
  }
  CHECK(liveness_in(a, 2) == Liveness::kAlive);
  CHECK(a.member(id_of(2))->incarnation == b.self().incarnation);
}

TEST_CASE("the suspicion timeout starts high and shrinks with independent confirmations") {
  Suspicion suspicion(id_of(1), 5, /*confirmations_wanted=*/2, /*min_ms=*/4000,
                      /*max_ms=*/24000, /*started_at_ms=*/kStart);
  CHECK(suspicion.deadline_ms() == kStart + 24000);
  CHECK_FALSE(suspicion.confirm(id_of(1)));  // the accuser does not confirm itself
  CHECK(suspicion.confirm(id_of(2)));
  const TimeMs after_one = suspicion.deadline_ms();
  CHECK(after_one < kStart + 24000);
  CHECK(after_one > kStart + 4000);
  CHECK_FALSE(suspicion.confirm(id_of(2)));  // repeats do not count
  CHECK(suspicion.deadline_ms() == after_one);
  CHECK(suspicion.confirm(id_of(3)));
  CHECK(suspicion.deadline_ms() == kStart + 4000);
  CHECK_FALSE(suspicion.confirm(id_of(4)));  // beyond the wanted count
  CHECK(suspicion_min_timeout_ms(4, 100, 1000) == 8000);
  CHECK(suspicion_min_timeout_ms(4, 3, 1000) == 4000);
}

TEST_CASE("confirmations from other members bring a declaration of death forward") {
  // Ten members: k = 2 confirmations wanted, min 4 s, max 24 s.
  Swim swim = make_swim(1);
  TimeMs now = kStart;
  teach(swim, 2, alive_members(2, 10), now);
  const Member accused = member_of(5, 1ull << 32, Liveness::kSuspect);
  REQUIRE(swim.handle_datagram(address_of(2), datagram(2, Gossip{}, {{accused, id_of(2)}}), now));
  REQUIRE(liveness_in(swim, 5) == Liveness::kSuspect);
  const TimeMs suspected_at = now;
  run_until(swim, now, suspected_at + 10000);
  CHECK(liveness_in(swim, 5) == Liveness::kSuspect);  // unconfirmed: waits up to 24 s

  for (int confirmer : {3, 4}) {
    REQUIRE(swim.handle_datagram(
        address_of(confirmer), datagram(confirmer, Gossip{}, {{accused, id_of(confirmer)}}), now));
  }
  CHECK(swim.stats().suspicion_confirmations == 2);
  now += 1;
  swim.tick(now);
  CHECK(liveness_in(swim, 5) == Liveness::kDead);  // 4 s have long passed
}

TEST_CASE("a datagram from a foreign cluster is dropped, counted and changes nothing") {
  Swim swim = make_swim(1);
  const auto before = swim.members();
  auto result = swim.handle_datagram(
      address_of(2), datagram(2, Gossip{}, {{member_of(2), ""}}, "other-cluster"), kStart);
  REQUIRE_FALSE(result.has_value());
  CHECK(result.error() == DropReason::kForeignCluster);
  CHECK(swim.stats().dropped_foreign_cluster == 1);
  CHECK(swim.members() == before);
  CHECK(swim.take_outgoing().empty());

  const std::string foreign_state =
      encode_push_pull(PushPull{kProtocolVersion, "other", id_of(2), true, alive_members(2, 3)});
  CHECK_FALSE(swim.handle_push_pull_request(address_of(2), foreign_state, kStart).has_value());
  CHECK(swim.stats().dropped_foreign_cluster == 2);
  CHECK(swim.members() == before);
}

TEST_CASE("garbage, truncated, oversized and deeply nested datagrams are dropped and counted") {
  Swim swim = make_swim(1);
  TimeMs now = kStart;
  teach(swim, 2, alive_members(2, 4), now);
  (void)swim.take_outgoing();
  const auto before = swim.members();
  uint64_t expected_drops = 0;
  auto expect_drop = [&](const std::string& bytes) {
    auto result = swim.handle_datagram(address_of(9), bytes, now);
    CHECK_FALSE(result.has_value());
    ++expected_drops;
  };

  const std::string valid =
      datagram(3, Ping{1, id_of(1)}, {{member_of(7, 1, Liveness::kAlive), ""}});
  for (std::size_t cut = 0; cut < valid.size(); ++cut) expect_drop(valid.substr(0, cut));
  expect_drop(valid + "x");  // trailing bytes

  std::mt19937_64 rng(7);
  for (int i = 0; i < 2000; ++i) {
    std::string noise(1 + rng() % 1400, '\0');
    for (char& c : noise) c = static_cast<char>(rng());
    auto result = swim.handle_datagram(address_of(9), noise, now);
    if (!result.has_value()) ++expected_drops;
  }

  expect_drop(std::string(200, '\x91') + '\x01');               // arrays nested 200 deep
  expect_drop(std::string("\xdd\xff\xff\xff\xff", 5));          // a 4-billion-element array
  expect_drop(std::string("\xdb\xff\xff\xff\xff", 5) + "abc");  // a 4-GiB string
  expect_drop(std::string("\x81\x01\x01", 3));                  // a map
  expect_drop(std::string("\x97\x63", 2) + valid.substr(2));    // protocol version 99
  expect_drop(std::string(1401, '\xc0'));                       // over the datagram budget
  std::string unknown_kind = valid;
  unknown_kind[unknown_kind.find('\x01', 27)] = '\x09';
  expect_drop(unknown_kind);
  Member bad = member_of(8);
  bad.address = "nonsense";
  PacketWriter writer(PacketHeader{kProtocolVersion, "ringkv", id_of(3), 0}, Gossip{}, 1400);
  REQUIRE(writer.try_add(encode_update({bad, ""})));
  expect_drop(std::move(writer).finish());

  CHECK(swim.stats().dropped_total() == expected_drops);
  CHECK(swim.stats().dropped_truncated >= valid.size() - 1);
  CHECK(swim.stats().dropped_limit_exceeded >= 3);
  CHECK(swim.stats().dropped_unknown_version >= 1);
  CHECK(swim.members() == before);
}

TEST_CASE("mutated valid datagrams either decode or are dropped without touching the view") {
  std::mt19937_64 rng(11);
  const std::vector<std::string> originals = {
      datagram(3, Ping{1, id_of(1)}, {{member_of(7, 5, Liveness::kSuspect), id_of(3)}}),
      datagram(3, PingReq{2, id_of(4), address_of(4)}, {{member_of(8, 1), ""}}),
      datagram(3, Ack{3}, {{member_of(9, 2, Liveness::kDead), id_of(3)}, {member_of(3, 1), ""}}),
      datagram(3, Gossip{}, {{member_of(5, 1, Liveness::kLeft), id_of(3)}}),
  };
  TimeMs now = kStart;
  std::optional<Swim> fresh;
  for (int i = 0; i < 20000; ++i) {
    if (i % 200 == 0) {
      // A fresh table now and then, so accepted mutants do not pile up members.
      fresh.emplace(make_swim(1, 1, Config{}, now));
      teach(*fresh, 2, alive_members(2, 4), now);
    }
    Swim& swim = *fresh;
    std::string bytes = originals[rng() % originals.size()];
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) bytes[rng() % bytes.size()] = static_cast<char>(rng());
    const auto before = swim.members();
    const uint64_t dropped_before = swim.stats().dropped_total();
    auto result = swim.handle_datagram(address_of(3), bytes, now);
    if (!result.has_value()) {
      CHECK(swim.members() == before);
      CHECK(swim.stats().dropped_total() == dropped_before + 1);
    }
    now += 1;
    swim.tick(now);
    (void)swim.take_outgoing();
    (void)swim.take_events();
    (void)swim.take_push_pull_requests();
  }
}

TEST_CASE("nesting one level deeper than the format needs is refused as over the limit") {
  auto nested = decode_packet(std::string("\x91\x91\x91\x91\x01", 5), 1400);
  REQUIRE_FALSE(nested.has_value());
  CHECK(nested.error() == DecodeError::kLimitExceeded);
  auto state = decode_push_pull(std::string("\x91\x91\x91\x91\x01", 5), 1 << 20, 100);
  REQUIRE_FALSE(state.has_value());
  CHECK(state.error() == DecodeError::kLimitExceeded);
  // A push-pull listing more members than allowed is refused before its members are read.
  auto crowded = decode_push_pull(
      encode_push_pull(PushPull{kProtocolVersion, "ringkv", id_of(1), false, alive_members(1, 20)}),
      1 << 20, 10);
  REQUIRE_FALSE(crowded.has_value());
  CHECK(crowded.error() == DecodeError::kLimitExceeded);
}

TEST_CASE("a push-pull merges both tables") {
  Swim a = make_swim(1);
  Swim b = make_swim(2);
  TimeMs now = kStart;
  teach(a, 3, alive_members(3, 5), now);
  teach(b, 6, alive_members(6, 8), now);
  TinyNetwork network;
  network.add(a);
  network.add(b);
  a.join({b.self().address}, now);
  network.settle(now);
  CHECK(a.joined());
  CHECK(a.members().size() == 8);
  CHECK(b.members().size() == 8);
  CHECK(a.members() == b.members());
}

TEST_CASE("a dead verdict heard in a push-pull becomes a suspicion the member can refute") {
  Swim swim = make_swim(1);
  TimeMs now = kStart;
  teach(swim, 2, alive_members(2, 3), now);
  teach(swim, 2, {member_of(3, 1ull << 32, Liveness::kDead)}, now);
  CHECK(liveness_in(swim, 3) == Liveness::kSuspect);
}

TEST_CASE("join retries its seeds with growing backoff until a push-pull succeeds") {
  Config config;
  config.join_retry_initial_ms = 1000;
  config.join_retry_max_ms = 8000;
  Swim swim = make_swim(1, 1, config);
  TimeMs now = kStart;
  swim.join({address_of(1), address_of(2), address_of(3)}, now);
  auto requests = swim.take_push_pull_requests();
  REQUIRE(requests.size() == 2);  // its own address is not a seed
  std::vector<TimeMs> attempts;
  while (now < kStart + 60000) {
    now = swim.next_deadline();
    swim.tick(now);
    if (!swim.take_push_pull_requests().empty()) attempts.push_back(now);
  }
  REQUIRE(attempts.size() >= 5);
  // Each wait is drawn from [backoff / 2, backoff] with the backoff doubling: two retries
  // later the wait is always longer.
  CHECK(attempts[1] - attempts[0] > attempts[0] - kStart);
  CHECK(attempts[2] - attempts[1] > attempts[0] - kStart);
  CHECK(attempts.back() - attempts[attempts.size() - 2] <= 8000);

  teach(swim, 2, alive_members(2, 3), now);
  CHECK(swim.joined());
  const std::size_t before = attempts.size();
  for (int i = 0; i < 50; ++i) {
    now = swim.next_deadline();
    swim.tick(now);
    for (const auto& request : swim.take_push_pull_requests()) {
      auto state = decode_push_pull(request.bytes, 1 << 20, 100);
      REQUIRE(state.has_value());
      CHECK_FALSE(state->join);  // only periodic exchanges from now on
    }
  }
  CHECK(attempts.size() == before);
}

TEST_CASE("a node with no other seed founds a cluster") {
  Swim swim = make_swim(1);
  swim.join({address_of(1)}, kStart);
  CHECK(swim.joined());
  CHECK(swim.take_push_pull_requests().empty());
}

TEST_CASE("a graceful leave spreads left and reports completion") {
  Swim a = make_swim(1);
  Swim b = make_swim(2);
  Swim c = make_swim(3);
  TinyNetwork network;
  network.add(a);
  network.add(b);
  network.add(c);
  TimeMs now = kStart;
  b.join({a.self().address}, now);
  c.join({a.self().address}, now);
  network.settle(now);
  b.join({c.self().address}, now);
  network.settle(now);
  REQUIRE(b.members().size() == 3);

  a.leave(now);
  CHECK_FALSE(a.leave_complete());
  for (int round = 0; round < 20 && !a.leave_complete(); ++round) {
    now += 200;
    for (Swim* swim : {&a, &b, &c}) swim->tick(now);
    network.settle(now);
  }
  CHECK(a.leave_complete());
  CHECK(liveness_in(b, 1) == Liveness::kLeft);
  CHECK(liveness_in(c, 1) == Liveness::kLeft);
  // Left is final for that incarnation: a late dead verdict does not replace it.
  Member dead = member_of(1, a.self().incarnation, Liveness::kDead);
  REQUIRE(b.handle_datagram(address_of(3), datagram(3, Gossip{}, {{dead, id_of(3)}}), now));
  CHECK(liveness_in(b, 1) == Liveness::kLeft);
}

TEST_CASE("a node restarted with a higher generation outranks the dead record of its last life") {
  Swim a = make_swim(1);
  TimeMs now = kStart;
  Member remembered = member_of(2, initial_incarnation(1) + 3, Liveness::kDead);
  teach(a, 3, {member_of(3, 1ull << 32), remembered}, now);
  REQUIRE(liveness_in(a, 2) == Liveness::kDead);

  Swim restarted = make_swim(2, /*generation=*/2);
  CHECK(restarted.self().incarnation > remembered.incarnation);
  TinyNetwork network;
  network.add(a);
  network.add(restarted);
  (void)a.take_events();
  restarted.join({a.self().address}, now);
  network.settle(now);
  CHECK(liveness_in(a, 2) == Liveness::kAlive);
  CHECK(a.member(id_of(2))->incarnation == restarted.self().incarnation);
  auto events = a.take_events();
  CHECK(std::any_of(events.begin(), events.end(), [](const Event& event) {
    return event.kind == EventKind::kAlive && event.member.id == id_of(2);
  }));
  // The old record that came back in the reply did not pull the new life down.
  CHECK(restarted.self().liveness == Liveness::kAlive);
}

TEST_CASE("a record of us at the same generation that is not ours is refuted") {
  Swim swim = make_swim(1);
  Member impostor = swim.self();
  impostor.address = "10.9.9.9:1";
  const uint64_t before = swim.self().incarnation;
  REQUIRE(swim.handle_datagram(address_of(2), datagram(2, Gossip{}, {{impostor, ""}}), kStart));
  CHECK(swim.self().incarnation == before + 1);
  CHECK(swim.self().address == address_of(1));
}

TEST_CASE("an accusation at the highest possible incarnation is ignored") {
  Swim swim = make_swim(1);
  Member accusation = swim.self();
  accusation.incarnation = kIncarnationMax;
  accusation.liveness = Liveness::kDead;
  const uint64_t before = swim.self().incarnation;
  REQUIRE(
      swim.handle_datagram(address_of(2), datagram(2, Gossip{}, {{accusation, id_of(2)}}), kStart));
  CHECK(swim.self().incarnation == before);
  CHECK(swim.self().liveness == Liveness::kAlive);
  CHECK(swim.stats().claims_refused_incarnation == 1);
  // Beyond it, the datagram does not even decode.
  accusation.incarnation = UINT64_MAX;
  CHECK(swim.handle_datagram(address_of(2), datagram(2, Gossip{}, {{accusation, id_of(2)}}),
                             kStart) == std::unexpected(DropReason::kOutOfRange));
  CHECK(swim.stats().dropped_out_of_range == 1);
}

TEST_CASE("an outdated accusation is answered with the current record") {
  Swim swim = make_swim(1);
  Member accusation = swim.self();
  accusation.liveness = Liveness::kSuspect;
  REQUIRE(
      swim.handle_datagram(address_of(2), datagram(2, Gossip{}, {{accusation, id_of(2)}}), kStart));
  (void)swim.take_outgoing();
  const uint64_t refuted = swim.self().incarnation;
  REQUIRE(refuted > accusation.incarnation);
  // Member 3 missed the refutation and repeats the old suspicion.
  REQUIRE(swim.handle_datagram(address_of(3), datagram(3, Gossip{}, {{accusation, id_of(3)}}),
                               kStart + 10));
  CHECK(swim.self().incarnation == refuted);  // no new refutation needed
  auto sent = decode_all(swim.take_outgoing());
  REQUIRE(sent.size() == 1);
  CHECK(sent[0].address == address_of(3));
  REQUIRE(sent[0].packet.updates.size() >= 1);
  CHECK(sent[0].packet.updates[0].member.incarnation == refuted);
  CHECK(sent[0].packet.updates[0].member.liveness == Liveness::kAlive);
}

TEST_CASE("a member that talks to us while we hold it dead is told so directly") {
  Swim swim = make_swim(1);
  TimeMs now = kStart;
  teach(swim, 2, {member_of(2, 1ull << 32), member_of(3, 1ull << 32)}, now);
  const Member verdict = member_of(3, 1ull << 32, Liveness::kDead);
  REQUIRE(swim.handle_datagram(address_of(2), datagram(2, Gossip{}, {{verdict, id_of(2)}}), now));
  (void)swim.take_outgoing();
  REQUIRE(swim.handle_datagram(address_of(3),
                               datagram(3, Ping{4, id_of(1)}, {}, "ringkv", 1ull << 32), now));
  auto sent = decode_all(swim.take_outgoing());
  auto told = of_kind<Gossip>(sent);
  REQUIRE(told.size() == 1);
  CHECK(told[0].address == address_of(3));
  CHECK(carries(told[0].packet, id_of(3), Liveness::kDead));
  CHECK(of_kind<Ack>(sent).size() == 1);  // and the ping is still answered
  // Not again within the same probe interval.
  REQUIRE(swim.handle_datagram(address_of(3),
                               datagram(3, Ping{5, id_of(1)}, {}, "ringkv", 1ull << 32), now + 10));
  CHECK(of_kind<Gossip>(decode_all(swim.take_outgoing())).empty());
}

TEST_CASE("while a member is suspect every other probe goes to it") {
  Swim swim = make_swim(1);
  TimeMs now = kStart;
  teach(swim, 2, alive_members(2, 12), now);
  const Member accused = member_of(7, 1ull << 32, Liveness::kSuspect);
  REQUIRE(swim.handle_datagram(address_of(2), datagram(2, Gossip{}, {{accused, id_of(2)}}), now));
  std::vector<std::string> targets;
  for (int probe = 0; probe < 6; ++probe) {
    auto pings = of_kind<Ping>(tick_until_sent<Ping>(swim, now));
    REQUIRE(pings.size() == 1);
    targets.push_back(pings[0].address);
    // Answer every probe, so no other suspicion muddles the picture.
    const auto& ping = std::get<Ping>(pings[0].packet.body);
    const int target = static_cast<unsigned char>(ping.target_id.back());
    REQUIRE(swim.handle_datagram(pings[0].address, datagram(target, Ack{ping.seq}), now));
    (void)swim.take_outgoing();
  }
  CHECK(targets[0] == address_of(7));
  CHECK(targets[1] != address_of(7));
  CHECK(targets[2] == address_of(7));
  CHECK(targets[4] == address_of(7));
}

TEST_CASE("one push-pull that brings thousands of members reports every one of them") {
  Swim swim = make_swim(1);
  std::vector<Member> many;
  for (int i = 2; i < 6000; ++i) many.push_back(member_of(i, 1ull << 32));
  teach(swim, 2, many, kStart);
  auto events = swim.take_events();
  CHECK(events.size() == many.size());
  CHECK(swim.live_member_count() == many.size() + 1);
}

TEST_CASE("an operator can declare a dead member left, and only its return overrides that") {
  Swim swim = make_swim(1);
  TimeMs now = kStart;
  teach(swim, 2, {member_of(2, 1ull << 32), member_of(3, 1ull << 32, Liveness::kDead)}, now);
  CHECK(swim.declare_left(id_of(3), now));
  CHECK(liveness_in(swim, 3) == Liveness::kLeft);
  CHECK_FALSE(swim.declare_left(id_of(1), now));
  CHECK_FALSE(swim.declare_left(id_of(99), now));
  teach(swim, 2, {member_of(3, 1ull << 32, Liveness::kAlive)}, now);
  CHECK(liveness_in(swim, 3) == Liveness::kLeft);
  teach(swim, 2, {member_of(3, 2ull << 32, Liveness::kAlive)}, now);
  CHECK(liveness_in(swim, 3) == Liveness::kAlive);
}

TEST_CASE("a new ring status raises the incarnation and reaches the others as an update") {
  Swim a = make_swim(1);
  Swim b = make_swim(2);
  TinyNetwork network;
  network.add(a);
  network.add(b);
  TimeMs now = kStart;
  a.join({b.self().address}, now);
  network.settle(now);
  (void)b.take_events();
  const uint64_t before = a.self().incarnation;
  a.set_ring_status(RingStatus::kLeaving, now);
  CHECK(a.self().incarnation == before + 1);
  for (int round = 0; round < 3; ++round) {
    now += 200;
    a.tick(now);
    b.tick(now);
    network.settle(now);
  }
  CHECK(b.member(id_of(1))->ring_status == RingStatus::kLeaving);
  auto events = b.take_events();
  CHECK(std::any_of(events.begin(), events.end(), [](const Event& event) {
    return event.kind == EventKind::kUpdated && event.member.ring_status == RingStatus::kLeaving;
  }));
}

TEST_CASE("datagrams stay within 1400 bytes while the broadcast queue is large") {
  Swim swim = make_swim(1);
  TimeMs now = kStart;
  std::vector<Member> many;
  for (int i = 2; i < 600; ++i) {
    Member member = member_of(i, 1ull << 32);
    member.name = std::string(kNameBytesMax, 'a' + i % 26);
    many.push_back(member);
  }
  teach(swim, 2, many, now);
  std::size_t datagrams = 0;
  std::size_t updates = 0;
  for (int i = 0; i < 50; ++i) {
    now = swim.next_deadline();
    swim.tick(now);
    for (const auto& out : swim.take_outgoing()) {
      ++datagrams;
      CHECK(out.bytes.size() <= 1400);
      auto packet = decode_packet(out.bytes, 1400);
      REQUIRE(packet.has_value());
      updates += packet->updates.size();
    }
  }
  REQUIRE(datagrams > 0);
  CHECK(updates / datagrams >= 5);  // the budget is actually filled
}

TEST_CASE("the broadcast queue sends the least-sent updates first and retires them") {
  BroadcastQueue queue(10);
  queue.push("a", std::string(100, 'a'));
  queue.push("b", std::string(100, 'b'));
  auto first = queue.take(150, 2);
  REQUIRE(first.size() == 1);
  CHECK(first[0][0] == 'b');  // newest first among equals
  auto second = queue.take(150, 2);
  CHECK(second[0][0] == 'a');             // now the least sent
  queue.push("a", std::string(50, 'A'));  // replaces the queued update about "a"
  CHECK(queue.size() == 2);
  auto third = queue.take(1000, 2);
  CHECK(third.size() == 2);
  CHECK(queue.size() == 1);  // "b" was sent twice and is retired
  CHECK(retransmit_limit(4, 100) == 12);
  CHECK(retransmit_limit(4, 3) == 4);
}

TEST_CASE("a time earlier than one already seen is taken as the latest and counted") {
  Swim swim = make_swim(1);
  swim.tick(kStart + 5000);
  REQUIRE(swim.handle_datagram(address_of(2), datagram(2, Ping{1, id_of(1)}), kStart + 4000));
  CHECK(swim.stats().time_went_backwards == 1);
  CHECK(swim.take_outgoing().size() == 1);
  CHECK(swim.next_deadline() >= kStart + 5000);
}

TEST_CASE("next_deadline is always in the future after a tick") {
  Swim swim = make_swim(1);
  TimeMs now = kStart;
  teach(swim, 2, alive_members(2, 6), now);
  for (int i = 0; i < 500; ++i) {
    now = swim.next_deadline();
    swim.tick(now);
    CHECK(swim.next_deadline() > now);
    (void)swim.take_outgoing();
  }
}

// ---- Claims no honest node makes (issue 11 item 2): see "Trust" in swim.h ----

namespace {

// Three members that know each other, on a lossless network.
struct Trio {
  Swim a = make_swim(1);
  Swim b = make_swim(2);
  Swim c = make_swim(3);
  TinyNetwork network;
  TimeMs now = kStart;

  Trio() {
    for (Swim* swim : {&a, &b, &c}) network.add(*swim);
    b.join({a.self().address}, now);
    c.join({a.self().address}, now);
    network.settle(now);
    b.join({c.self().address}, now);
    network.settle(now);
    REQUIRE(a.members().size() == 3);
    REQUIRE(b.members().size() == 3);
  }

  // Runs the protocol for `ms` in steps of 50 ms.
  void run(TimeMs ms) {
    for (const TimeMs until = now + ms; now < until;) {
      now += 50;
      for (Swim* swim : {&a, &b, &c}) swim->tick(now);
      network.settle(now);
    }
  }

  bool everyone_sees_alive(int i) const {
    return std::all_of(network.by_address.begin(), network.by_address.end(), [&](const auto& entry) {
      return liveness_in(*entry.second, i) == Liveness::kAlive;
    });
  }
};

// A datagram from an outsider (node 9, known to nobody) carrying `claims`.
std::string forged(const std::vector<Member>& claims) {
  std::vector<Update> updates;
  for (const Member& claim : claims) updates.push_back(Update{claim, id_of(9)});
  return datagram(9, Gossip{}, updates);
}

}  // namespace

TEST_CASE("a forged left at the highest incarnation is refused at decode and counted") {
  Swim swim = make_swim(1);
  teach(swim, 2, alive_members(2, 3), kStart);
  Member claim = member_of(3, UINT64_MAX, Liveness::kLeft);
  CHECK(swim.handle_datagram(address_of(9), forged({claim}), kStart) ==
        std::unexpected(DropReason::kOutOfRange));
  CHECK(liveness_in(swim, 3) == Liveness::kAlive);
  CHECK(swim.stats().dropped_out_of_range == 1);
}

TEST_CASE("a vnode count beyond the ring's limit is refused at decode") {
  Swim swim = make_swim(1);
  Member claim = member_of(3, 1ull << 32);
  claim.vnode_count = kVnodeCountMax + 1;
  CHECK(decode_packet(forged({claim}), 1400).error() == DecodeError::kOutOfRange);
  CHECK(swim.handle_datagram(address_of(9), forged({claim}), kStart) ==
        std::unexpected(DropReason::kOutOfRange));
  CHECK_FALSE(swim.member(id_of(3)).has_value());
  claim.vnode_count = kVnodeCountMax;
  CHECK(swim.handle_datagram(address_of(9), forged({claim}), kStart).has_value());
  CHECK(swim.member(id_of(3)).has_value());
}

TEST_CASE("an outsider cannot say a live member left, at any incarnation; a member relaying it can") {
  Swim swim = make_swim(1);
  teach(swim, 2, alive_members(2, 3), kStart);
  REQUIRE(swim.handle_datagram(address_of(9), forged({member_of(3, (1ull << 32) + 1, Liveness::kLeft)}),
                               kStart));
  CHECK(liveness_in(swim, 3) == Liveness::kAlive);
  CHECK(swim.stats().claims_refused_left == 1);
  // Nor can a push-pull carry it.
  teach(swim, 2, {member_of(3, (1ull << 32) + 3, Liveness::kLeft)}, kStart);
  CHECK(liveness_in(swim, 3) == Liveness::kAlive);
  CHECK(swim.stats().claims_refused_left == 2);
  // A known member relaying a leave from its own address is believed (a leave
  // may reach a member only that way); were it false, member 3 would refute.
  REQUIRE(swim.handle_datagram(address_of(2),
                               datagram(2, Gossip{}, {{member_of(3, (1ull << 32) + 2, Liveness::kLeft), id_of(2)}}),
                               kStart));
  CHECK(liveness_in(swim, 3) == Liveness::kLeft);
}

TEST_CASE("a member's own left is accepted, and a relayed left once the member is dead") {
  Swim swim = make_swim(1);
  teach(swim, 2, alive_members(2, 4), kStart);
  // Member 3 announces its own leave, from its own address.
  REQUIRE(swim.handle_datagram(address_of(3),
                               datagram(3, Gossip{}, {{member_of(3, 1ull << 32, Liveness::kLeft), id_of(3)}}),
                               kStart));
  CHECK(liveness_in(swim, 3) == Liveness::kLeft);
  // Member 4 is dead here; the removal protocol's left relayed by member 2 then stands.
  teach(swim, 2, {member_of(4, 1ull << 32, Liveness::kDead)}, kStart);
  REQUIRE(swim.handle_datagram(address_of(2), datagram(2, Gossip{}, {{member_of(4, 1ull << 32, Liveness::kDead), id_of(2)}}),
                               kStart));
  REQUIRE(liveness_in(swim, 4) == Liveness::kDead);
  REQUIRE(swim.handle_datagram(address_of(2),
                               datagram(2, Gossip{}, {{member_of(4, 1ull << 32, Liveness::kLeft), id_of(2)}}),
                               kStart));
  CHECK(liveness_in(swim, 4) == Liveness::kLeft);
  CHECK(swim.stats().claims_refused_left == 0);
}

TEST_CASE("a sender that claims a member's id from another address is a third party") {
  Swim swim = make_swim(1);
  teach(swim, 2, alive_members(2, 3), kStart);
  // Node 3's id in the header, but sent from the outsider's address.
  REQUIRE(swim.handle_datagram(address_of(9),
                               datagram(3, Gossip{}, {{member_of(3, 1ull << 32, Liveness::kLeft), id_of(3)}}),
                               kStart));
  CHECK(liveness_in(swim, 3) == Liveness::kAlive);
  CHECK(swim.stats().claims_refused_left == 1);
}

TEST_CASE("a claim far above the incarnation we know is refused") {
  Swim swim = make_swim(1);
  teach(swim, 2, alive_members(2, 3), kStart);
  const uint64_t known = 1ull << 32;
  REQUIRE(swim.handle_datagram(address_of(9),
                               forged({member_of(3, known + kAccusationJumpMax + 1, Liveness::kDead)}),
                               kStart));
  CHECK(liveness_in(swim, 3) == Liveness::kAlive);
  REQUIRE(swim.handle_datagram(address_of(9), forged({member_of(3, known + kIncarnationJumpMax + 1)}),
                               kStart));
  CHECK(swim.member(id_of(3))->incarnation == known);
  // An unknown member cannot be introduced at the very top either.
  REQUIRE(swim.handle_datagram(address_of(9), forged({member_of(4, kIncarnationMax, Liveness::kDead)}),
                               kStart));
  CHECK_FALSE(swim.member(id_of(4)).has_value());
  CHECK(swim.stats().claims_refused_incarnation == 3);
  // A restart's worth ahead is fine: that is a member's next life, relayed.
  REQUIRE(swim.handle_datagram(address_of(2), datagram(2, Gossip{}, {{member_of(3, 3ull << 32), ""}}),
                               kStart));
  CHECK(swim.member(id_of(3))->incarnation == 3ull << 32);
}

TEST_CASE("refuting an accusation just under the maximum never overflows") {
  Swim swim = make_swim(1);
  Member accusation = swim.self();
  accusation.incarnation = kIncarnationMax - 1;
  accusation.liveness = Liveness::kDead;
  REQUIRE(swim.handle_datagram(address_of(9), forged({accusation}), kStart));
  CHECK(swim.self().incarnation == kIncarnationMax);
  CHECK(swim.self().liveness == Liveness::kAlive);
  swim.set_ring_status(RingStatus::kLeaving, kStart);
  CHECK(swim.self().incarnation == kIncarnationMax);
  CHECK(next_incarnation(kIncarnationMax) == kIncarnationMax);
}

TEST_CASE("a forged dead at a far incarnation is refuted and every view recovers") {
  Trio trio;
  const uint64_t forged_incarnation = trio.c.self().incarnation + kAccusationJumpMax;
  REQUIRE(trio.b.handle_datagram(address_of(9),
                                 forged({member_of(3, forged_incarnation, Liveness::kDead)}), trio.now));
  REQUIRE(liveness_in(trio.b, 3) == Liveness::kDead);
  trio.run(10000);
  CHECK(trio.everyone_sees_alive(3));
  CHECK(trio.c.self().incarnation > forged_incarnation);
  CHECK(trio.a.member(id_of(3))->incarnation == trio.c.self().incarnation);
}

TEST_CASE("a live member declared left by a third party refutes and every view recovers") {
  Trio trio;
  const uint64_t incarnation = trio.c.self().incarnation + 1;
  // Dead first (which anyone may claim), then left while it is dead here.
  for (Swim* victim_view : {&trio.a, &trio.b}) {
    REQUIRE(victim_view->handle_datagram(
        address_of(9),
        forged({member_of(3, incarnation, Liveness::kDead), member_of(3, incarnation, Liveness::kLeft)}),
        trio.now));
    REQUIRE(liveness_in(*victim_view, 3) == Liveness::kLeft);
  }
  trio.run(10000);
  CHECK(trio.everyone_sees_alive(3));
  CHECK(trio.c.self().incarnation > incarnation);
  CHECK(trio.c.stats().refutations >= 1);
}

// ---- Clock offsets from ping/ack round trips (issue 12 item 2) ----

namespace {

constexpr uint64_t kWallStartUs = 1'800'000'000'000'000;  // 2027

// Our wall clock at monotonic `now`, for a node whose wall clock is `skew_us` ahead.
uint64_t wall_at(TimeMs now, int64_t skew_us = 0) {
  return static_cast<uint64_t>(static_cast<int64_t>(kWallStartUs) + (now - kStart) * 1000 + skew_us);
}

// Ticks `swim` (with its wall clock, unless `with_wall` is false) until it probes someone;
// returns that ping.
Sent next_probe(Swim& swim, TimeMs& now, bool with_wall = true) {
  for (int step = 0; step < 1000; ++step) {
    now = swim.next_deadline();
    swim.tick(now, with_wall ? wall_at(now) : 0);
    auto pings = of_kind<Ping>(decode_all(swim.take_outgoing()));
    if (!pings.empty()) return pings.front();
  }
  FAIL("no probe was sent");
  return {};
}

// Answers `probe` as its target would, `rtt_ms` after it was sent, with the target's clock
// `skew_us` ahead and read halfway through the round trip.
void answer(Swim& swim, const Sent& probe, TimeMs sent_ms, TimeMs rtt_ms, int64_t skew_us) {
  const Ping& ping = std::get<Ping>(probe.packet.body);
  const int target = static_cast<unsigned char>(ping.target_id.back());
  const uint64_t remote_wall = wall_at(sent_ms, skew_us) + static_cast<uint64_t>(rtt_ms) * 500;
  REQUIRE(swim.handle_datagram(probe.address, datagram(target, Ack{ping.seq, remote_wall, ping.wall_us}),
                               sent_ms + rtt_ms, wall_at(sent_ms + rtt_ms)));
  (void)swim.take_outgoing();
}

std::string old_layout(MessageKind kind, const std::vector<uint64_t>& body_ints, const std::string& id) {
  msgpack::sbuffer buffer;
  msgpack::packer<msgpack::sbuffer> packer(buffer);
  packer.pack_array(7);
  packer.pack_uint32(kProtocolVersion);
  packer.pack(std::string("ringkv"));
  packer.pack_bin(static_cast<uint32_t>(id.size()));
  packer.pack_bin_body(id.data(), static_cast<uint32_t>(id.size()));
  packer.pack_uint64(1ull << 32);
  packer.pack_uint8(static_cast<uint8_t>(kind));
  packer.pack_array(static_cast<uint32_t>(body_ints.size() + (kind == MessageKind::kPing ? 1 : 0)));
  packer.pack_uint64(body_ints[0]);
  if (kind == MessageKind::kPing) {
    packer.pack_bin(static_cast<uint32_t>(id.size()));
    packer.pack_bin_body(id.data(), static_cast<uint32_t>(id.size()));
  }
  for (std::size_t i = 1; i < body_ints.size(); ++i) packer.pack_uint64(body_ints[i]);
  packer.pack_array(0);
  return std::string(buffer.data(), buffer.size());
}

}  // namespace

TEST_CASE("the clock offset is the least delayed recent sample, with half its round trip as doubt") {
  ClockOffsetEstimator clock;
  CHECK_FALSE(clock.estimate().has_value());
  // The peer is 60 s ahead; it read its clock 5 ms into a 10 ms round trip.
  REQUIRE(clock.add(1000, 1010, kWallStartUs, kWallStartUs + 60'000'000 + 5'000));
  auto estimate = clock.estimate();
  REQUIRE(estimate.has_value());
  CHECK(estimate->offset_us == 60'000'000);
  CHECK(estimate->uncertainty_us == 5'000 + 1'000);
  CHECK(estimate->measured_at_ms == 1010);
  // A 2 ms round trip bounds it better, even though the peer read its clock at the very end.
  REQUIRE(clock.add(2000, 2002, kWallStartUs + 1'000'000, kWallStartUs + 61'000'000 + 2'000));
  CHECK(clock.estimate()->offset_us == 60'001'000);
  CHECK(clock.estimate()->uncertainty_us == 2'000);
  // A slower sample does not replace it...
  REQUIRE(clock.add(3000, 3050, kWallStartUs + 2'000'000, kWallStartUs + 62'000'000 + 25'000));
  CHECK(clock.estimate()->measured_at_ms == 2002);
  // ...until it is no longer among the last kSamples.
  for (std::size_t i = 0; i < ClockOffsetEstimator::kSamples; ++i) {
    const TimeMs sent = 4000 + static_cast<TimeMs>(i) * 1000;
    REQUIRE(clock.add(sent, sent + 20, kWallStartUs, kWallStartUs - 3'000'000 + 10'000));
  }
  CHECK(clock.estimate()->offset_us == -3'000'000);
  CHECK(clock.estimate()->uncertainty_us == 11'000);
  CHECK(clock.estimate()->certain_excess_us() == 3'000'000 - 11'000);
  // Unset clocks and round trips that go backwards are not samples.
  CHECK_FALSE(clock.add(1, 2, 0, kWallStartUs));
  CHECK_FALSE(clock.add(1, 2, kWallStartUs, 0));
  CHECK_FALSE(clock.add(5, 2, kWallStartUs, kWallStartUs));
  CHECK_FALSE(clock.add(1, 2, kWallStartUs, UINT64_MAX));
}

TEST_CASE("a ping carries the wall clock and its ack echoes it beside the responder's") {
  Swim swim = make_swim(1);
  REQUIRE(swim.handle_datagram(address_of(2), datagram(2, Ping{4, id_of(1), 123'456}), kStart,
                               kWallStartUs));
  auto acks = of_kind<Ack>(decode_all(swim.take_outgoing()));
  REQUIRE(acks.size() == 1);
  const Ack& ack = std::get<Ack>(acks[0].packet.body);
  CHECK(ack.seq == 4);
  CHECK(ack.wall_us == kWallStartUs);
  CHECK(ack.ping_wall_us == 123'456);
}

TEST_CASE("pings and acks of the layout before clocks still decode, with clocks unknown") {
  auto ping = decode_packet(old_layout(MessageKind::kPing, {7}, id_of(2)), 1400);
  REQUIRE(ping.has_value());
  CHECK(std::get<Ping>(ping->body).seq == 7);
  CHECK(std::get<Ping>(ping->body).wall_us == 0);
  auto ack = decode_packet(old_layout(MessageKind::kAck, {7}, id_of(2)), 1400);
  REQUIRE(ack.has_value());
  CHECK(std::get<Ack>(ack->body).wall_us == 0);
  // Two fields of three is neither layout.
  CHECK_FALSE(decode_packet(old_layout(MessageKind::kAck, {7, 1}, id_of(2)), 1400).has_value());
}

TEST_CASE("a probe's ack gives the target's clock offset, and a far one is reported once a minute") {
  Config config;
  config.max_clock_offset_ms = 500;
  config.clock_offset_warning_interval_ms = 60000;
  Swim swim = make_swim(1, 1, config);
  TimeMs now = kStart;
  teach(swim, 2, {member_of(2, 1ull << 32)}, now);
  CHECK_FALSE(swim.clock_offset(id_of(2)).has_value());
  CHECK_FALSE(swim.clock_offset(id_of(1)).has_value());  // not for this node

  Sent probe = next_probe(swim, now);
  CHECK(std::get<Ping>(probe.packet.body).wall_us == wall_at(now));
  answer(swim, probe, now, /*rtt_ms=*/4, /*skew_us=*/60'000'000);
  auto offset = swim.clock_offset(id_of(2));
  REQUIRE(offset.has_value());
  CHECK(offset->offset_us == 60'000'000);
  CHECK(offset->uncertainty_us == 3'000);
  auto warnings = swim.take_clock_warnings();
  REQUIRE(warnings.size() == 1);
  CHECK(warnings[0].member.id == id_of(2));
  CHECK(warnings[0].offset.offset_us == 60'000'000);

  // Not again within the minute, though every probe confirms it.
  while (now < kStart + 50'000) {
    probe = next_probe(swim, now);
    answer(swim, probe, now, 4, 60'000'000);
  }
  CHECK(swim.take_clock_warnings().empty());
  while (now < kStart + 70'000) {
    probe = next_probe(swim, now);
    answer(swim, probe, now, 4, 60'000'000);
  }
  CHECK(swim.take_clock_warnings().size() == 1);
  CHECK(swim.stats().clock_offset_warnings == 2);
}

TEST_CASE("an offset within the bound, or not beyond doubt, is no warning") {
  Swim swim = make_swim(1);
  TimeMs now = kStart;
  teach(swim, 2, {member_of(2, 1ull << 32)}, now);
  // 400 ms ahead: within 500 ms.
  Sent probe = next_probe(swim, now);
  answer(swim, probe, now, 2, 400'000);
  CHECK(swim.clock_offset(id_of(2))->offset_us == 400'000);
  // 700 ms ahead but measured over a 600 ms round trip: 700 - 301 is within 500 ms.
  Swim slow = make_swim(1);
  now = kStart;
  teach(slow, 2, {member_of(2, 1ull << 32)}, now);
  probe = next_probe(slow, now);
  answer(slow, probe, now, 600, 700'000);
  CHECK(slow.clock_offset(id_of(2))->uncertainty_us == 301'000);
  CHECK(swim.take_clock_warnings().empty());
  CHECK(slow.take_clock_warnings().empty());
}

TEST_CASE("an ack relayed by a helper and an ack without clocks give no clock sample") {
  Swim swim = make_swim(1);
  TimeMs now = kStart;
  teach(swim, 2, {member_of(2, 1ull << 32), member_of(3, 1ull << 32)}, now);
  Sent probe = next_probe(swim, now);
  const Ping& ping = std::get<Ping>(probe.packet.body);
  const int helper = static_cast<unsigned char>(ping.target_id.back()) == 2 ? 3 : 2;
  REQUIRE(swim.handle_datagram(address_of(helper),
                               datagram(helper, Ack{ping.seq, wall_at(now), ping.wall_us}), now + 3,
                               wall_at(now + 3)));
  probe = next_probe(swim, now);
  answer(swim, probe, now, 3, 0);
  const int target = static_cast<unsigned char>(std::get<Ping>(probe.packet.body).target_id.back());
  // The relayed ack (from a member that is not the target) gave nothing; the target's did.
  CHECK(swim.stats().clock_offset_samples == 1);
  CHECK(swim.clock_offset(id_of(target)).has_value());
  // A node whose owner passes no wall clock sends pings that give no sample.
  Swim plain = make_swim(1);
  now = kStart;
  teach(plain, 2, {member_of(2, 1ull << 32)}, now);
  probe = next_probe(plain, now, /*with_wall=*/false);
  CHECK(std::get<Ping>(probe.packet.body).wall_us == 0);
  answer(plain, probe, now, 1, 0);
  CHECK_FALSE(plain.clock_offset(id_of(2)).has_value());
}

TEST_CASE("a clock offset bound that is not positive is refused") {
  Config config;
  config.max_clock_offset_ms = 0;
  CHECK_FALSE(config.validate().has_value());
}

TEST_CASE("a push-pull from a node with other cluster settings is answered but never merged") {
  Config ours;
  ours.settings = "replicas=3";
  Swim swim = make_swim(1, 1, ours);
  const auto before = swim.members();
  PushPull theirs{kProtocolVersion, "ringkv", id_of(2), true, alive_members(2, 3), "replicas=2"};

  // It asks to join us: it gets our state (with our settings) so it can say why it cannot.
  auto reply = swim.handle_push_pull_request(address_of(2), encode_push_pull(theirs), kStart);
  REQUIRE(reply.has_value());
  auto decoded = decode_push_pull(*reply, 1 << 20, 100);
  REQUIRE(decoded.has_value());
  CHECK(decoded->settings == "replicas=3");
  CHECK(swim.members() == before);
  CHECK(swim.stats().dropped_settings_mismatch == 1);

  // It answers our push-pull: refused.
  auto merged = swim.handle_push_pull_reply(address_of(2), encode_push_pull(theirs), kStart);
  REQUIRE_FALSE(merged.has_value());
  CHECK(merged.error() == DropReason::kSettingsMismatch);
  CHECK(swim.members() == before);

  const auto mismatches = swim.take_settings_mismatches();
  REQUIRE(mismatches.size() == 2);
  CHECK((mismatches[0].address == address_of(2) && mismatches[0].theirs == "replicas=2"));
  CHECK_FALSE(mismatches[0].we_asked);
  CHECK(mismatches[1].we_asked);

  // Equal settings, or a push-pull without any (an older node), merge as before.
  theirs.settings = "replicas=3";
  REQUIRE(swim.handle_push_pull_reply(address_of(2), encode_push_pull(theirs), kStart).has_value());
  CHECK(swim.members().size() == before.size() + 2);
}

TEST_CASE("a push-pull of five fields (before settings) still decodes, with no settings") {
  const PushPull state{kProtocolVersion, "ringkv", id_of(1), false, alive_members(1, 2), "x"};
  std::string bytes = encode_push_pull(state);
  // The sixth field is the last one: a fixstr "x" (2 bytes); drop it and shrink the array.
  bytes.resize(bytes.size() - 2);
  REQUIRE(static_cast<uint8_t>(bytes[0]) == 0x96);
  bytes[0] = static_cast<char>(0x95);
  auto decoded = decode_push_pull(bytes, 1 << 20, 100);
  REQUIRE(decoded.has_value());
  CHECK(decoded->settings.empty());
  CHECK(decoded->members == state.members);
}

TEST_CASE("a member's rack travels in updates and push-pulls; records without one keep the old layout") {
  Member racked = member_of(3, 42);
  racked.rack = "rack-1.a:b_c";
  auto packet = decode_packet(datagram(1, Gossip{}, {Update{racked, id_of(4)}}), 1400);
  REQUIRE(packet.has_value());
  REQUIRE(packet->updates.size() == 1);
  CHECK(packet->updates[0].member.rack == "rack-1.a:b_c");
  std::vector<Member> members = alive_members(1, 3);
  members[1].rack = "r2";
  auto state = decode_push_pull(encode_push_pull(PushPull{kProtocolVersion, "ringkv", id_of(1), false, members}),
                                1 << 20, 100);
  REQUIRE(state.has_value());
  CHECK(state->members == members);
  // A record of the default rack is the 9-field update (8-field member) of builds before racks.
  const std::string plain = encode_update(Update{member_of(3, 42), id_of(4)});
  CHECK(static_cast<uint8_t>(plain[0]) == 0x99);
  CHECK(static_cast<uint8_t>(encode_update(Update{racked, id_of(4)})[0]) == 0x9a);
}

TEST_CASE("a rack name that is too long or has other characters is refused at decode") {
  for (const std::string& rack : {std::string(kRackBytesMax + 1, 'a'), std::string("rack 1"), std::string("r/1")}) {
    Member claim = member_of(3, 1ull << 32);
    claim.rack = rack;
    CHECK_FALSE(validate_member(claim).has_value());
    Swim swim = make_swim(1);
    CHECK_FALSE(swim.handle_datagram(address_of(9), forged({claim}), kStart).has_value());
    CHECK_FALSE(swim.member(id_of(3)).has_value());
  }
  Member fine = member_of(3, 1ull << 32);
  fine.rack = std::string(kRackBytesMax, 'z');
  CHECK(validate_member(fine).has_value());
}

TEST_CASE("a newer record that moves a known member to another rack is refused, counted and reported") {
  Swim swim = make_swim(1);
  std::vector<Member> members = alive_members(2, 3);
  members[1].rack = "east";
  teach(swim, 2, members, kStart);
  REQUIRE(swim.member(id_of(3))->rack == "east");
  Member moved = member_of(3, (1ull << 32) + 5);
  moved.rack = "west";
  CHECK(swim.handle_datagram(address_of(3), forged({moved}), kStart).has_value());
  CHECK(swim.member(id_of(3))->rack == "east");
  CHECK(swim.member(id_of(3))->incarnation == 1ull << 32);
  CHECK(swim.stats().claims_refused_rack == 1);
  const auto conflicts = swim.take_rack_conflicts();
  REQUIRE(conflicts.size() == 1);
  CHECK(conflicts[0].known.rack == "east");
  CHECK(conflicts[0].claimed_rack == "west");
  // The same rack at a newer incarnation is applied as usual.
  moved.rack = "east";
  CHECK(swim.handle_datagram(address_of(3), forged({moved}), kStart).has_value());
  CHECK(swim.member(id_of(3))->incarnation == (1ull << 32) + 5);
  CHECK(swim.stats().claims_refused_rack == 1);
}

}  // namespace ringkv::membership
