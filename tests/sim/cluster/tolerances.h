// Tolerances: known defects of the code under test that a run may be told to excuse, each by
// name, so that the simulator can run green in CI while a defect is open and still fail on
// everything else. An excused violation is never silent: it is counted per name and printed
// in the summary. Each tolerance excuses exactly the cases the harness can prove the defect
// caused, for the exact replica the evidence names; remove it once the defect is fixed. None
// is passed in CI (tests/sim/cluster/CMakeLists.txt).
//
//   stand-in-hint-loss   A stand-in that fails to store a hint (unreachable, refused, crashed,
//                        or silent until the deadline) is not replaced: nobody keeps the hint,
//                        so the down replica never gets the write. Excused: a replica missing a
//                        write for which a hinted write to a stand-in, on its behalf, was sent
//                        and never confirmed to its coordinator.
//   unflushed-hints      Hints the coordinator stores itself (a replica failed, or had not
//                        answered by the deadline) are not followed by flush_wal(): the WAL is
//                        flushed only when replies go out, so a crash before the next reply
//                        loses them (engine.h's contract). Excused: a replica missing a write
//                        whose hint for it a crash took unflushed.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace ringkv::cluster_sim {

struct Tolerances {
  bool stand_in_hint_loss = false;
  bool unflushed_hints = false;

  bool any() const { return stand_in_hint_loss || unflushed_hints; }
};

// A comma-separated list of names, or "none", or "known" (all of them); nullopt if a name is
// unknown.
std::optional<Tolerances> parse_tolerances(std::string_view list);
// The canonical list form ("none" when empty), for replay commands.
std::string tolerances_text(const Tolerances& tolerances);

}  // namespace ringkv::cluster_sim
