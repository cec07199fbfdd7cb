// SimDisk: one simulated node's disk, kept across the node's crashes and restarts.
//
// It is a MemoryEngine (the same semantics as RocksDB), so the node under test sees an
// ordinary engine, plus what a MemoryEngine cannot show: the durability contract of engine.h.
// There, a write survives a killed process only once a later flush_wal() returned (RocksDB runs
// with manual_wal_flush: unflushed WAL bytes sit in the process's memory). So the disk keeps an
// undo record of every data and hint change, and crash() rolls back the changes made since the last
// flush_wal(), all but a random prefix of them (RocksDB may have written part of its buffer out on
// its own). meta_put and open_identity are synced on their own and never rolled back; delete_range
// (cleanup, not used by the simulation) is not either.
//
// The lose-unsynced plant goes further: crash() also rolls back the flushed changes of the last
// `planted_window_us`, as a node acknowledging before its WAL is on disk loses them on power
// failure. That breaks the contract on purpose, and the checkers must notice.
//
// Single-threaded.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "storage/memory_engine.h"
#include "tests/sim/cluster/sim_random.h"
#include "tests/sim/cluster/world.h"

namespace ringkv::cluster_sim {

struct CrashLoss {
  uint64_t unflushed = 0;         // changes lost under the contract (never acknowledged)
  uint64_t planted = 0;           // flushed changes lost by the plant
  std::vector<std::string> what;  // one line per lost change, for --verbose
  // (user key, target) of every unflushed hint the crash took.
  std::vector<std::pair<std::string, std::string>> unflushed_hints;
};

class SimDisk : public storage::MemoryEngine {
 public:
  // `wall_clock_us` feeds tombstone compaction; the world dates changes and draws how much
  // of the unflushed tail survives a crash.
  SimDisk(std::function<uint64_t()> wall_clock_us, World& world,
          std::optional<SimTimeUs> planted_window_us);

  // The changes that can be lost, recorded for crash(); everything else is MemoryEngine's.
  storage::Status write(const std::vector<std::pair<std::string, storage::Record>>& batch) override;
  storage::Status put_hint(const storage::Hint& hint) override;
  storage::Status delete_hint(std::string_view target, uint64_t sequence) override;
  storage::Status flush_wal() override;

  // The process died: rolls back what the contract (and the plant) says is lost.
  CrashLoss crash();

 private:
  using Base = storage::MemoryEngine;
  enum class Change { kData, kHintPut, kHintDelete };
  struct Undo {
    Change change = Change::kData;
    SimTimeUs at_us = 0;
    std::string key;                        // kData
    std::optional<storage::Record> before;  // kData: what the key held
    storage::Hint hint;                     // kHintPut: the hint put; kHintDelete: the one deleted
  };

  // Rolls one change back; returns a description of it.
  std::string undo(const Undo& undo);
  void trim();

  World& world_;
  std::optional<SimTimeUs> planted_window_us_;
  // Changes, oldest first; the first `flushed_` of them are covered by a flush_wal().
  std::deque<Undo> undo_;
  size_t flushed_ = 0;
  // A copy of the hints, so a deleted hint can be put back.
  std::map<std::pair<std::string, uint64_t>, storage::Hint> hints_;
};

}  // namespace ringkv::cluster_sim
