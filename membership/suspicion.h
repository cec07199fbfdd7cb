// The suspicion timer of one suspected member (Lifeguard, section 4.2; memberlist's
// suspicion.go).
//
// A fresh suspicion waits `max_ms`; each independent confirmation (a suspect message about the
// same incarnation from a member that had not confirmed yet) shrinks the wait
// logarithmically, reaching `min_ms` after `confirmations_wanted` of them:
//   timeout(c) = max(min, max - (max - min) * log(c + 1) / log(k + 1)).
// The timer only computes its deadline; the state machine polls it. Confirmers are bounded by
// k + 1 entries.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "membership/config.h"

namespace ringkv::membership {

class Suspicion {
 public:
  // `origin_id` is the member whose accusation started the timer; it does not count as a
  // confirmation. REQUIRES: 0 < min_ms <= max_ms.
  Suspicion(std::string origin_id, uint64_t incarnation, uint32_t confirmations_wanted,
            TimeMs min_ms, TimeMs max_ms, TimeMs started_at_ms);

  // Records `from_id` as a confirmation. Returns true if it was new and still shortened the
  // timer (false for repeats and for confirmations beyond the wanted count).
  bool confirm(std::string_view from_id);

  uint64_t incarnation() const { return incarnation_; }
  uint32_t confirmations() const { return confirmations_; }
  TimeMs deadline_ms() const;

 private:
  std::vector<std::string> accusers_;  // the origin, then each confirmer
  uint64_t incarnation_;
  uint32_t confirmations_wanted_;
  uint32_t confirmations_ = 0;
  TimeMs min_ms_;
  TimeMs max_ms_;
  TimeMs started_at_ms_;
};

// The minimum suspicion timeout for a cluster of `members` members:
// suspicion_mult * max(1, log10(members)) * probe_interval_ms.
TimeMs suspicion_min_timeout_ms(uint32_t suspicion_mult, std::size_t members,
                                TimeMs probe_interval_ms);

}  // namespace ringkv::membership
