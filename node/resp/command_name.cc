#include "node/resp/command_name.h"

#include <array>
#include <utility>

namespace ringkv::resp {
namespace {

constexpr std::array<std::pair<std::string_view, CommandName>, kKnownCommandCount> kCommands{{
    {"get", CommandName::kGet},       {"set", CommandName::kSet},
    {"ping", CommandName::kPing},     {"echo", CommandName::kEcho},
    {"del", CommandName::kDel},       {"exists", CommandName::kExists},
    {"mget", CommandName::kMget},     {"mset", CommandName::kMset},
    {"quit", CommandName::kQuit},     {"info", CommandName::kInfo},
    {"command", CommandName::kCommand}, {"config", CommandName::kConfig},
    {"select", CommandName::kSelect}, {"auth", CommandName::kAuth},
    {"hello", CommandName::kHello},   {"client", CommandName::kClient},
    {"setex", CommandName::kSetex},   {"psetex", CommandName::kPsetex},
    {"expire", CommandName::kExpire}, {"pexpire", CommandName::kPexpire},
    {"ttl", CommandName::kTtl},       {"pttl", CommandName::kPttl},
    {"persist", CommandName::kPersist}, {"expireat", CommandName::kExpireat},
    {"pexpireat", CommandName::kPexpireat}, {"getex", CommandName::kGetex},
    {"scan", CommandName::kScan},     {"keys", CommandName::kKeys},
    {"dbsize", CommandName::kDbsize},
}};

}  // namespace

bool equals_ignoring_case(std::string_view text, std::string_view lower_case) {
  if (text.size() != lower_case.size()) return false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != lower_case[i]) return false;
  }
  return true;
}

std::string lower_case(std::string_view name) {
  std::string lower(name);
  for (char& c : lower) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  return lower;
}

CommandName command_of(std::string_view name) {
  if (name.size() > 9) return CommandName::kUnknown;  // the longest: pexpireat
  for (const auto& [known, command] : kCommands) {
    if (equals_ignoring_case(name, known)) return command;
  }
  return CommandName::kUnknown;
}

}  // namespace ringkv::resp
