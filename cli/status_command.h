// kv status: the cluster as one node sees it, like `nodetool status`.
//
// Asks the first reachable host for its member table, then asks every live
// member for its own storage figures (keys, bytes). Prints a table, or with
// --json {"node": NAME, "members": [{"name", "id", "address", "liveness",
// "ring_status", "incarnation", "vnodes", "rack", "keys", "bytes",
// "clock_offset_ms"}, ...]} ("rack": "" is the default rack; the table shows "-") where keys
// and bytes are null for a member that did not answer.
#pragma once

#include "cli/options.h"

namespace ringkv::cli {

int run_status(const GlobalOptions& options);

}  // namespace ringkv::cli
