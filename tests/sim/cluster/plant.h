// Planted bugs: known faults the simulated world can inject, to show that the checkers catch
// what they claim to ("test the tests"). None touches production code: each is a lie told by
// the simulated network or disk.
//
//   drop-hints     the network swallows every replica write addressed to a stand-in (one that
//                  carries a hint_target) and answers the coordinator with a forged success,
//                  so the hint is never stored and a down replica never gets the write.
//   lose-unsynced  a crash also loses the changes (data and hints) the node flushed in its last
//                  500 ms, as a node that acknowledges before its WAL is on disk loses them on
//                  power failure (sim_disk.h).
//   skip-cleanup   (with --topology) the harness never asks the members to run `cleanup`
//                  after the change, so old owners keep ranges they no longer replicate: C6
//                  must report the extra copies (a join shows them).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace ringkv::cluster_sim {

enum class Plant { kNone, kDropHints, kLoseUnsynced, kSkipCleanup };

std::optional<Plant> parse_plant(std::string_view name);
std::string_view plant_name(Plant plant);

}  // namespace ringkv::cluster_sim
