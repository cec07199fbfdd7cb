// Options shared by every kv command, and the exit codes of DESIGN.md.
#pragma once

#include <string>
#include <vector>

#include "node/wire/message.h"

namespace ringkv::cli {

enum ExitCode : int {
  kExitOk = 0,
  kExitNotFound = 1,      // get: key absent
  kExitUsage = 2,         // bad flags or arguments
  kExitClusterError = 3,  // UNAVAILABLE, TIMEOUT, INVALID...: reason on stderr
  kExitUnreachable = 4,   // no host could be reached
  kExitNotAllowed = 5,    // not authenticated, or the user's role may not: reason on stderr
};

// The exit code for a node's error reply.
inline int exit_code_for(const wire::ErrorReply& error) {
  const bool refused = error.code == wire::ErrorCode::kNotAuthenticated || error.code == wire::ErrorCode::kForbidden;
  return refused ? kExitNotAllowed : kExitClusterError;
}

// Who the connection authenticates as (kv --user, --password-file); an
// empty user sends no credentials.
struct Credentials {
  std::string user;
  std::string password;
};

struct GlobalOptions {
  std::vector<std::string> hosts{"127.0.0.1:7000"};
  wire::Consistency consistency = wire::Consistency::kQuorum;
  int timeout_ms = 5000;
  bool json = false;
  Credentials credentials;
};

}  // namespace ringkv::cli
