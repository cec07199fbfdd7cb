// RESP limits: every bound the request parser checks before it allocates.
//
// Key and value bounds are the wire protocol's (node/wire/limits.h), so a
// RESP command never builds a request the coordinator would refuse. The
// per-argument bound depends on the command and the argument's position
// (argument_bytes_max): a GET's key may be 64 KiB, a SET's value 8 MiB.
#pragma once

#include <cstddef>
#include <string_view>

#include "node/resp/command_name.h"
#include "node/wire/limits.h"

namespace ringkv::resp {

struct Limits {
  size_t key_bytes_max = 64 * 1024;
  size_t value_bytes_max = 8 * 1024 * 1024;
  // Arguments per command, the command name included (MSET k1 v1 ... counts
  // every key and value).
  size_t arguments_max = 4096;
  // An inline command (telnet style) is one line of at most this many bytes.
  size_t inline_bytes_max = 64 * 1024;
  // Sum of one command's argument bytes (an MSET of many large values).
  size_t command_bytes_max = 32 * 1024 * 1024;

  // Empty when consistent; otherwise the reason.
  std::string_view validate() const;
};

// The RESP limits that match the wire protocol's key and value bounds.
Limits limits_from(const wire::Limits& wire_limits);

// The largest allowed size in bytes of argument `index` (0 is the command
// name) of a command called `name` (any case). Keys
// get key_bytes_max, values value_bytes_max, everything else (names,
// options, the arguments of unknown commands) key_bytes_max.
size_t argument_bytes_max(std::string_view name, size_t index, const Limits& limits);
// The same for a command already looked up (command_of).
size_t argument_bytes_max(CommandName name, size_t index, const Limits& limits);

}  // namespace ringkv::resp
