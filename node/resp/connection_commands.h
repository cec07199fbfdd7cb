// Connection commands: what client libraries send when they connect (HELLO,
// CLIENT ...), answered from the connection's own state without asking the
// cluster.
//
// - HELLO [protover [AUTH user pass] [SETNAME name]]: ringkv speaks RESP2
//   only. `HELLO 3` (any version but 2) gets Redis 6's "-NOPROTO sorry, this
//   protocol version is not supported", which makes client libraries fall
//   back to RESP2 and a separate AUTH. `HELLO` or `HELLO 2` answers Redis's
//   server map as a flat RESP2 array (server, version, proto, id, mode,
//   role, modules); with AUTH it is refused with a pointer to AUTH.
// - CLIENT SETNAME name (no spaces or newlines, as Redis) | GETNAME | ID |
//   SETINFO LIB-NAME|LIB-VER value | INFO; anything else is an error.
//
// Pure: no I/O. Single-threaded (one per connection, inside Session).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "node/resp/request_parser.h"

namespace ringkv::resp {

struct ConnectionIdentity {
  uint64_t id = 0;  // CLIENT ID: unique per connection on this node
  std::string name;      // CLIENT SETNAME
  std::string lib_name;  // CLIENT SETINFO LIB-NAME
  std::string lib_version;
};

// The encoded reply to HELLO `args` (args[0] is "HELLO").
std::string hello_reply(const Command& args, const ConnectionIdentity& identity);

// The encoded reply to CLIENT `args` (args[0] is "CLIENT"); updates `identity`.
std::string client_reply(const Command& args, ConnectionIdentity& identity);

}  // namespace ringkv::resp
