#include "node/io/process_metrics.h"

#include <sys/resource.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <charconv>
#include <filesystem>
#include <fstream>
#include <sstream>

#ifndef RINGKV_VERSION
#error "RINGKV_VERSION must be defined by the build (node/CMakeLists.txt)"
#endif

namespace ringkv::io {

std::optional<uint64_t> resident_pages_from_statm(std::string_view statm) {
  const size_t space = statm.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  statm.remove_prefix(space + 1);
  uint64_t pages = 0;
  const auto [end, error] = std::from_chars(statm.data(), statm.data() + statm.size(), pages);
  if (error != std::errc{} || end == statm.data() || (end != statm.data() + statm.size() && *end != ' ' && *end != '\n')) {
    return std::nullopt;
  }
  return pages;
}

void ProcessMetrics::write(metrics::Exposition& out, uint64_t now_monotonic_ms) const {
  out.gauge("ringkv_build_info", "The running build (always 1).", 1, {{"version", RINGKV_VERSION}});
  out.gauge("ringkv_uptime_seconds", "Seconds since this node process started.",
            static_cast<double>(now_monotonic_ms - started_monotonic_ms_) / 1000);
  out.gauge("process_start_time_seconds", "Start time of the process since the Unix epoch, in seconds.",
            static_cast<double>(started_wall_us_ / 1000) / 1000);

  std::ifstream statm_file("/proc/self/statm");
  std::stringstream statm;
  statm << statm_file.rdbuf();
  if (auto pages = resident_pages_from_statm(statm.str())) {
    out.gauge("process_resident_memory_bytes", "Resident memory size in bytes.",
              static_cast<double>(*pages * static_cast<uint64_t>(sysconf(_SC_PAGESIZE))));
  }
  std::error_code ec;
  uint64_t fds = 0;
  for (std::filesystem::directory_iterator it("/proc/self/fd", ec), end; !ec && it != end; it.increment(ec)) ++fds;
  // The iterator's own descriptor is one of them.
  if (!ec && fds > 0) out.gauge("process_open_fds", "Number of open file descriptors.", static_cast<double>(fds - 1));
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) {
    out.gauge("process_max_fds", "Maximum number of open file descriptors.", static_cast<double>(limit.rlim_cur));
  }
  struct statvfs disk {};
  if (statvfs(data_dir_.c_str(), &disk) == 0) {
    out.gauge("ringkv_data_filesystem_size_bytes", "Size of the filesystem holding the data directory.",
              static_cast<double>(disk.f_blocks) * static_cast<double>(disk.f_frsize));
    out.gauge("ringkv_data_filesystem_free_bytes",
              "Bytes of the data directory's filesystem this process may still use.",
              static_cast<double>(disk.f_bavail) * static_cast<double>(disk.f_frsize));
  }
}

}  // namespace ringkv::io
