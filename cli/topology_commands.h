// kv decommission | removenode NODE | cleanup: topology changes (DESIGN.md
// "Join, leave, removal").
//
// decommission: the node named by --host (the first one that answers) leaves
//   the ring, streaming its ranges to their new owners and handing over its
//   hints; kv waits with a progress line on standard error until the node
//   reports `left` (exit 0) and prints a summary; --json {"node", "result":
//   "decommissioned", "keys_sent", "bytes_sent", "seconds"}.
// removenode NODE (a name or hex id): removes a dead node; kv waits until every
//   live member sees it gone and has pulled the ranges it gained; --json
//   {"node", "result": "removed", "keys_streamed", "bytes_streamed", "seconds"}.
// cleanup: drops the data of ranges the node no longer replicates.
// A refusal (another change in progress, a live node for removenode, too few
// nodes left for N...) prints the node's reason and exits 3; nothing changed.
#pragma once

#include <string>

#include "cli/options.h"

namespace ringkv::cli {

int run_decommission(const GlobalOptions& options);
int run_removenode(const GlobalOptions& options, const std::string& node);
int run_cleanup(const GlobalOptions& options);

}  // namespace ringkv::cli
