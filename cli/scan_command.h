// kv scan [--prefix P] [--limit N]: every live key of the cluster, paging
// with the scan cursor (node/core/scan_coordinator.h) through whichever
// host answers; a page may come from another node than the one before.
// Prints one key per line, its raw bytes as `get` prints values (a key
// holding a newline is ambiguous there: use --json), or with --json
// {"keys": [...], "count": n, "complete": bool}, a key being a string when
// it is valid UTF-8 and else {"base64": "..."}. `complete` is false when
// --limit stopped the scan. A key that lived through the whole scan is
// listed (with QUORUM writes and reads); one may be listed twice only if a
// page was retried. Exit 3 on UNAVAILABLE/TIMEOUT (reason on stderr).
#pragma once

#include <cstdint>
#include <string>

#include "cli/options.h"

namespace ringkv::cli {

// `limit` 0: no limit.
int run_scan(const GlobalOptions& options, const std::string& prefix, uint64_t limit);

}  // namespace ringkv::cli
