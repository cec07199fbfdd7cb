// PlantedBug: a known bug compiled into the coordinator on purpose, to prove the
// tests catch it ("test the tests", TESTING.md). Chosen at configure time with
// -DRINGKV_PLANT_BUG=none|ack-one|drop-hints|sloppy; every real build is `none`.
//
//   ack-one     a write is acknowledged after one replica, whatever the level
//   drop-hints  no hint is ever stored (stand-ins and the coordinator drop them)
//   sloppy      stand-ins count toward every level, not only ANY
//
// Only ringkv_core's coordinator.cc and node_core.cc include this (the definition is
// private to ringkv_core).
#pragma once

#ifndef RINGKV_PLANTED_BUG
#define RINGKV_PLANTED_BUG 0
#endif

namespace ringkv::core {

enum class PlantedBug { kNone = 0, kAckOne = 1, kDropHints = 2, kSloppy = 3 };

inline constexpr PlantedBug kPlantedBug = static_cast<PlantedBug>(RINGKV_PLANTED_BUG);

}  // namespace ringkv::core
