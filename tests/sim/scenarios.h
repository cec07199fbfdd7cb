// Simulated scenarios for membership and the checkers that judge them.
//
//   churn: crashes, restarts, pauses, partitions (halves, one isolated, one-way cuts), loss up
//          to 20%, duplication, reordering, ring-status changes and graceful leaves; then the
//          faults stop. Checks that every running node's view converges to the truth (running
//          nodes alive at their own incarnation and ring status, crashed ones dead, departed
//          ones left) within a bound, and that no view ever holds an incarnation above the
//          member's own.
//   lossy: 10% loss and pauses shorter than the suspicion timeout, nothing else. Checks that
//          no running node is ever declared dead.
//   crash: one or two nodes crash in a converged cluster. Checks that every running node
//          declares each of them dead within the detection bound, and that after a restart
//          each comes back alive everywhere with a higher incarnation.
//   forged: under 5% loss an outsider keeps telling random members that another running
//          member died and left one above its incarnation, died 2^40 above it, or left at
//          2^64-1 (issue 11); then it stops. Checks that every view converges to the truth.
//          Only run when asked for (--scenario forged), so the mixed seeds stay as they were.
#pragma once

#include <cstdint>
#include <string>

#include "membership/config.h"

namespace ringkv::membership::sim {

enum class Scenario { kChurn, kLossy, kCrash, kForged };

const char* to_string(Scenario scenario);

struct Outcome {
  bool ok = true;
  std::string failure;        // what was violated, with the simulated time
  TimeMs convergence_ms = 0;  // from the end of faults to a converged view
  TimeMs detection_ms = 0;    // crash: from the crash to dead in every view
  TimeMs detection_bound_ms = 0;
  TimeMs rejoin_ms = 0;  // crash: from the restart to alive in every view
  uint64_t datagrams = 0;
  uint64_t events_processed = 0;
};

// The membership config simulations run with: memberlist's LAN defaults, with anti-entropy and
// partition healing on shorter periods so a seed's run stays short.
Config simulation_config();

// Runs one scenario from one seed with `nodes` nodes. `verbose` prints a line per fault.
Outcome run_scenario(Scenario scenario, uint64_t seed, int nodes, bool verbose);

}  // namespace ringkv::membership::sim
