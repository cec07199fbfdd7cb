// kv bench: a closed-loop load generator over the wire protocol.
//
// `clients` connections (spread over the hosts) each keep `pipeline`
// requests in flight; every reply is timed from send to receipt. Prints a
// progress line each second on stderr, then throughput and p50/p99/p99.9
// latency (or one JSON document with --json). One libuv loop, one thread, so
// the generator itself stays cheap next to the node under test.
#pragma once

#include <cstdint>
#include <string>

#include "cli/options.h"

namespace ringkv::cli {

struct BenchOptions {
  int clients = 50;
  int pipeline = 1;
  uint64_t keys = 100000;
  size_t value_bytes = 100;
  // Share of operations that are puts, 0..100 (the rest are gets).
  int write_percent = 50;
  // Stop after this many operations, or after duration_s, whichever first.
  uint64_t requests = 0;
  double duration_s = 10;
  // Before a run with gets, write every key once so gets find values.
  bool prefill = true;
  std::string key_prefix = "bench:";
};

int run_bench(const GlobalOptions& options, const BenchOptions& bench);

}  // namespace ringkv::cli
