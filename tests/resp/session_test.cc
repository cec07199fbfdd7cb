// Session: commands become wire requests, replies come back out of order
// and leave in command order.
#include <doctest/doctest.h>

#include <algorithm>
#include <random>

#include "node/resp/keyspace_commands.h"
#include "node/resp/reply_encoder.h"
#include "node/resp/session.h"

using namespace ringkv;
using namespace ringkv::resp;

namespace {

struct Harness {
  SessionConfig config;
  std::unique_ptr<Session> session;
  std::string taken;

  Harness() {
    config.server = ServerInfo{"n1", "127.0.0.1:7000", "127.0.0.1:6379", 42};
    session = std::make_unique<Session>(config);
  }

  void command(Command args) { session->handle_command(args, 5); }

  std::vector<wire::Message> requests() {
    std::vector<wire::Message> out;
    session->take_requests(out);
    return out;
  }

  // Every reply finished at the head since the last call (handle_reply
  // appends them to `taken`, take_ready the rest).
  std::string ready() {
    session->take_ready(taken);
    return std::exchange(taken, {});
  }

  void reply(uint64_t id, wire::Body body) {
    wire::Message message{id, std::move(body)};
    session->handle_reply(message, taken);
  }

  // A command that reads its key, then writes: answers the read with
  // `read`; returns the write that follows (its id and put).
  std::pair<uint64_t, wire::PutRequest> write_after(Command args, wire::GetReply read) {
    command(std::move(args));
    auto reads = requests();
    REQUIRE(reads.size() == 1);
    reply(reads[0].request_id, std::move(read));
    auto writes = requests();
    REQUIRE(writes.size() == 1);
    return {writes[0].request_id, std::get<wire::PutRequest>(writes[0].body)};
  }
};

wire::GetReply found(std::string value) { return wire::GetReply{true, std::move(value), 1, 1}; }

}  // namespace

TEST_CASE("commands answered without the coordinator reply at once") {
  Harness h;
  h.command({"PING"});
  h.command({"ping", "hi"});
  h.command({"ECHO", "x"});
  h.command({"SELECT", "0"});
  h.command({"FLUSHALL"});
  h.command({"get"});
  CHECK(h.requests().empty());
  CHECK(h.ready() ==
        "+PONG\r\n$2\r\nhi\r\n$1\r\nx\r\n+OK\r\n-ERR unknown command 'FLUSHALL'\r\n"
        "-ERR wrong number of arguments for 'get' command\r\n");
}

TEST_CASE("SET and GET become put and get requests at the session's consistency") {
  Harness h;
  h.config.consistency = wire::Consistency::kAll;
  h.command({"SET", "k", "v"});
  h.command({"GET", "k"});
  auto requests = h.requests();
  REQUIRE(requests.size() == 2);
  auto* put = std::get_if<wire::PutRequest>(&requests[0].body);
  REQUIRE(put != nullptr);
  CHECK(put->key == "k");
  CHECK(put->value == "v");
  CHECK(put->consistency == wire::Consistency::kAll);
  auto* get = std::get_if<wire::GetRequest>(&requests[1].body);
  REQUIRE(get != nullptr);
  CHECK(get->key == "k");
  CHECK(!get->local);
  CHECK(requests[0].request_id != requests[1].request_id);
}

TEST_CASE("replies arriving out of order leave in command order") {
  Harness h;
  h.command({"SET", "a", "1"});
  h.command({"GET", "a"});
  h.command({"PING"});
  h.command({"GET", "missing"});
  auto requests = h.requests();
  REQUIRE(requests.size() == 3);
  h.reply(requests[2].request_id, wire::GetReply{});
  h.reply(requests[1].request_id, found("1"));
  CHECK(h.ready().empty());  // the SET at the head is still open
  h.reply(requests[0].request_id, wire::WriteReply{7, 1});
  CHECK(h.ready() == "+OK\r\n$1\r\n1\r\n+PONG\r\n$-1\r\n");
  CHECK(h.session->commands_in_flight() == 0);
}

TEST_CASE("the reply that finishes the head goes straight out with every finished one behind it, round after round") {
  Harness h;
  for (int round = 0; round < 3; ++round) {  // the slots of a round are reused by the next
    CAPTURE(round);
    const int count = 40 + round;  // past the ring's first sizes, and around it
    for (int i = 0; i < count; ++i) {
      const std::string key = std::to_string(i);
      h.command({"GET", key});
    }
    auto requests = h.requests();
    REQUIRE(requests.size() == static_cast<size_t>(count));
    std::string expected;
    for (int i = count - 1; i >= 1; --i) {
      h.reply(requests[i].request_id, found(std::to_string(i)));
      CHECK(h.taken.empty());  // the head is still open: nothing may leave
    }
    h.reply(requests[0].request_id, wire::GetReply{});
    expected = "$-1\r\n";
    for (int i = 1; i < count; ++i) append_bulk_string(expected, std::to_string(i));
    CHECK(h.taken == expected);  // handle_reply wrote them out itself
    CHECK(h.ready() == expected);
    CHECK(h.session->commands_in_flight() == 0);
  }
}

TEST_CASE("MGET gathers every key's value in argument order") {
  Harness h;
  h.command({"MGET", "a", "b", "c"});
  auto requests = h.requests();
  REQUIRE(requests.size() == 3);
  h.reply(requests[2].request_id, found("3"));
  h.reply(requests[0].request_id, found("1"));
  CHECK(h.ready().empty());
  h.reply(requests[1].request_id, wire::GetReply{});
  CHECK(h.ready() == "*3\r\n$1\r\n1\r\n$-1\r\n$1\r\n3\r\n");
}

TEST_CASE("MSET answers OK once every write is acknowledged, or the first error") {
  Harness h;
  h.command({"MSET", "a", "1", "b", "2"});
  h.command({"MSET", "c", "3", "d", "4"});
  auto requests = h.requests();
  REQUIRE(requests.size() == 4);
  CHECK(std::get<wire::PutRequest>(requests[1].body).key == "b");
  CHECK(std::get<wire::PutRequest>(requests[1].body).value == "2");
  for (int i = 0; i < 3; ++i) h.reply(requests[i].request_id, wire::WriteReply{1, 1});
  h.reply(requests[3].request_id, wire::ErrorReply{wire::ErrorCode::kTimeout, "2 of 3 answered"});
  CHECK(h.ready() == "+OK\r\n-TIMEOUT 2 of 3 answered\r\n");
}

TEST_CASE("a request the node shed is answered -BUSY with the reason") {
  Harness h;
  h.command({"SET", "a", "1"});
  auto requests = h.requests();
  REQUIRE(requests.size() == 1);
  h.reply(requests[0].request_id, wire::ErrorReply{wire::ErrorCode::kBusy, "node overloaded"});
  CHECK(h.ready() == "-BUSY node overloaded\r\n");
}

TEST_CASE("DEL reads first, then deletes every key, and counts the keys found") {
  Harness h;
  h.command({"DEL", "a", "b"});
  auto reads = h.requests();
  REQUIRE(reads.size() == 2);
  CHECK(std::holds_alternative<wire::GetRequest>(reads[0].body));
  h.reply(reads[0].request_id, found("1"));
  CHECK(h.requests().empty());
  h.reply(reads[1].request_id, wire::GetReply{});
  auto deletes = h.requests();
  REQUIRE(deletes.size() == 2);
  CHECK(std::get<wire::DeleteRequest>(deletes[0].body).key == "a");
  CHECK(std::get<wire::DeleteRequest>(deletes[1].body).key == "b");
  CHECK(h.ready().empty());
  h.reply(deletes[1].request_id, wire::WriteReply{2, 1});
  h.reply(deletes[0].request_id, wire::WriteReply{2, 1});
  CHECK(h.ready() == ":1\r\n");
}

TEST_CASE("EXISTS counts the keys found, duplicates included") {
  Harness h;
  h.command({"EXISTS", "a", "a", "b"});
  auto requests = h.requests();
  REQUIRE(requests.size() == 3);
  h.reply(requests[0].request_id, found("x"));
  h.reply(requests[1].request_id, found("x"));
  h.reply(requests[2].request_id, wire::GetReply{});
  CHECK(h.ready() == ":2\r\n");
}

TEST_CASE("coordinator errors keep their name as the RESP error code") {
  Harness h;
  h.command({"GET", "a"});
  h.command({"GET", "b"});
  h.command({"GET", "c"});
  auto requests = h.requests();
  h.reply(requests[0].request_id, wire::ErrorReply{wire::ErrorCode::kUnavailable, "1 of 2 up"});
  h.reply(requests[1].request_id, wire::ErrorReply{wire::ErrorCode::kInternal, "disk full"});
  h.reply(requests[2].request_id, wire::ErrorReply{wire::ErrorCode::kInvalid, "key too long"});
  CHECK(h.ready() == "-UNAVAILABLE 1 of 2 up\r\n-ERR storage failure: disk full\r\n"
                     "-ERR INVALID: key too long\r\n");
}

TEST_CASE("SET EX/PX/EXAT/PXAT, SETEX and PSETEX become expiring puts; other options and bad times are refused") {
  Harness h;
  h.command({"SET", "a", "v", "EX", "10"});
  h.command({"set", "b", "v", "px", "1500"});
  h.command({"SET", "c", "v", "EXAT", "2000000000"});
  h.command({"SET", "d", "v", "PXAT", "2000000000123"});
  h.command({"SETEX", "e", "7", "v"});
  h.command({"PSETEX", "f", "70", "v"});
  auto requests = h.requests();
  REQUIRE(requests.size() == 6);
  auto put = [&](size_t i) { return std::get<wire::PutRequest>(requests[i].body); };
  CHECK((put(0).key == "a" && put(0).ttl_ms == 10000 && put(0).expire_at_ms == 0));
  CHECK((put(1).ttl_ms == 1500 && put(1).expire_at_ms == 0));
  CHECK((put(2).ttl_ms == 0 && put(2).expire_at_ms == 2000000000000));
  CHECK((put(3).ttl_ms == 0 && put(3).expire_at_ms == 2000000000123));
  CHECK((put(4).key == "e" && put(4).value == "v" && put(4).ttl_ms == 7000));
  CHECK((put(5).key == "f" && put(5).ttl_ms == 70));
  for (const auto& request : requests) h.reply(request.request_id, wire::WriteReply{1, 1});
  CHECK(h.ready() == "+OK\r\n+OK\r\n+OK\r\n+OK\r\n+OK\r\n+OK\r\n");

  h.command({"SET", "k", "v", "NX"});
  h.command({"SET", "k", "v", "EX", "0"});
  h.command({"SET", "k", "v", "EX", "ten"});
  h.command({"SETEX", "k", "-1", "v"});
  CHECK(h.requests().empty());
  const std::string refused = h.ready();
  CHECK(refused.find("-ERR syntax error") == 0);
  CHECK(refused.find("-ERR invalid expire time in 'set' command") != std::string::npos);
  CHECK(refused.find("-ERR invalid expire time in 'setex' command") != std::string::npos);
}

TEST_CASE("TTL and PTTL answer -2 for an absent key, -1 without expiry, else the time left") {
  Harness h;
  h.command({"TTL", "gone"});
  h.command({"TTL", "forever"});
  h.command({"TTL", "soon"});
  h.command({"PTTL", "soon"});
  auto requests = h.requests();
  REQUIRE(requests.size() == 4);
  h.reply(requests[0].request_id, wire::GetReply{});
  h.reply(requests[1].request_id, found("v"));
  wire::GetReply soon = found("v");
  soon.ttl_ms = 9600;
  h.reply(requests[2].request_id, soon);
  h.reply(requests[3].request_id, soon);
  CHECK(h.ready() == ":-2\r\n:-1\r\n:10\r\n:9600\r\n");
}

TEST_CASE("EXPIRE and PERSIST read the key, then write its value with the new expiry") {
  Harness h;
  h.command({"EXPIRE", "k", "30"});
  auto read = h.requests();
  REQUIRE(read.size() == 1);
  CHECK(std::get<wire::GetRequest>(read[0].body).key == "k");
  h.reply(read[0].request_id, found("v"));
  auto write = h.requests();
  REQUIRE(write.size() == 1);
  const auto put = std::get<wire::PutRequest>(write[0].body);
  CHECK((put.key == "k" && put.value == "v" && put.ttl_ms == 30000));
  CHECK(h.ready().empty());
  h.reply(write[0].request_id, wire::WriteReply{2, 1});
  CHECK(h.ready() == ":1\r\n");

  h.command({"PEXPIRE", "missing", "100"});  // absent: 0, nothing written
  h.reply(h.requests()[0].request_id, wire::GetReply{});
  CHECK(h.requests().empty());
  CHECK(h.ready() == ":0\r\n");

  h.command({"EXPIRE", "k", "0"});  // now: written as already expired
  h.reply(h.requests()[0].request_id, found("v"));
  write = h.requests();
  REQUIRE(write.size() == 1);
  CHECK(std::get<wire::PutRequest>(write[0].body).expire_at_ms == 1);
  h.reply(write[0].request_id, wire::WriteReply{3, 1});
  CHECK(h.ready() == ":1\r\n");

  h.command({"PERSIST", "k"});  // no expiry: 0, nothing written
  h.reply(h.requests()[0].request_id, found("v"));
  CHECK(h.requests().empty());
  CHECK(h.ready() == ":0\r\n");
  h.command({"PERSIST", "k"});
  wire::GetReply expiring = found("v");
  expiring.ttl_ms = 5000;
  h.reply(h.requests()[0].request_id, expiring);
  write = h.requests();
  REQUIRE(write.size() == 1);
  const auto persisted = std::get<wire::PutRequest>(write[0].body);
  CHECK((persisted.ttl_ms == 0 && persisted.expire_at_ms == 0 && persisted.value == "v"));
  h.reply(write[0].request_id, wire::WriteReply{4, 1});
  CHECK(h.ready() == ":1\r\n");
}

TEST_CASE("EXPIREAT writes an absolute expiry; a condition that fails answers 0 and writes nothing") {
  Harness h;
  wire::GetReply expiring = found("v");
  expiring.ttl_ms = 10'000;
  expiring.expires_at_us = 2'000'000'000'000'000;
  const auto [id, put] = h.write_after({"EXPIREAT", "k", "2000000005"}, expiring);
  CHECK(put.expire_at_ms == 2'000'000'005'000);
  h.reply(id, wire::WriteReply{2, 1});
  CHECK(h.ready() == ":1\r\n");

  h.command({"PEXPIREAT", "k", "1999999999999", "GT"});  // earlier than the current instant
  h.reply(h.requests()[0].request_id, expiring);
  CHECK(h.requests().empty());
  h.command({"EXPIRE", "k", "5", "NX"});  // it has an expiry
  h.reply(h.requests()[0].request_id, expiring);
  CHECK(h.requests().empty());
  CHECK(h.ready() == ":0\r\n:0\r\n");
}

TEST_CASE("GETEX answers the value; with an option it writes the value again with the new expiry first") {
  Harness h;
  h.command({"GETEX", "k"});
  h.reply(h.requests()[0].request_id, found("v"));
  CHECK(h.requests().empty());
  CHECK(h.ready() == "$1\r\nv\r\n");

  const auto [id, put] = h.write_after({"GETEX", "k", "PX", "2500"}, found("v"));
  CHECK((put.key == "k" && put.value == "v" && put.ttl_ms == 2500));
  CHECK(h.ready().empty());
  h.reply(id, wire::WriteReply{2, 1});
  CHECK(h.ready() == "$1\r\nv\r\n");

  h.command({"GETEX", "missing", "EX", "0"});  // absent: nil, whatever the time
  h.reply(h.requests()[0].request_id, wire::GetReply{});
  h.command({"GETEX", "k", "EX", "0"});
  h.reply(h.requests()[0].request_id, found("v"));
  h.command({"GETEX", "k", "PERSIST"});  // no expiry to remove: nothing written
  h.reply(h.requests()[0].request_id, found("v"));
  CHECK(h.requests().empty());
  CHECK(h.ready() == "$-1\r\n-ERR invalid expire time in 'getex' command\r\n$1\r\nv\r\n");
}

TEST_CASE("random expiry commands and coordinator answers: every command gets exactly one reply, in order") {
  const std::vector<std::string> names{"EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT", "TTL", "PTTL", "PERSIST",
                                       "GETEX", "SET", "SETEX", "PSETEX"};
  const std::vector<std::string> words{"k", "v", "0", "1", "-1", "5000", "1700000000", "9223372036854775807",
                                       "-9223372036854775808", "ten", "EX", "px", "EXAT", "PXAT", "PERSIST",
                                       "NX", "xx", "GT", "LT", "KEEPTTL", ""};
  for (uint64_t seed = 1; seed <= 300; ++seed) {
    CAPTURE(seed);
    std::mt19937_64 rng(seed);
    Harness h;
    const size_t count = 1 + rng() % 12;
    for (size_t i = 0; i < count; ++i) {
      Command command{names[rng() % names.size()]};
      for (size_t a = rng() % 6; a > 0; --a) command.push_back(words[rng() % words.size()]);
      h.command(std::move(command));
    }
    std::string replies;
    for (int rounds = 0; rounds < 4; ++rounds) {  // a read, then at most one write each
      for (const auto& request : h.requests()) {
        wire::GetReply read = rng() % 3 ? found("v") : wire::GetReply{};
        if (read.found && rng() % 2) {
          read.ttl_ms = 1 + rng() % 100'000;
          read.expires_at_us = 1'700'000'000'000'000 + read.ttl_ms * 1000;
        }
        const bool is_read = std::holds_alternative<wire::GetRequest>(request.body);
        if (rng() % 10 == 0) {
          h.reply(request.request_id, wire::ErrorReply{wire::ErrorCode::kTimeout, "slow"});
        } else if (is_read) {
          h.reply(request.request_id, read);
        } else {
          h.reply(request.request_id, wire::WriteReply{1, 1});
        }
      }
      replies += h.ready();
    }
    CHECK(h.requests().empty());
    CHECK(h.session->commands_in_flight() == 0);
    // One RESP value per command: a line (+ - :), a nil, or a bulk string.
    size_t values = 0;
    for (size_t at = 0; at < replies.size(); ++values) {
      const size_t end = replies.find("\r\n", at);
      REQUIRE(end != std::string::npos);
      if (replies[at] == '$' && replies[at + 1] != '-') {
        at = end + 2 + std::stoul(replies.substr(at + 1, end - at - 1)) + 2;
      } else {
        at = end + 2;
      }
    }
    CHECK(values == count);
  }
}

TEST_CASE("QUIT answers OK after earlier replies, then the session is finished") {
  Harness h;
  h.command({"GET", "a"});
  h.command({"QUIT"});
  CHECK(!h.session->accepting());
  auto requests = h.requests();
  CHECK(h.ready().empty());
  CHECK(!h.session->finished());
  h.reply(requests[0].request_id, found("1"));
  CHECK(h.ready() == "$1\r\n1\r\n+OK\r\n");
  CHECK(h.session->finished());
}

TEST_CASE("a protocol error goes out after the replies before it") {
  Harness h;
  h.command({"GET", "a"});
  h.session->fail_protocol("bad thing");
  auto requests = h.requests();
  h.reply(requests[0].request_id, wire::GetReply{});
  CHECK(h.ready() == "$-1\r\n-ERR Protocol error: bad thing\r\n");
  CHECK(h.session->finished());
}

TEST_CASE("replies that match no waiting request are ignored") {
  Harness h;
  h.command({"GET", "a"});
  auto requests = h.requests();
  h.reply(requests[0].request_id + 1, found("bogus"));
  h.reply(uint64_t{999} << 20, found("bogus"));
  h.reply(0, found("bogus"));
  CHECK(h.ready().empty());
  h.reply(requests[0].request_id, found("1"));
  h.reply(requests[0].request_id, found("again"));
  CHECK(h.ready() == "$1\r\n1\r\n");
}

TEST_CASE("the session has room for a bounded number of commands") {
  Harness h;
  h.config.commands_in_flight_max = 3;
  for (int i = 0; i < 3; ++i) h.command({"GET", "k"});
  CHECK(!h.session->has_room());
  auto requests = h.requests();
  h.reply(requests[0].request_id, found("1"));
  h.ready();
  CHECK(h.session->has_room());
}

TEST_CASE("COMMAND and CONFIG GET answer what redis-cli and redis-benchmark ask") {
  Harness h;
  h.command({"COMMAND", "DOCS"});
  h.command({"command", "count"});
  h.command({"COMMAND"});
  h.command({"CONFIG", "GET", "save"});
  h.command({"CONFIG", "GET", "appendonly"});
  h.command({"CONFIG", "GET", "maxmemory"});
  h.command({"CONFIG", "SET", "save", ""});
  CHECK(h.ready() == "*0\r\n:29\r\n*0\r\n*2\r\n$4\r\nsave\r\n$0\r\n\r\n"
                     "*2\r\n$10\r\nappendonly\r\n$3\r\nyes\r\n*0\r\n-ERR ringkv answers CONFIG GET only\r\n");
}

TEST_CASE("INFO renders server, cluster, keyspace and stats from the core's replies") {
  Harness h;
  h.command({"INFO"});
  h.command({"INFO", "keyspace"});
  h.command({"INFO", "nonsense"});
  auto requests = h.requests();
  REQUIRE(requests.size() == 4);
  CHECK(std::holds_alternative<wire::StatusRequest>(requests[0].body));
  CHECK(std::holds_alternative<wire::StatsRequest>(requests[1].body));
  wire::StatusReply status;
  status.node_name = "n1";
  status.keys = 12;
  status.members.push_back(wire::MemberStatus{"n1", std::string(16, '\x01'), "127.0.0.1:7000", "alive", "normal", 3, 16});
  wire::StatsReply stats;
  stats.values.emplace_back("hints_stored:n2", 4);
  for (auto& request : requests) {
    if (std::holds_alternative<wire::StatusRequest>(request.body)) h.reply(request.request_id, status);
    else h.reply(request.request_id, stats);
  }
  const std::string out = h.ready();
  CHECK(out.find("redis_version:7.0.0\r\n") != std::string::npos);
  CHECK(out.find("tcp_port:6379\r\n") != std::string::npos);
  CHECK(out.find("uptime_in_seconds:5\r\n") != std::string::npos);
  CHECK(out.find("member0:name=n1,id=01010101010101010101010101010101,address=127.0.0.1:7000,"
                 "liveness=alive,ring=normal,incarnation=3,vnodes=16\r\n") != std::string::npos);
  CHECK(out.find("db0:keys=12,expires=0,avg_ttl=0") != std::string::npos);
  CHECK(out.find("hints_stored_n2:4\r\n") != std::string::npos);
  // The keyspace-only reply holds one section; an unknown section is empty.
  const size_t second = out.find("$", 1);
  CHECK(out.substr(second).find("# Server") == std::string::npos);
  CHECK(out.substr(second).find("# Keyspace") != std::string::npos);
  CHECK(out.ends_with("$0\r\n\r\n"));
}

namespace {

struct AuthHarness : Harness {
  AuthHarness() {
    config.users_required = true;
    session = std::make_unique<Session>(config);
  }
};

}  // namespace

TEST_CASE("with users, every command but AUTH and QUIT gets Redis's NOAUTH until AUTH succeeds") {
  AuthHarness h;
  h.command({"PING"});
  h.command({"GET", "k"});
  CHECK(h.requests().empty());
  CHECK(h.ready() == "-NOAUTH Authentication required.\r\n-NOAUTH Authentication required.\r\n");
  h.command({"AUTH", "alice", "pw"});
  h.command({"PING"});  // pipelined: waits for the AUTH's outcome
  h.command({"GET", "k"});
  auto requests = h.requests();
  REQUIRE(requests.size() == 1);
  auto auth = std::get<wire::AuthRequest>(requests[0].body);
  CHECK((auth.user == "alice" && auth.password == "pw"));
  CHECK(h.ready().empty());
  h.reply(requests[0].request_id, wire::AuthReply{"readwrite"});
  auto after = h.requests();
  REQUIRE(after.size() == 1);
  CHECK(std::holds_alternative<wire::GetRequest>(after[0].body));
  h.reply(after[0].request_id, wire::GetReply{});
  CHECK(h.ready() == "+OK\r\n+PONG\r\n$-1\r\n");
}

TEST_CASE("AUTH with one argument is the default user; wrong credentials get Redis's WRONGPASS") {
  AuthHarness h;
  h.command({"AUTH", "secret"});
  auto requests = h.requests();
  REQUIRE(requests.size() == 1);
  CHECK(std::get<wire::AuthRequest>(requests[0].body).user == "default");
  h.reply(requests[0].request_id,
          wire::ErrorReply{wire::ErrorCode::kNotAuthenticated, "invalid username-password pair or user is disabled."});
  CHECK(h.ready() == "-WRONGPASS invalid username-password pair or user is disabled.\r\n");
  h.command({"GET", "k"});
  CHECK(h.ready() == "-NOAUTH Authentication required.\r\n");
  h.command({"AUTH"});
  h.command({"AUTH", "a", "b", "c"});
  CHECK(h.ready() == "-ERR wrong number of arguments for 'auth' command\r\n-ERR syntax error\r\n");
}

TEST_CASE("a read user's writes get Redis's NOPERM; its reads go through") {
  AuthHarness h;
  h.command({"AUTH", "reader", "pw"});
  h.reply(h.requests()[0].request_id, wire::AuthReply{"read"});
  h.command({"SET", "k", "v"});
  h.command({"del", "k"});
  h.command({"GET", "k"});
  auto requests = h.requests();
  REQUIRE(requests.size() == 1);
  CHECK(std::holds_alternative<wire::GetRequest>(requests[0].body));
  h.reply(requests[0].request_id, wire::GetReply{});
  CHECK(h.ready() ==
        "+OK\r\n-NOPERM this user has no permissions to run the 'set' command\r\n"
        "-NOPERM this user has no permissions to run the 'del' command\r\n$-1\r\n");
}

TEST_CASE("AUTH with a password alone and no users configured gets Redis's error") {
  Harness h;
  h.command({"AUTH", "secret"});
  CHECK(h.requests().empty());
  CHECK(h.ready() ==
        "-ERR AUTH <password> called without any password configured for the default user. Are you sure your "
        "configuration is correct?\r\n");
  h.command({"GET", "k"});
  CHECK(h.requests().size() == 1);  // no users: no credentials needed
}

TEST_CASE("a refusal from the node becomes NOAUTH or NOPERM") {
  CHECK(error_text(wire::ErrorReply{wire::ErrorCode::kNotAuthenticated, "x"}) == "NOAUTH Authentication required.");
  CHECK(error_text(wire::ErrorReply{wire::ErrorCode::kForbidden, "user r may not put"}) == "NOPERM user r may not put");
}

TEST_CASE("commands pipelined behind a failed AUTH run unauthenticated, behind a second AUTH they wait again") {
  AuthHarness h;
  h.command({"AUTH", "alice", "wrong"});
  h.command({"GET", "k"});
  h.command({"AUTH", "alice", "pw"});
  h.command({"GET", "k"});
  auto first = h.requests();
  REQUIRE(first.size() == 1);
  h.reply(first[0].request_id,
          wire::ErrorReply{wire::ErrorCode::kNotAuthenticated, "invalid username-password pair or user is disabled."});
  auto second = h.requests();  // the second AUTH only: the GET behind it waits
  REQUIRE(second.size() == 1);
  CHECK(std::holds_alternative<wire::AuthRequest>(second[0].body));
  h.reply(second[0].request_id, wire::AuthReply{"read"});
  auto third = h.requests();
  REQUIRE(third.size() == 1);
  h.reply(third[0].request_id, wire::GetReply{true, "v", 1, 1});
  CHECK(h.ready() ==
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n-NOAUTH Authentication required.\r\n"
        "+OK\r\n$1\r\nv\r\n");
}

TEST_CASE("HELLO 3 gets Redis's NOPROTO so client libraries fall back to RESP2; HELLO 2 answers the server map") {
  SessionConfig config;
  Session session(config, 7);
  Command hello3{"HELLO", "3"};
  Command hello3_auth{"hello", "3", "AUTH", "alice", "pw"};
  Command hello2{"HELLO", "2"};
  Command hello2_auth{"HELLO", "2", "AUTH", "alice", "pw"};
  for (Command* c : {&hello3, &hello3_auth, &hello2, &hello2_auth}) session.handle_command(*c, 0);
  std::string out;
  session.take_ready(out);
  const std::string noproto = "-NOPROTO sorry, this protocol version is not supported\r\n";
  const std::string map =
      "*14\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$5\r\n6.0.0\r\n$5\r\nproto\r\n:2\r\n"
      "$2\r\nid\r\n:7\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n"
      "$7\r\nmodules\r\n*0\r\n";
  CHECK(out == noproto + noproto + map +
                   "-ERR ringkv does not take credentials in HELLO: send AUTH [user] password\r\n");
}

TEST_CASE("CLIENT SETNAME, GETNAME, SETINFO and ID answer as Redis; bad names and subcommands are refused") {
  SessionConfig config;
  Session session(config, 42);
  std::vector<Command> commands{
      {"CLIENT", "GETNAME"},          {"CLIENT", "SETNAME", "worker-1"}, {"client", "getname"},
      {"CLIENT", "SETNAME", "two words"}, {"CLIENT", "ID"},              {"CLIENT", "SETINFO", "LIB-NAME", "redis-py"},
      {"CLIENT", "SETINFO", "lib-ver", "5.0.1"}, {"CLIENT", "SETINFO", "color", "red"}, {"CLIENT", "KILL", "x"},
      {"CLIENT"}};
  for (Command& c : commands) session.handle_command(c, 0);
  std::string out;
  session.take_ready(out);
  CHECK(out ==
        "$-1\r\n+OK\r\n$8\r\nworker-1\r\n"
        "-ERR Client names cannot contain spaces, newlines or special characters.\r\n"
        ":42\r\n+OK\r\n+OK\r\n-ERR Unrecognized option 'color'\r\n"
        "-ERR unknown subcommand 'KILL'. ringkv answers CLIENT ID, GETNAME, SETNAME, SETINFO and INFO.\r\n"
        "-ERR wrong number of arguments for 'client' command\r\n");
}

TEST_CASE("with users, HELLO is answered before AUTH but CLIENT needs it") {
  SessionConfig config;
  config.users_required = true;
  Session session(config, 1);
  Command hello{"HELLO", "3"};
  Command client{"CLIENT", "SETNAME", "x"};
  session.handle_command(hello, 0);
  session.handle_command(client, 0);
  std::string out;
  session.take_ready(out);
  CHECK(out == "-NOPROTO sorry, this protocol version is not supported\r\n-NOAUTH Authentication required.\r\n");
}

TEST_CASE("SCAN becomes a scan request and answers [cursor, keys] as Redis does") {
  Harness h;
  h.command({"SCAN", "18446744073709551615", "MATCH", "user:*", "COUNT", "5000"});
  auto requests = h.requests();
  REQUIRE(requests.size() == 1);
  const auto& scan = std::get<wire::ScanRequest>(requests[0].body);
  CHECK(scan.cursor == UINT64_MAX);
  CHECK(scan.pattern == "user:*");
  CHECK(scan.count == wire::kScanCountMax);  // COUNT is a hint, capped
  h.reply(requests[0].request_id, wire::ScanReply{42, {"a", std::string("b\0", 2)}});
  CHECK(h.ready() == std::string("*2\r\n$2\r\n42\r\n*2\r\n$1\r\na\r\n$2\r\nb\0\r\n", 31));

  h.command({"scan", "0", "TYPE", "hash"});  // every value is a string
  h.command({"SCAN", "-1"});
  h.command({"SCAN", "0", "COUNT", "0"});
  h.command({"SCAN", "0", "COUNT", "x"});
  h.command({"SCAN", "0", "NOPE", "1"});
  h.command({"SCAN", "0", "MATCH"});
  CHECK(h.requests().empty());
  CHECK(h.ready() ==
        "*2\r\n$1\r\n0\r\n*0\r\n-ERR invalid cursor\r\n-ERR syntax error\r\n"
        "-ERR value is not an integer or out of range\r\n-ERR syntax error\r\n"
        "-ERR wrong number of arguments for 'scan' command\r\n");
}

TEST_CASE("KEYS pages through the whole scan and answers every key at once") {
  Harness h;
  h.command({"KEYS", "*"});
  auto first = h.requests();
  REQUIRE(first.size() == 1);
  CHECK(std::get<wire::ScanRequest>(first[0].body).pattern.empty());
  h.reply(first[0].request_id, wire::ScanReply{100, {"a", "b"}});
  CHECK(h.ready().empty());
  auto second = h.requests();
  REQUIRE(second.size() == 1);
  CHECK(std::get<wire::ScanRequest>(second[0].body).cursor == 100);
  h.reply(second[0].request_id, wire::ScanReply{0, {"c"}});
  CHECK(h.ready() == "*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n");
}

TEST_CASE("KEYS beyond its bound is refused, naming SCAN; an error of a page is the answer") {
  Harness h;
  h.command({"KEYS", "k*"});
  auto request = h.requests();
  std::vector<std::string> many(kKeysReplyKeysMax + 1, "k");
  h.reply(request[0].request_id, wire::ScanReply{5, many});
  CHECK(h.requests().empty());  // no further page
  CHECK(h.ready() == "-" + keys_refusal() + "\r\n");

  h.command({"KEYS", "k*"});
  request = h.requests();
  h.reply(request[0].request_id, wire::ErrorReply{wire::ErrorCode::kUnavailable, "scan needs 2 replicas"});
  CHECK(h.ready() == "-UNAVAILABLE scan needs 2 replicas\r\n");
}

TEST_CASE("DBSIZE answers the cluster's estimate as an integer") {
  Harness h;
  h.command({"DBSIZE"});
  auto requests = h.requests();
  REQUIRE(requests.size() == 1);
  CHECK(std::holds_alternative<wire::DbSizeRequest>(requests[0].body));
  h.reply(requests[0].request_id, wire::DbSizeReply{1234, 3, 3});
  CHECK(h.ready() == ":1234\r\n");
}
