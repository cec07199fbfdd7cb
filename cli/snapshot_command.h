// `kv snapshot [--tag NAME] | snapshot list | snapshot remove TAG`: point-in-time
// copies of one node's data (DESIGN.md "Command lines"), admin only. It acts
// on the node kv reaches (the first of --host that answers), as `nodetool
// snapshot` does: to snapshot a cluster, run it against every node (a loop
// over --host). A snapshot lives in that node's DATA/snapshots/TAG; restore
// it offline with `kvnode ... --restore-snapshot TAG` (README "Backups").
//
// Output, one line per snapshot: `TAG  TIME  BYTES` (TIME in UTC, ISO 8601),
// after a line naming the node for create and remove. --json prints
// {"node", "action": "create|list|remove", "snapshots": [{"tag", "time",
// "created_us", "bytes"}]}. Exit 0; 2 for bad arguments; 3 when the node
// refused (a tag that is not 1 to 64 of [A-Za-z0-9._-] starting with a letter
// or digit, a tag taken, no such snapshot; the reason on standard error) or
// failed; 4 when no host answered; 5 when the user is not an admin.
#pragma once

#include <string>

#include "cli/options.h"

namespace ringkv::cli {

// action: "create", "list" or "remove"; tag: create's --tag (may be empty)
// or remove's TAG.
int run_snapshot(const GlobalOptions& options, const std::string& action, const std::string& tag);

}  // namespace ringkv::cli
