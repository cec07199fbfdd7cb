// FaultyEngine: a node's storage Engine that fails now and then, at seeded rates (issue 16
// item 3), so the coordinator's and the replica's handling of storage failure is explored
// across seeds under the same checkers.
//
// It wraps the node's SimDisk and, while StorageFaults::active, draws from the world's
// generator on each call:
// - write errors: write, put_hint, delete_hint return kNoSpace or kIo and change nothing (as
//   RocksDbEngine on a full disk or a failed device);
// - flush errors: flush_wal (with changes since the last flush) returns kIo and flushes
//   nothing; those changes stay unflushed, so a crash before the next successful flush loses
//   them (RocksDbEngine after DB::Resume() likewise makes them durable only then);
// - read errors: read, read_many, hints_for, scan return kIo;
// - a crash between write and flush: flush_wal fails as above and asks for the process to be
//   killed (StorageFaults::crash_requested, run later from an event of its own), before any
//   flush covers the writes behind it.
// Start-up paths (open_identity, hint_counts, meta_get) and the rare meta_put, delete_range
// and compact never fail: a node that cannot open its disk does not start, which is not what
// this explores. With active false (the heal and the checks) every call passes through.
//
// Single-threaded, like every Engine.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "storage/engine.h"
#include "tests/sim/cluster/world.h"

namespace ringkv::cluster_sim {

// Probabilities per call.
struct StorageFaultRates {
  double write_error = 0;
  double flush_error = 0;
  double read_error = 0;
  double crash_before_flush = 0;
};

struct StorageFaultCounters {
  uint64_t write_errors = 0;
  uint64_t flush_errors = 0;
  uint64_t read_errors = 0;
  uint64_t crashes = 0;
};

// Shared by every FaultyEngine of a run.
struct StorageFaults {
  StorageFaultRates rates;
  bool active = false;
  StorageFaultCounters counters;
  // Asked to kill the node at `address` (a crash between write and flush). REQUIRES: set.
  std::function<void(const std::string& address)> crash_requested;
};

class FaultyEngine final : public storage::Engine {
 public:
  FaultyEngine(storage::Engine& disk, World& world, StorageFaults& faults, std::string address);

  storage::Status write(const std::vector<std::pair<std::string, storage::Record>>& batch) override;
  storage::Result<std::optional<storage::Record>> read(std::string_view user_key) override;
  storage::Result<std::vector<std::optional<storage::Record>>> read_many(
      const std::vector<std::string>& user_keys) override;
  storage::Result<storage::ScanBatch> scan(const storage::ScanRange& range, size_t max_entries,
                                           size_t max_bytes) override;
  storage::Status delete_range(uint64_t begin, uint64_t end) override {
    return disk_.delete_range(begin, end);
  }
  storage::Status put_hint(const storage::Hint& hint) override;
  storage::Result<std::vector<storage::Hint>> hints_for(std::string_view target, size_t max_hints,
                                                        uint64_t after_sequence) override;
  storage::Status delete_hint(std::string_view target, uint64_t sequence) override;
  storage::Result<std::map<std::string, storage::HintTally>> hint_tallies() override {
    return disk_.hint_tallies();
  }
  storage::Result<std::optional<std::string>> meta_get(std::string_view name) override {
    return disk_.meta_get(name);
  }
  storage::Status meta_put(std::string_view name, std::string_view value) override {
    return disk_.meta_put(name, value);
  }
  storage::Result<storage::Identity> open_identity(std::string_view new_node_id) override {
    return disk_.open_identity(new_node_id);
  }
  storage::Status flush_wal() override;
  storage::Status compact() override { return disk_.compact(); }
  storage::Stats stats() override { return disk_.stats(); }
  // Snapshots are an operator's tool, not part of the simulated workload: passed through.
  storage::Result<storage::SnapshotInfo> create_snapshot(std::string_view tag) override {
    return disk_.create_snapshot(tag);
  }
  storage::Result<std::vector<storage::SnapshotInfo>> snapshots() override { return disk_.snapshots(); }
  storage::Status remove_snapshot(std::string_view tag) override { return disk_.remove_snapshot(tag); }

 private:
  // A write error (kNoSpace or kIo, drawn) with probability write_error, else ok.
  storage::Status draw_write_error(std::string_view what);
  // A read error with probability read_error, else ok.
  storage::Status draw_read_error(std::string_view what);

  storage::Engine& disk_;
  World& world_;
  StorageFaults& faults_;
  std::string address_;
  bool unflushed_ = false;  // a change since the last successful flush
};

}  // namespace ringkv::cluster_sim
