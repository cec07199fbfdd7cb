// Clock offset of one peer, estimated from ping/ack round trips (NTP's on-wire idea, one
// exchange at a time).
//
// A ping carries the prober's wall clock; the ack echoes it and adds the responder's wall
// clock. With rtt the prober's monotonic round trip, the responder read its clock somewhere in
// [ping_wall, ping_wall + rtt] on our clock, so
//   offset      = remote_wall - (ping_wall + rtt / 2)     (positive: the peer is ahead)
//   uncertainty = rtt / 2 + 1 ms (rtt is measured in whole milliseconds, so the true round
//                 trip may be up to 1 ms longer).
// The estimate is the sample with the smallest rtt among the last kSamples (the least delayed
// exchange bounds the offset best); ties go to the newest. Pure: no clock is read here.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>

#include "membership/config.h"

namespace ringkv::membership {

struct ClockOffset {
  int64_t offset_us = 0;       // the peer's wall clock minus ours
  int64_t uncertainty_us = 0;  // |true offset - offset_us| <= uncertainty_us
  TimeMs measured_at_ms = 0;   // monotonic time of the ack the estimate comes from

  // How far the offset is beyond doubt from zero: |offset| - uncertainty, at least 0.
  int64_t certain_excess_us() const;
};

class ClockOffsetEstimator {
 public:
  static constexpr std::size_t kSamples = 8;

  // One exchange: our ping left at `sent_ms` carrying `ping_wall_us`, its ack arrived at
  // `received_ms` carrying `remote_wall_us`. Samples with an unset (0) or absurd wall clock
  // (beyond year 2500) or a negative round trip are ignored; returns whether it was taken.
  bool add(TimeMs sent_ms, TimeMs received_ms, uint64_t ping_wall_us, uint64_t remote_wall_us);
  // The best recent estimate; nullopt before the first sample.
  std::optional<ClockOffset> estimate() const;

 private:
  struct Sample {
    TimeMs rtt_ms = 0;
    ClockOffset offset;
  };
  std::array<Sample, kSamples> samples_{};
  std::size_t count_ = 0;  // samples held, at most kSamples
  std::size_t next_ = 0;   // slot the next sample overwrites
};

}  // namespace ringkv::membership
