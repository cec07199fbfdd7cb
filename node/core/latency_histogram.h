// LatencyHistogram: bounded-memory latency percentiles for `kv stats`.
//
// Log-linear buckets (8 per power of two) from 1 µs to about 2^36 µs (19 h):
// a reported percentile is the upper edge of its bucket, so it overstates by
// at most 12.5%. Fixed size, no allocation after construction. It also keeps
// the sum of the samples, and counts at or under a bound for Prometheus's
// cumulative buckets (node/core/node_metrics.cc).
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>

namespace ringkv::core {

class LatencyHistogram {
 public:
  void record(uint64_t micros) {
    ++counts_[bucket_of(micros)];
    ++total_;
    sum_micros_ += micros;
  }
  uint64_t count() const { return total_; }
  uint64_t sum_micros() const { return sum_micros_; }
  // Samples known to be at or under `micros`: those of every bucket whose
  // upper edge is (so it may undercount by a bucket, overstating latency
  // like percentile() does).
  uint64_t count_at_or_under(uint64_t micros) const {
    uint64_t seen = 0;
    for (size_t i = 0; i < counts_.size() && upper_edge(i) <= micros; ++i) seen += counts_[i];
    return seen;
  }
  // The latency (µs) at or under which `fraction` of the samples fall.
  uint64_t percentile(double fraction) const {
    if (total_ == 0) return 0;
    const auto rank = static_cast<uint64_t>(fraction * static_cast<double>(total_ - 1)) + 1;
    uint64_t seen = 0;
    for (size_t i = 0; i < counts_.size(); ++i) {
      seen += counts_[i];
      if (seen >= rank) return upper_edge(i);
    }
    return upper_edge(counts_.size() - 1);
  }

 private:
  static constexpr int kSubBuckets = 8;
  static constexpr int kPowers = 36;

  static size_t bucket_of(uint64_t micros) {
    if (micros < kSubBuckets) return micros;
    const int power = std::bit_width(micros) - 1;  // micros in [2^power, 2^(power+1))
    if (power >= kPowers) return kSubBuckets * kPowers - 1;
    const uint64_t sub = (micros >> (power - 3)) & (kSubBuckets - 1);
    return static_cast<size_t>((power - 2) * kSubBuckets + sub);
  }
  static uint64_t upper_edge(size_t bucket) {
    if (bucket < kSubBuckets) return bucket;
    const size_t power = bucket / kSubBuckets + 2;
    const uint64_t sub = bucket % kSubBuckets;
    return ((kSubBuckets + sub + 1) << (power - 3)) - 1;
  }

  std::array<uint64_t, kSubBuckets * kPowers> counts_{};
  uint64_t total_ = 0;
  uint64_t sum_micros_ = 0;
};

}  // namespace ringkv::core
