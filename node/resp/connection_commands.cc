#include "node/resp/connection_commands.h"

#include <string_view>

#include "node/resp/command_name.h"
#include "node/resp/reply_encoder.h"

namespace ringkv::resp {
namespace {

// The Redis version ringkv answers as: the RESP2 command set client
// libraries expect from a Redis 6 server that has no RESP3.
constexpr std::string_view kCompatibleVersion = "6.0.0";
// Redis refuses names and library fields with these (they would break CLIENT LIST).
bool printable_without_spaces(std::string_view text) {
  for (const char c : text) {
    if (c <= ' ' || c > '~') return false;
  }
  return true;
}

std::string ok() {
  std::string out;
  append_simple_string(out, "OK");
  return out;
}

}  // namespace

std::string hello_reply(const Command& args, const ConnectionIdentity& identity) {
  if (args.size() >= 2 && args[1] != "2") {
    return encoded_error("NOPROTO sorry, this protocol version is not supported");
  }
  for (size_t i = 2; i < args.size(); ++i) {
    if (equals_ignoring_case(args[i], "auth")) {
      return encoded_error("ERR ringkv does not take credentials in HELLO: send AUTH [user] password");
    }
  }
  std::string out;
  append_array_header(out, 14);
  append_bulk_string(out, "server");
  append_bulk_string(out, "redis");
  append_bulk_string(out, "version");
  append_bulk_string(out, kCompatibleVersion);
  append_bulk_string(out, "proto");
  append_integer(out, 2);
  append_bulk_string(out, "id");
  append_integer(out, static_cast<int64_t>(identity.id));
  append_bulk_string(out, "mode");
  append_bulk_string(out, "standalone");
  append_bulk_string(out, "role");
  append_bulk_string(out, "master");
  append_bulk_string(out, "modules");
  append_array_header(out, 0);
  return out;
}

std::string client_reply(const Command& args, ConnectionIdentity& identity) {
  if (args.size() < 2) return wrong_arity("client");
  const std::string_view sub = args[1];
  std::string out;
  if (equals_ignoring_case(sub, "id")) {
    if (args.size() != 2) return wrong_arity("client|id");
    append_integer(out, static_cast<int64_t>(identity.id));
    return out;
  }
  if (equals_ignoring_case(sub, "getname")) {
    if (args.size() != 2) return wrong_arity("client|getname");
    if (identity.name.empty()) {
      append_null_bulk(out);
    } else {
      append_bulk_string(out, identity.name);
    }
    return out;
  }
  if (equals_ignoring_case(sub, "setname")) {
    if (args.size() != 3) return wrong_arity("client|setname");
    if (!printable_without_spaces(args[2])) {
      return encoded_error("ERR Client names cannot contain spaces, newlines or special characters.");
    }
    identity.name = args[2];
    return ok();
  }
  if (equals_ignoring_case(sub, "setinfo")) {
    if (args.size() != 4) return wrong_arity("client|setinfo");
    if (!printable_without_spaces(args[3])) {
      return encoded_error("ERR " + std::string(args[2].substr(0, 32)) + " cannot contain spaces, newlines or special characters.");
    }
    if (equals_ignoring_case(args[2], "lib-name")) {
      identity.lib_name = args[3];
    } else if (equals_ignoring_case(args[2], "lib-ver")) {
      identity.lib_version = args[3];
    } else {
      return encoded_error("ERR Unrecognized option '" + std::string(args[2].substr(0, 32)) + "'");
    }
    return ok();
  }
  if (equals_ignoring_case(sub, "info")) {
    if (args.size() != 2) return wrong_arity("client|info");
    append_bulk_string(out, "id=" + std::to_string(identity.id) + " name=" + identity.name +
                                " db=0 lib-name=" + identity.lib_name + " lib-ver=" + identity.lib_version + "\n");
    return out;
  }
  return encoded_error("ERR unknown subcommand '" + std::string(sub.substr(0, 32)) +
               "'. ringkv answers CLIENT ID, GETNAME, SETNAME, SETINFO and INFO.");
}

}  // namespace ringkv::resp
