// ProcessMetrics: the process's and its data directory's part of a
// Prometheus scrape, read from the operating system at scrape time:
// resident memory (/proc/self/statm), open and maximum file descriptors
// (/proc/self/fd, RLIMIT_NOFILE), start time and uptime, the data
// directory's filesystem size and free bytes (statvfs), and the build
// version as ringkv_build_info. The process_* names are the ones every
// Prometheus client library uses, so stock dashboards work.
//
// A figure the system will not give is left out of the scrape rather than
// reported as 0. The loop's thread only.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "node/metrics/exposition.h"

namespace ringkv::io {

class ProcessMetrics {
 public:
  // `data_dir` is the node's data directory; the times are when the process
  // started, on the wall clock (µs since the epoch) and the monotonic one (ms).
  ProcessMetrics(std::string data_dir, uint64_t started_wall_us, uint64_t started_monotonic_ms)
      : data_dir_(std::move(data_dir)), started_wall_us_(started_wall_us), started_monotonic_ms_(started_monotonic_ms) {}

  void write(metrics::Exposition& out, uint64_t now_monotonic_ms) const;

 private:
  std::string data_dir_;
  uint64_t started_wall_us_;
  uint64_t started_monotonic_ms_;
};

// The resident set in pages from /proc/self/statm's text (its second
// field); nullopt when the text is not that.
std::optional<uint64_t> resident_pages_from_statm(std::string_view statm);

}  // namespace ringkv::io
