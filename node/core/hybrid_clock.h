// HybridClock: the coordinator's source of write versions.
//
// A hybrid logical clock in microseconds since the Unix epoch: each issued
// timestamp is max(physical now, last issued + 1), and observe() moves the
// clock past timestamps seen from other nodes, so a later write coordinated
// anywhere gets a greater version even when wall clocks disagree a little.
// Observed timestamps further ahead than max_forward_us are ignored, so one
// node with a wild clock (or a hostile message) cannot drag everyone into
// the future. Pure: time is passed in.
#pragma once

#include <cstdint>

namespace ringkv::core {

class HybridClock {
 public:
  explicit HybridClock(uint64_t max_forward_us = 60'000'000) : max_forward_us_(max_forward_us) {}

  // A timestamp greater than every one issued or observed before.
  uint64_t next(uint64_t now_us);
  // Notes a timestamp seen on a message; returns false when it was ignored
  // for being more than max_forward_us ahead of now_us.
  bool observe(uint64_t timestamp_us, uint64_t now_us);
  uint64_t last() const { return last_us_; }

 private:
  uint64_t max_forward_us_;
  uint64_t last_us_ = 0;
};

}  // namespace ringkv::core
