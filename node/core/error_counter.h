// ErrorCounter: operating errors of a background step that has nobody to
// return them to (a hint scan, a removal marker, a repair digest). Each is
// counted, for `kv stats`, and reported as a notice for the node's log; the
// step itself retries on a later tick. Notices are bounded: one for the 1st,
// 2nd, 4th, 8th... error, so a disk that keeps failing cannot flood the log,
// and at most kNoticesMax wait to be drained.
//
// Pure value type; single-threaded like its owner.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "storage/engine.h"

namespace ringkv::core {

class ErrorCounter {
 public:
  static constexpr size_t kNoticesMax = 64;

  // `unit` prefixes every notice ("hint replay", "topology", ...).
  explicit ErrorCounter(std::string unit) : unit_(std::move(unit)) {}

  // `what` says which step failed ("reading the hints for n3").
  void record(std::string_view what, std::string_view error) {
    ++count_;
    const bool power_of_two = (count_ & (count_ - 1)) == 0;
    if (!power_of_two || notices_.size() >= kNoticesMax) return;
    notices_.push_back(unit_ + ": " + std::string(what) + " failed: " + std::string(error) + " (" +
                       std::to_string(count_) + " such errors so far)");
  }
  void record(std::string_view what, const storage::Error& error) { record(what, error.message); }

  uint64_t count() const { return count_; }
  std::vector<std::string> take_notices() { return std::exchange(notices_, {}); }

 private:
  std::string unit_;
  uint64_t count_ = 0;
  std::vector<std::string> notices_;
};

}  // namespace ringkv::core
