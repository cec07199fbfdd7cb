// Local health awareness (Lifeguard, section 4.1 of the paper; memberlist's awareness.go).
//
// A node that misses acks, or must refute a suspicion of itself, is more likely slow itself
// than surrounded by failed peers. The score rises on such evidence and falls on each
// successful probe; probe interval and probe timeout are multiplied by (score + 1), so a
// struggling node probes less often and waits longer before it accuses anyone.
// Invariant: 0 <= score < max_multiplier.
#pragma once

#include <cstdint>

#include "membership/config.h"

namespace ringkv::membership {

class Awareness {
 public:
  // REQUIRES: max_multiplier >= 1.
  explicit Awareness(uint32_t max_multiplier);

  // Adds `delta` to the score, clamped to [0, max_multiplier - 1].
  void apply_delta(int delta);
  int score() const { return score_; }
  // `timeout_ms` stretched by the current health.
  TimeMs scale(TimeMs timeout_ms) const { return timeout_ms * (score_ + 1); }

 private:
  int max_score_;
  int score_ = 0;
};

}  // namespace ringkv::membership
