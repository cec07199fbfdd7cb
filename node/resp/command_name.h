// The RESP commands ringkv knows, recognised by name in any case.
#pragma once

#include <string>
#include <string_view>

namespace ringkv::resp {

enum class CommandName {
  kUnknown,
  kPing,
  kEcho,
  kGet,
  kSet,
  kDel,
  kExists,
  kMget,
  kMset,
  kQuit,
  kInfo,
  kCommand,
  kConfig,
  kSelect,
  kAuth,
  kHello,
  kClient,
  kSetex,
  kPsetex,
  kExpire,
  kPexpire,
  kTtl,
  kPttl,
  kPersist,
  kExpireat,
  kPexpireat,
  kGetex,
  kScan,
  kKeys,
  kDbsize,
};

// kUnknown for anything not listed above.
CommandName command_of(std::string_view name);

// The number of commands command_of() recognises (COMMAND COUNT).
inline constexpr int kKnownCommandCount = 29;

// True when `text` equals `lower_case` ignoring ASCII case.
bool equals_ignoring_case(std::string_view text, std::string_view lower_case);
// `name` with ASCII letters lower-cased (how Redis names a command in its errors).
std::string lower_case(std::string_view name);

}  // namespace ringkv::resp
