#include "node/core/hybrid_clock.h"

#include <algorithm>

namespace ringkv::core {

uint64_t HybridClock::next(uint64_t now_us) {
  last_us_ = std::max(now_us, last_us_ + 1);
  return last_us_;
}

bool HybridClock::observe(uint64_t timestamp_us, uint64_t now_us) {
  if (timestamp_us > now_us + max_forward_us_) return false;
  last_us_ = std::max(last_us_, timestamp_us);
  return true;
}

}  // namespace ringkv::core
