#include "membership/suspicion.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "membership/check.h"

namespace ringkv::membership {

Suspicion::Suspicion(std::string origin_id, uint64_t incarnation, uint32_t confirmations_wanted,
                     TimeMs min_ms, TimeMs max_ms, TimeMs started_at_ms)
    : incarnation_(incarnation),
      confirmations_wanted_(confirmations_wanted),
      min_ms_(min_ms),
      max_ms_(max_ms),
      started_at_ms_(started_at_ms) {
  MEMBERSHIP_CHECK(min_ms > 0 && min_ms <= max_ms, "suspicion needs 0 < min <= max");
  accusers_.push_back(std::move(origin_id));
}

bool Suspicion::confirm(std::string_view from_id) {
  if (confirmations_ >= confirmations_wanted_) return false;
  if (std::find(accusers_.begin(), accusers_.end(), from_id) != accusers_.end()) return false;
  accusers_.emplace_back(from_id);
  ++confirmations_;
  MEMBERSHIP_CHECK(accusers_.size() <= confirmations_wanted_ + 1, "accusers stay bounded by k+1");
  return true;
}

TimeMs Suspicion::deadline_ms() const {
  if (confirmations_wanted_ == 0) return started_at_ms_ + min_ms_;
  const double fraction = std::log(static_cast<double>(confirmations_) + 1.0) /
                          std::log(static_cast<double>(confirmations_wanted_) + 1.0);
  const double raw =
      static_cast<double>(max_ms_) - fraction * static_cast<double>(max_ms_ - min_ms_);
  const TimeMs timeout = std::max(min_ms_, static_cast<TimeMs>(std::floor(raw)));
  return started_at_ms_ + timeout;
}

TimeMs suspicion_min_timeout_ms(uint32_t suspicion_mult, std::size_t members,
                                TimeMs probe_interval_ms) {
  const double scale = std::max(1.0, std::log10(std::max(1.0, static_cast<double>(members))));
  return static_cast<TimeMs>(static_cast<double>(suspicion_mult) * scale *
                             static_cast<double>(probe_interval_ms));
}

}  // namespace ringkv::membership
