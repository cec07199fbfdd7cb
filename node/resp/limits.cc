#include "node/resp/limits.h"

#include <algorithm>


namespace ringkv::resp {

std::string_view Limits::validate() const {
  if (arguments_max < 3) return "arguments_max must allow at least SET key value";
  if (arguments_max >= (size_t{1} << 19)) return "arguments_max must stay under 2^19";
  if (key_bytes_max == 0 || value_bytes_max == 0) return "key and value bounds must be positive";
  if (inline_bytes_max < 16) return "inline_bytes_max is too small for any command";
  if (command_bytes_max < value_bytes_max + key_bytes_max) {
    return "command_bytes_max must hold one maximal key and value";
  }
  return {};
}

Limits limits_from(const wire::Limits& wire_limits) {
  Limits limits;
  limits.key_bytes_max = wire_limits.key_bytes_max;
  limits.value_bytes_max = wire_limits.value_bytes_max;
  limits.command_bytes_max = std::max(limits.command_bytes_max,
                                      wire_limits.value_bytes_max + wire_limits.key_bytes_max);
  return limits;
}

size_t argument_bytes_max(std::string_view name, size_t index, const Limits& limits) {
  return argument_bytes_max(index == 0 ? CommandName::kUnknown : command_of(name), index, limits);
}

size_t argument_bytes_max(CommandName name, size_t index, const Limits& limits) {
  if (index == 0) return limits.key_bytes_max;
  switch (name) {
    case CommandName::kSet:
      return index == 2 ? limits.value_bytes_max : limits.key_bytes_max;
    case CommandName::kMset:
      return index % 2 == 0 ? limits.value_bytes_max : limits.key_bytes_max;
    case CommandName::kSetex:
    case CommandName::kPsetex:
      return index == 3 ? limits.value_bytes_max : limits.key_bytes_max;
    case CommandName::kEcho:
    case CommandName::kPing:
      return limits.value_bytes_max;
    default:
      return limits.key_bytes_max;
  }
}

}  // namespace ringkv::resp
