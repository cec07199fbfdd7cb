// Expiry commands: Redis 7's syntax, errors and NX|XX|GT|LT rules for
// EXPIRE and its kin, SET's time options and GETEX.
#include <doctest/doctest.h>

#include "node/resp/expiry_commands.h"

using namespace ringkv;
using namespace ringkv::resp;

namespace {

std::expected<ExpiryCommand, std::string> parse(Command args) {
  return parse_expiry_command(command_of(args[0]), args);
}

std::string error_of(Command args) {
  auto parsed = parse(std::move(args));
  REQUIRE_FALSE(parsed.has_value());
  return parsed.error();
}

std::string set_error_of(Command args) {
  auto parsed = parse_set_expiry(command_of(args[0]), args);
  REQUIRE_FALSE(parsed.has_value());
  return parsed.error();
}

}  // namespace

TEST_CASE("EXPIRE's family takes relative or absolute times in seconds or milliseconds, past ones too") {
  auto expire = *parse({"EXPIRE", "k", "30"});
  CHECK((expire.op == ExpiryOp::kExpire && expire.expiry.kind == NewExpiry::Kind::kRelative &&
         expire.expiry.ms == 30'000 && expire.conditions == 0));
  auto at = *parse({"expireat", "k", "2000000000"});
  CHECK((at.expiry.kind == NewExpiry::Kind::kAbsolute && at.expiry.ms == 2'000'000'000'000));
  auto pat = *parse({"PEXPIREAT", "k", "-5", "xx", "GT"});
  CHECK((pat.expiry.kind == NewExpiry::Kind::kAbsolute && pat.expiry.ms == -5 &&
         pat.conditions == (kOnlyWithExpiry | kOnlyIfGreater)));
  CHECK(parse({"PEXPIRE", "k", "-100"})->expiry.ms == -100);
}

TEST_CASE("EXPIRE's errors are Redis's, options checked before the time") {
  CHECK(error_of({"EXPIRE", "k"}) == "-ERR wrong number of arguments for 'expire' command\r\n");
  CHECK(error_of({"EXPIRE", "k", "ten"}) == "-ERR value is not an integer or out of range\r\n");
  CHECK(error_of({"EXPIRE", "k", "ten", "BOGUS"}) == "-ERR Unsupported option BOGUS\r\n");
  CHECK(error_of({"EXPIRE", "k", "1", "NX", "XX"}) ==
        "-ERR NX and XX, GT or LT options at the same time are not compatible\r\n");
  CHECK(error_of({"EXPIRE", "k", "1", "GT", "LT"}) ==
        "-ERR GT and LT options at the same time are not compatible\r\n");
  CHECK(error_of({"EXPIRE", "k", "9223372036854775807"}) ==
        "-ERR invalid expire time in 'expire' command\r\n");
  // Past what microseconds hold (the year 2262): Redis would take it, ringkv cannot.
  CHECK(error_of({"PEXPIREAT", "k", "9300000000000"}) ==
        "-ERR invalid expire time in 'pexpireat' command\r\n");
  CHECK(error_of({"TTL", "k", "extra"}) == "-ERR wrong number of arguments for 'ttl' command\r\n");
}

TEST_CASE("NX, XX, GT and LT follow Redis 7: a key without expiry counts as expiring never") {
  const CurrentExpiry none{};
  const CurrentExpiry in_10s{10'000, 1'000'000'000'000'000};
  auto allowed = [](Command args, const CurrentExpiry& current) { return allows(*parse(std::move(args)), current); };
  CHECK(allowed({"EXPIRE", "k", "5"}, in_10s));
  CHECK(allowed({"EXPIRE", "k", "5", "NX"}, none));
  CHECK_FALSE(allowed({"EXPIRE", "k", "5", "NX"}, in_10s));
  CHECK(allowed({"EXPIRE", "k", "5", "XX"}, in_10s));
  CHECK_FALSE(allowed({"EXPIRE", "k", "5", "XX"}, none));
  CHECK(allowed({"EXPIRE", "k", "20", "GT"}, in_10s));
  CHECK_FALSE(allowed({"EXPIRE", "k", "10", "GT"}, in_10s));  // equal is not greater
  CHECK_FALSE(allowed({"EXPIRE", "k", "20", "GT"}, none));
  CHECK(allowed({"PEXPIRE", "k", "9999", "LT"}, in_10s));
  CHECK_FALSE(allowed({"PEXPIRE", "k", "10000", "LT"}, in_10s));
  CHECK(allowed({"EXPIRE", "k", "20", "LT"}, none));
  // Absolute times compare with the instant, not with the time left.
  CHECK(allowed({"PEXPIREAT", "k", "1000000000001", "GT"}, in_10s));
  CHECK_FALSE(allowed({"PEXPIREAT", "k", "1000000000000", "GT"}, in_10s));
  CHECK(allowed({"EXPIREAT", "k", "999999999", "LT", "XX"}, in_10s));
}

TEST_CASE("applying an expiry to a put: relative, absolute, at once when past, or none") {
  wire::PutRequest put{"k", "v"};
  apply(NewExpiry{NewExpiry::Kind::kRelative, 1500}, put);
  CHECK((put.ttl_ms == 1500 && put.expire_at_ms == 0));
  apply(NewExpiry{NewExpiry::Kind::kAbsolute, 2'000'000'000'000}, put);
  CHECK((put.ttl_ms == 0 && put.expire_at_ms == 2'000'000'000'000));
  apply(NewExpiry{NewExpiry::Kind::kRelative, -3}, put);
  CHECK((put.ttl_ms == 0 && put.expire_at_ms == 1));
  apply(NewExpiry{NewExpiry::Kind::kAbsolute, 0}, put);
  CHECK((put.ttl_ms == 0 && put.expire_at_ms == 1));
  apply(NewExpiry{NewExpiry::Kind::kPersist}, put);
  CHECK((put.ttl_ms == 0 && put.expire_at_ms == 0));
}

TEST_CASE("SET's time options: one kind (repeated, the last wins), syntax before the time") {
  auto set = [](Command args) { return *parse_set_expiry(command_of(args[0]), args); };
  CHECK(set({"SET", "k", "v"}).kind == NewExpiry::Kind::kKeep);
  CHECK(set({"SET", "k", "v", "ex", "1", "EX", "2"}).ms == 2000);
  CHECK(set({"SET", "k", "v", "PXAT", "1700000000000"}).kind == NewExpiry::Kind::kAbsolute);
  CHECK(set({"PSETEX", "k", "70", "v"}).ms == 70);
  CHECK(set_error_of({"SET", "k", "v", "EX", "1", "PX", "2"}) == "-ERR syntax error\r\n");
  CHECK(set_error_of({"SET", "k", "v", "EX"}) == "-ERR syntax error\r\n");
  CHECK(set_error_of({"SET", "k", "v", "EX", "ten", "BOGUS"}) == "-ERR syntax error\r\n");
  CHECK(set_error_of({"SET", "k", "v", "EX", "ten"}) == "-ERR value is not an integer or out of range\r\n");
  CHECK(set_error_of({"SET", "k", "v", "PX", "0"}) == "-ERR invalid expire time in 'set' command\r\n");
  CHECK(set_error_of({"SETEX", "k", "-1", "v"}) == "-ERR invalid expire time in 'setex' command\r\n");
  CHECK(set_error_of({"SET", "k", "v", "KEEPTTL"}).starts_with("-ERR syntax error (ringkv's SET"));
}

TEST_CASE("GETEX: one option or none; a bad time is the answer only when the key exists") {
  CHECK(parse({"GETEX", "k"})->expiry.kind == NewExpiry::Kind::kKeep);
  CHECK(parse({"GETEX", "k", "persist"})->expiry.kind == NewExpiry::Kind::kPersist);
  auto ex = *parse({"GETEX", "k", "EX", "5"});
  CHECK((ex.op == ExpiryOp::kGetex && ex.expiry.kind == NewExpiry::Kind::kRelative && ex.expiry.ms == 5000 &&
         ex.error_if_found.empty()));
  CHECK(parse({"GETEX", "k", "EX", "0"})->error_if_found == "-ERR invalid expire time in 'getex' command\r\n");
  CHECK(parse({"GETEX", "k", "PX", "x"})->error_if_found == "-ERR value is not an integer or out of range\r\n");
  CHECK(error_of({"GETEX", "k", "PERSIST", "EX", "5"}) == "-ERR syntax error\r\n");
  CHECK(error_of({"GETEX", "k", "EX", "5", "PERSIST"}) == "-ERR syntax error\r\n");
  CHECK(error_of({"GETEX", "k", "NX"}) == "-ERR syntax error\r\n");
  CHECK(error_of({"GETEX"}) == "-ERR wrong number of arguments for 'getex' command\r\n");
}
