// Keyspace commands: SCAN, KEYS and DBSIZE over the whole cluster
// (node/core/scan_coordinator.h does the work; this is their RESP face).
//
// - SCAN cursor [MATCH pattern] [COUNT n] [TYPE type]: the cursor is a ring
//   position in decimal (a uint64, as go-redis parses it); "0" starts and a
//   reply cursor "0" means done. COUNT is a hint, capped at
//   wire::kScanCountMax. Every ringkv value is a string: TYPE string scans,
//   any other TYPE answers ["0", []] at once. Reply: [cursor, [key...]].
// - KEYS pattern: a whole-cluster scan in one command, refused with
//   "-ERR KEYS ... use SCAN" once more than kKeysReplyKeysMax keys or
//   kKeysReplyBytesMax bytes of keys match (nothing partial is returned).
// - DBSIZE: an estimate (scan_coordinator.h), not an exact count.
//
// Pure functions; the session (session.h) carries the requests and replies.
#pragma once

#include <cstddef>
#include <string>
#include <variant>

#include "node/resp/request_parser.h"
#include "node/wire/message.h"

namespace ringkv::resp {

inline constexpr size_t kKeysReplyKeysMax = 100'000;
inline constexpr size_t kKeysReplyBytesMax = 16u << 20;

// The ScanRequest for SCAN `args` (args[0] is "SCAN"), or the encoded reply
// that answers it at once (a syntax error, or the empty scan of TYPE other
// than string).
std::variant<wire::ScanRequest, std::string> parse_scan(const Command& args, wire::Consistency level);

// SCAN's reply: [cursor as a bulk string, [keys as bulk strings]].
std::string scan_reply(const wire::ScanReply& page);

// The error KEYS answers beyond its bound.
std::string keys_refusal();

}  // namespace ringkv::resp
