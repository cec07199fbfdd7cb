#include "membership/awareness.h"

#include <algorithm>

#include "membership/check.h"

namespace ringkv::membership {

Awareness::Awareness(uint32_t max_multiplier) : max_score_(static_cast<int>(max_multiplier) - 1) {
  MEMBERSHIP_CHECK(max_multiplier >= 1, "awareness needs a multiplier of at least 1");
}

void Awareness::apply_delta(int delta) {
  score_ = std::clamp(score_ + delta, 0, max_score_);
  MEMBERSHIP_CHECK(score_ >= 0 && score_ <= max_score_, "awareness score stays in range");
}

}  // namespace ringkv::membership
