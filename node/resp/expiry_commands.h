// Expiry commands: Redis's commands that set, change or report a key's expiry,
// parsed, and Redis 7's rules for when EXPIRE's options let a change happen.
//
// EXPIRE key seconds [NX|XX|GT|LT]       PEXPIRE key ms [...]
// EXPIREAT key unix-seconds [NX|XX|GT|LT] PEXPIREAT key unix-ms [...]
// TTL key   PTTL key   PERSIST key
// GETEX key [EX s | PX ms | EXAT unix-s | PXAT unix-ms | PERSIST]
// SET key value [EX s | PX ms | EXAT unix-s | PXAT unix-ms]; SETEX, PSETEX
//
// The session reads the key, asks allows() whether the change applies to
// what it found, writes the value again with apply()'s expiry, and answers.
// Replies and error texts are Redis 7's, word for word (the differential
// test tests/process/test_ttl_redis.py compares them with redis-server's).
// A time ringkv cannot hold in microseconds (beyond the year 2262) gets
// "-ERR invalid expire time in '<command>' command", where Redis would take
// it. Pure functions.
#pragma once

#include <cstdint>
#include <expected>
#include <string>
#include <string_view>

#include "node/resp/command_name.h"
#include "node/resp/request_parser.h"
#include "node/wire/message.h"

namespace ringkv::resp {

// The expiry a command gives a key (kKeep: it leaves the key alone, as
// GETEX without an option does).
struct NewExpiry {
  enum class Kind : uint8_t { kKeep, kRelative, kAbsolute, kPersist };
  Kind kind = Kind::kKeep;
  // kRelative: milliseconds from now; kAbsolute: Unix milliseconds. Either
  // may be in the past (EXPIRE's and EXPIREAT's): the key expires at once.
  int64_t ms = 0;
};

enum class ExpiryOp : uint8_t { kTtl, kPttl, kExpire, kPersist, kGetex };

// EXPIRE's options, as bits.
inline constexpr uint8_t kOnlyWithoutExpiry = 1;   // NX
inline constexpr uint8_t kOnlyWithExpiry = 2;      // XX
inline constexpr uint8_t kOnlyIfGreater = 4;       // GT (no expiry counts as infinite)
inline constexpr uint8_t kOnlyIfLess = 8;          // LT

struct ExpiryCommand {
  ExpiryOp op = ExpiryOp::kTtl;
  NewExpiry expiry;        // kExpire, kPersist, kGetex
  uint8_t conditions = 0;  // kExpire: the bits above
  // GETEX: the reply when the key exists (its time is invalid); Redis
  // answers an absent key nil before it reads the time.
  std::string error_if_found;
};

// What the read of the key found about its expiry.
struct CurrentExpiry {
  uint64_t ttl_ms = 0;         // left when it was read; 0: no expiry
  uint64_t expires_at_us = 0;  // the instant; 0: no expiry
};

// Parses EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT, TTL, PTTL, PERSIST and GETEX
// (`name` is command_of(args[0])); on error, the encoded RESP error reply.
std::expected<ExpiryCommand, std::string> parse_expiry_command(CommandName name, const Command& args);

// Parses SET's options after the value (args[3...]), SETEX's and PSETEX's
// time; on error, the encoded RESP error reply. SET's NX, XX, GET and
// KEEPTTL are refused with a "-ERR syntax error (...)" that names them.
std::expected<NewExpiry, std::string> parse_set_expiry(CommandName name, const Command& args);

// Whether EXPIRE's NX|XX|GT|LT let `command` change a key whose expiry is
// `current` (always, without options).
bool allows(const ExpiryCommand& command, const CurrentExpiry& current);

// Sets `put`'s ttl_ms and expire_at_ms to give the written value `expiry`.
// REQUIRES: expiry.kind != kKeep.
void apply(const NewExpiry& expiry, wire::PutRequest& put);

}  // namespace ringkv::resp
