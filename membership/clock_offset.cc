#include "membership/clock_offset.h"

#include <cstdlib>

namespace ringkv::membership {

namespace {

// 2500-01-01 in microseconds since the epoch: wall clocks beyond are garbage, and the bound
// keeps every difference below well inside int64_t.
constexpr uint64_t kWallUsMax = 16'725'225'600'000'000;

}  // namespace

int64_t ClockOffset::certain_excess_us() const {
  const int64_t excess = std::llabs(offset_us) - uncertainty_us;
  return excess > 0 ? excess : 0;
}

bool ClockOffsetEstimator::add(TimeMs sent_ms, TimeMs received_ms, uint64_t ping_wall_us,
                               uint64_t remote_wall_us) {
  const TimeMs rtt_ms = received_ms - sent_ms;
  if (rtt_ms < 0 || ping_wall_us == 0 || remote_wall_us == 0 || ping_wall_us > kWallUsMax ||
      remote_wall_us > kWallUsMax) {
    return false;
  }
  const int64_t half_rtt_us = rtt_ms * 500;
  Sample& sample = samples_[next_];
  sample.rtt_ms = rtt_ms;
  sample.offset.offset_us =
      static_cast<int64_t>(remote_wall_us) - static_cast<int64_t>(ping_wall_us) - half_rtt_us;
  sample.offset.uncertainty_us = half_rtt_us + 1000;
  sample.offset.measured_at_ms = received_ms;
  next_ = (next_ + 1) % kSamples;
  if (count_ < kSamples) ++count_;
  return true;
}

std::optional<ClockOffset> ClockOffsetEstimator::estimate() const {
  const Sample* best = nullptr;
  for (std::size_t i = 0; i < count_; ++i) {
    const Sample& sample = samples_[i];
    if (best == nullptr || sample.rtt_ms < best->rtt_ms ||
        (sample.rtt_ms == best->rtt_ms &&
         sample.offset.measured_at_ms > best->offset.measured_at_ms)) {
      best = &sample;
    }
  }
  if (best == nullptr) return std::nullopt;
  return best->offset;
}

}  // namespace ringkv::membership
