// MemoryEngine: an Engine held entirely in memory, for the deterministic
// simulator and for tests. It has the semantics of RocksDbEngine (one shared
// test suite checks both) without its I/O.
//
// Deterministic by construction: no threads, no clocks except
// Options::clock_us (read only by compact()), no randomness; std::map gives
// the same iteration order on every run.
//
// Thread model: one thread at a time, like every Engine.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "storage/engine.h"

namespace ringkv::storage {

class MemoryEngine : public Engine {
 public:
  // Options::path and Options::sync are ignored; clock_us and
  // tombstone_grace_s drive compact().
  explicit MemoryEngine(Options options);

  Status write(const std::vector<std::pair<std::string, Record>>& batch) override;
  Result<std::optional<Record>> read(std::string_view user_key) override;
  Result<std::vector<std::optional<Record>>> read_many(const std::vector<std::string>& user_keys) override;
  Result<ScanBatch> scan(const ScanRange& range, size_t max_entries, size_t max_bytes) override;
  Status delete_range(uint64_t begin, uint64_t end) override;

  Status put_hint(const Hint& hint) override;
  Result<std::vector<Hint>> hints_for(std::string_view target, size_t max_hints,
                                      uint64_t after_sequence) override;
  Status delete_hint(std::string_view target, uint64_t sequence) override;
  Result<std::map<std::string, HintTally>> hint_tallies() override;

  Result<std::optional<std::string>> meta_get(std::string_view name) override;
  Status meta_put(std::string_view name, std::string_view value) override;

  Result<Identity> open_identity(std::string_view new_node_id) override;

  // Nothing to flush: every write is "in the WAL" at once.
  Status flush_wal() override { return {}; }
  Status compact() override;
  Stats stats() override;

  // Snapshots are whole copies in memory, timed by Options::clock_us and
  // sized as their keys and values.
  Result<SnapshotInfo> create_snapshot(std::string_view tag) override;
  Result<std::vector<SnapshotInfo>> snapshots() override;
  Status remove_snapshot(std::string_view tag) override;
  // The in-memory counterpart of restore_rocksdb_snapshot(), with its rules:
  // data, hints and meta become the snapshot's, the generation stays no
  // lower than it is now. Callers then call open_identity(), as a restarted
  // process does. kInvalidArgument when there is no such snapshot.
  Status restore_snapshot(std::string_view tag);

  // Models a killed process followed by a restart on the same disk. RocksDB
  // appends every write to its WAL before acknowledging it, and a killed
  // process (unlike a power loss) does not lose what it handed to the OS, so
  // a restart recovers every acknowledged write, synced or not. Hence this
  // keeps all data, hints and meta: it only exists so simulator code states
  // where a crash happens, and so the model lives in one documented place.
  // Callers still call open_identity() again, as a restarted process does.
  void simulate_crash() {}

  // Fault injection: while set, every call that would change state (write,
  // delete_range, put_hint, delete_hint, meta_put, open_identity, compact)
  // returns an Error of this kind and changes nothing, as RocksDB does on a
  // full disk (kNoSpace). Reads keep working. nullopt turns it off.
  void fail_writes_with(std::optional<ErrorKind> kind) { failing_kind_ = kind; }

 private:
  // An Error when fault injection is on, else ok.
  Status injected_failure() const;

  Options options_;
  std::optional<ErrorKind> failing_kind_;
  // Storage key -> record: same order as RocksDB's `data` column family.
  std::map<std::string, Record, std::less<>> data_;
  // (target, sequence) -> hint.
  std::map<std::pair<std::string, uint64_t>, Hint> hints_;
  std::map<std::string, std::string, std::less<>> meta_;

  struct Snapshot {
    SnapshotInfo info;
    std::map<std::string, Record, std::less<>> data;
    std::map<std::pair<std::string, uint64_t>, Hint> hints;
    std::map<std::string, std::string, std::less<>> meta;
  };
  std::map<std::string, Snapshot, std::less<>> snapshots_;
};

}  // namespace ringkv::storage
