// kv put / get / del: one request to the cluster through any reachable host.
// Each returns the process exit code and prints the result (or, with
// --json, one JSON document) on stdout and any error on stderr.
#pragma once

#include <cstdint>
#include <string>

#include "cli/options.h"

namespace ringkv::cli {

// `ttl_s` > 0: the value expires that many seconds after the write.
int run_put(const GlobalOptions& options, const std::string& key, const std::string& value, uint64_t ttl_s = 0);
int run_get(const GlobalOptions& options, const std::string& key, bool local);
int run_delete(const GlobalOptions& options, const std::string& key);

}  // namespace ringkv::cli
