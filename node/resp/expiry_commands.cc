#include "node/resp/expiry_commands.h"

#include <cassert>
#include <charconv>
#include <cstdint>
#include <optional>

#include "node/resp/reply_encoder.h"

namespace ringkv::resp {
namespace {

constexpr int64_t kMsPerSecond = 1000;
// Beyond this many milliseconds (from now or from the epoch) an instant
// overflows microseconds: about the year 2262.
constexpr int64_t kMsMax = INT64_MAX / 1000 / 1000;

constexpr std::string_view kNotInteger = "ERR value is not an integer or out of range";
constexpr std::string_view kSyntax = "ERR syntax error";
constexpr std::string_view kSetUnsupported =
    "ERR syntax error (ringkv's SET takes one of EX, PX, EXAT, PXAT; NX, XX, GET and KEEPTTL are not "
    "supported)";

// A decimal integer (optionally negative), as Redis reads one.
bool parse_integer(std::string_view text, int64_t& out) {
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), out);
  return error == std::errc{} && end == text.data() + text.size() && !text.empty();
}

std::string invalid_expire(std::string_view command) {
  return encoded_error("ERR invalid expire time in '" + lower_case(command) + "' command");
}

// The time of SET's EX/PX/EXAT/PXAT, SETEX, PSETEX and GETEX: an integer
// above 0 (Redis's getExpireMillisecondsOrReply).
std::expected<NewExpiry, std::string> positive_time(std::string_view command, std::string_view text,
                                                    bool seconds, bool absolute) {
  int64_t amount = 0;
  if (!parse_integer(text, amount)) return std::unexpected(encoded_error(kNotInteger));
  const int64_t unit = seconds ? kMsPerSecond : 1;
  if (amount <= 0 || amount > kMsMax / unit) return std::unexpected(invalid_expire(command));
  return NewExpiry{absolute ? NewExpiry::Kind::kAbsolute : NewExpiry::Kind::kRelative, amount * unit};
}

// SET's and GETEX's time options: EX, PX, EXAT, PXAT (nullopt: not one).
struct TimeOption {
  bool seconds = false;
  bool absolute = false;
  friend bool operator==(const TimeOption&, const TimeOption&) = default;
};
std::optional<TimeOption> time_option(std::string_view word) {
  if (equals_ignoring_case(word, "ex")) return TimeOption{true, false};
  if (equals_ignoring_case(word, "px")) return TimeOption{false, false};
  if (equals_ignoring_case(word, "exat")) return TimeOption{true, true};
  if (equals_ignoring_case(word, "pxat")) return TimeOption{false, true};
  return std::nullopt;
}

// Reads SET's (from args[3]) or GETEX's (from args[2]) time option, as
// Redis's parseExtendedStringArgumentsOrReply does: one kind of option (the
// same one again replaces the time), PERSIST for GETEX only. Returns false
// on a word it does not take; `refused` names it.
struct TimeOptions {
  std::optional<TimeOption> option;
  const std::string_view* time = nullptr;
  bool persist = false;
  const std::string_view* refused = nullptr;
};
TimeOptions time_options(const Command& args, size_t first, bool getex) {
  TimeOptions out;
  for (size_t i = first; i < args.size(); ++i) {
    const auto option = time_option(args[i]);
    if (option && !out.persist && (!out.option || out.option == option) && i + 1 < args.size()) {
      out.option = option;
      out.time = &args[++i];
    } else if (getex && !out.option && equals_ignoring_case(args[i], "persist")) {
      out.persist = true;
    } else {
      out.refused = &args[i];
      return out;
    }
  }
  return out;
}

// EXPIRE's [NX|XX|GT|LT] after its time (Redis's
// parseExtendedExpireArgumentsOrReply, same errors in the same order).
std::expected<uint8_t, std::string> expire_conditions(const Command& args) {
  uint8_t bits = 0;
  for (size_t i = 3; i < args.size(); ++i) {
    const std::string_view word = args[i];
    if (equals_ignoring_case(word, "nx")) {
      bits |= kOnlyWithoutExpiry;
    } else if (equals_ignoring_case(word, "xx")) {
      bits |= kOnlyWithExpiry;
    } else if (equals_ignoring_case(word, "gt")) {
      bits |= kOnlyIfGreater;
    } else if (equals_ignoring_case(word, "lt")) {
      bits |= kOnlyIfLess;
    } else {
      return std::unexpected(encoded_error("ERR Unsupported option " + std::string(word)));
    }
  }
  if ((bits & kOnlyWithoutExpiry) && (bits & (kOnlyWithExpiry | kOnlyIfGreater | kOnlyIfLess))) {
    return std::unexpected(encoded_error("ERR NX and XX, GT or LT options at the same time are not compatible"));
  }
  if ((bits & kOnlyIfGreater) && (bits & kOnlyIfLess)) {
    return std::unexpected(encoded_error("ERR GT and LT options at the same time are not compatible"));
  }
  return bits;
}

std::expected<ExpiryCommand, std::string> parse_expire(CommandName name, const Command& args) {
  if (args.size() < 3) return std::unexpected(wrong_arity(args[0]));
  auto conditions = expire_conditions(args);
  if (!conditions) return std::unexpected(conditions.error());
  int64_t amount = 0;
  if (!parse_integer(args[2], amount)) return std::unexpected(encoded_error(kNotInteger));
  const bool seconds = name == CommandName::kExpire || name == CommandName::kExpireat;
  const bool absolute = name == CommandName::kExpireat || name == CommandName::kPexpireat;
  // Redis refuses what overflows milliseconds; ringkv also what overflows
  // microseconds. A time in the past is fine: the key expires at once.
  if (seconds && (amount > INT64_MAX / kMsPerSecond || amount < INT64_MIN / kMsPerSecond)) {
    return std::unexpected(invalid_expire(args[0]));
  }
  const int64_t ms = seconds ? amount * kMsPerSecond : amount;
  if (ms > kMsMax) return std::unexpected(invalid_expire(args[0]));
  return ExpiryCommand{ExpiryOp::kExpire,
                       NewExpiry{absolute ? NewExpiry::Kind::kAbsolute : NewExpiry::Kind::kRelative, ms},
                       *conditions};
}

// GETEX key [EX s | PX ms | EXAT unix-s | PXAT unix-ms | PERSIST].
std::expected<ExpiryCommand, std::string> parse_getex(const Command& args) {
  if (args.size() < 2) return std::unexpected(wrong_arity(args[0]));
  const TimeOptions options = time_options(args, 2, /*getex=*/true);
  if (options.refused != nullptr) return std::unexpected(encoded_error(kSyntax));
  ExpiryCommand command{ExpiryOp::kGetex};
  if (options.persist) command.expiry.kind = NewExpiry::Kind::kPersist;
  if (options.time != nullptr) {
    // Redis looks the key up before it reads the time: an absent key is nil
    // whatever the time says.
    auto expiry = positive_time(args[0], *options.time, options.option->seconds, options.option->absolute);
    if (expiry) command.expiry = *expiry;
    if (!expiry) command.error_if_found = expiry.error();
  }
  return command;
}

}  // namespace

std::expected<ExpiryCommand, std::string> parse_expiry_command(CommandName name, const Command& args) {
  switch (name) {
    case CommandName::kExpire:
    case CommandName::kPexpire:
    case CommandName::kExpireat:
    case CommandName::kPexpireat:
      return parse_expire(name, args);
    case CommandName::kGetex:
      return parse_getex(args);
    case CommandName::kTtl:
    case CommandName::kPttl:
    case CommandName::kPersist:
      if (args.size() != 2) return std::unexpected(wrong_arity(args[0]));
      return ExpiryCommand{name == CommandName::kTtl    ? ExpiryOp::kTtl
                           : name == CommandName::kPttl ? ExpiryOp::kPttl
                                                        : ExpiryOp::kPersist,
                           NewExpiry{name == CommandName::kPersist ? NewExpiry::Kind::kPersist
                                                                   : NewExpiry::Kind::kKeep}};
    default:
      assert(false && "parse_expiry_command takes the expiry commands only");
      return std::unexpected(encoded_error(kSyntax));
  }
}

std::expected<NewExpiry, std::string> parse_set_expiry(CommandName name, const Command& args) {
  if (name != CommandName::kSet) {  // SETEX key seconds value | PSETEX key ms value
    return positive_time(args[0], args[2], name == CommandName::kSetex, false);
  }
  // Syntax first, then the time, as Redis does.
  const TimeOptions options = time_options(args, 3, /*getex=*/false);
  if (const std::string_view* word = options.refused) {
    const bool redis_has_it = equals_ignoring_case(*word, "nx") || equals_ignoring_case(*word, "xx") ||
                              equals_ignoring_case(*word, "get") || equals_ignoring_case(*word, "keepttl");
    return std::unexpected(encoded_error(redis_has_it ? kSetUnsupported : kSyntax));
  }
  if (options.time == nullptr) return NewExpiry{};
  return positive_time(args[0], *options.time, options.option->seconds, options.option->absolute);
}

bool allows(const ExpiryCommand& command, const CurrentExpiry& current) {
  const bool has_expiry = current.ttl_ms != 0;
  const uint8_t bits = command.conditions;
  if ((bits & kOnlyWithoutExpiry) && has_expiry) return false;
  if ((bits & kOnlyWithExpiry) && !has_expiry) return false;
  if (!(bits & (kOnlyIfGreater | kOnlyIfLess))) return true;
  // Compared as Redis does, the new instant with the current one; a relative
  // time with the time left when the key was read.
  if (!has_expiry) return (bits & kOnlyIfLess) != 0;  // no expiry: infinitely far
  const bool relative = command.expiry.kind == NewExpiry::Kind::kRelative;
  const int64_t current_ms =
      relative ? static_cast<int64_t>(current.ttl_ms) : static_cast<int64_t>(current.expires_at_us / 1000);
  return (bits & kOnlyIfGreater) ? command.expiry.ms > current_ms : command.expiry.ms < current_ms;
}

void apply(const NewExpiry& expiry, wire::PutRequest& put) {
  assert(expiry.kind != NewExpiry::Kind::kKeep && "apply() needs a change");
  put.ttl_ms = 0;
  put.expire_at_ms = 0;
  if (expiry.kind == NewExpiry::Kind::kPersist) return;
  if (expiry.ms <= 0) {
    put.expire_at_ms = 1;  // long past: the key expires at once
  } else if (expiry.kind == NewExpiry::Kind::kRelative) {
    put.ttl_ms = static_cast<uint64_t>(expiry.ms);
  } else {
    put.expire_at_ms = static_cast<uint64_t>(expiry.ms);
  }
}

}  // namespace ringkv::resp
