// Engine: the only door to a node's durable state.
//
// Three column families: `data` (user records under storage keys, see
// storage_key.h), `hints` (records held for another node, hinted handoff),
// and `meta` (node identity and small named values). Two implementations share
// these semantics and one test suite: RocksDbEngine (the only code that
// includes RocksDB) and MemoryEngine (for simulation; it can simulate a crash
// that keeps exactly what RocksDB's WAL would keep). CachedEngine
// (record_cache.h) decorates either with a record cache and runs the same
// suite.
//
// Semantics every implementation guarantees:
// - write() is last-write-wins: afterwards the key holds whichever of the
//   stored and the written record has the greater Version, regardless of
//   arrival order. Equal versions keep the stored one. No read is needed.
//   One write() is one atomic batch and one WAL record, however many
//   records it holds: the node applies all the replica writes of a loop
//   iteration with one call (node/core/replica_store.h).
// - A write that returned ok is durable against a killed process once a
//   later flush_wal() returned ok; with `sync` that flush also fsyncs
//   (survives power loss). Callers flush once per batch of requests, before
//   acknowledging any of them (group commit). meta_put and open_identity
//   are synced on their own.
// - Tombstones older than Options::tombstone_grace_s (by their version's
//   timestamp, against Options::clock_us) may be purged by compaction; never
//   younger ones.
// - Errors are values (Status); an engine never throws and never aborts on
//   an I/O error (disk full is reported as kNoSpace and changes nothing).
// - Snapshots (kv snapshot) are consistent point-in-time copies of every
//   column family, named by a tag (snapshot_tag.h); RocksDbEngine keeps them
//   as RocksDB checkpoints under Options::snapshots_path/TAG (hard links to
//   the immutable table files, so they are fast and cheap), MemoryEngine as
//   copies in memory. restore_rocksdb_snapshot() swaps one back in offline.
//
// Thread model: one Engine is used from one thread at a time (the node's
// loop); implementations may run background threads of their own.
#pragma once

#include <cstddef>
#include <cstdint>
#include <expected>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "storage/record.h"

namespace ringkv::storage {

enum class ErrorKind { kIo, kNoSpace, kCorruption, kInvalidArgument };

struct Error {
  ErrorKind kind = ErrorKind::kIo;
  std::string message;
};

template <typename T>
using Result = std::expected<T, Error>;
using Status = std::expected<void, Error>;

// RocksDB's memory (ignored by MemoryEngine): the block cache, and every
// column family's memtables together (a write buffer manager flushes the
// largest memtable when they reach this). Index and filter blocks are held
// in the block cache too, so these two bound most of what RocksDB keeps.
struct MemoryBudget {
  uint64_t block_cache_bytes = 32ull << 20;    // kvnode --rocksdb-block-cache-mib
  uint64_t write_buffers_bytes = 32ull << 20;  // kvnode --rocksdb-write-buffers-mib
};

struct Options {
  // Where RocksDB keeps its files (ignored by MemoryEngine).
  std::string path;
  MemoryBudget memory;
  // fsync the WAL in flush_wal().
  bool sync = false;
  // Tombstones whose version timestamp is older than this may be purged.
  uint64_t tombstone_grace_s = 10 * 24 * 3600;
  // Wall clock used by compaction to age tombstones, in microseconds since
  // the Unix epoch. REQUIRES: set (the caller owns time), and safe to call
  // from any thread: RocksDbEngine calls it from its background compactions.
  std::function<uint64_t()> clock_us;
  // Folder holding the snapshots (one sub-folder per tag; RocksDbEngine
  // only); empty: snapshots are refused with kInvalidArgument.
  std::string snapshots_path;
};

// One user record found by a scan, with the storage key it lives under.
struct Entry {
  std::string storage_key;
  Record record;
};

// A range of ring positions [begin, end) with a resume point. `end == 0`
// means "to the end of the ring" (2^64). Wrap-around ranges are split by the
// caller into two.
struct ScanRange {
  uint64_t begin = 0;
  uint64_t end = 0;
  // When non-empty, the scan resumes strictly after this storage key.
  std::string after_storage_key;
};

struct ScanBatch {
  std::vector<Entry> entries;
  // True when the range has no entries beyond this batch.
  bool done = true;
};

inline constexpr size_t kNodeIdBytes = 16;

// A hint: a record held for `target` (the 16-byte node id of the intended
// replica). `sequence` orders hints of one target and makes their keys unique:
// putting a hint with the (target, sequence) of a stored one replaces it.
struct Hint {
  std::string target;
  uint64_t sequence = 0;
  std::string user_key;
  Record record;
};

// What a target's hints hold: how many, and their payload bytes (user key +
// value of each, the measure hint_payload_bytes gives).
struct HintTally {
  uint64_t count = 0;
  uint64_t bytes = 0;
  bool operator==(const HintTally&) const = default;
};
inline uint64_t hint_payload_bytes(const Hint& hint) { return hint.user_key.size() + hint.record.value.size(); }

// Node identity persisted in `meta`.
struct Identity {
  std::string node_id;      // 16 random bytes, created on first open
  uint64_t generation = 0;  // 1 on first open, +1 on every later open
};

// One snapshot as listed.
struct SnapshotInfo {
  std::string tag;
  uint64_t created_us = 0;  // when it was made, Unix microseconds
  // Size of its files. RocksDbEngine's share their table files with the live
  // data by hard links, so this is not what the snapshot adds to the disk
  // (at first almost nothing; more as compaction replaces live files).
  uint64_t bytes = 0;
};

struct Stats {
  uint64_t data_keys_estimate = 0;
  uint64_t data_bytes_estimate = 0;
  uint64_t hints_count = 0;
  // RocksDB's own figures for monitoring, over every column family (the
  // in-memory engine has none and reports zeros): live SST bytes, memtable
  // bytes, bytes compaction still has to rewrite, and write stalls so far
  // (writes slowed down or stopped because compaction fell behind).
  uint64_t live_sst_bytes = 0;
  uint64_t memtable_bytes = 0;
  uint64_t pending_compaction_bytes = 0;
  uint64_t write_slowdowns = 0;
  uint64_t write_stops = 0;
  // The record cache in front of the engine (record_cache.h; zeros without
  // one): lookups answered from it and not, entries evicted to stay within
  // its capacity, and what it holds now.
  uint64_t row_cache_hits = 0;
  uint64_t row_cache_misses = 0;
  uint64_t row_cache_evictions = 0;
  uint64_t row_cache_bytes = 0;
  uint64_t row_cache_entries = 0;
};

class Engine {
 public:
  virtual ~Engine() = default;

  // Applies each (user key, record) with last-write-wins, atomically as a
  // batch. REQUIRES: keys are non-empty.
  virtual Status write(const std::vector<std::pair<std::string, Record>>& batch) = 0;
  // write() of records the caller knows to be newer than what their keys
  // hold: it read each key (read/read_many) after the key's last write, and
  // nothing writes between that read and this call (one thread uses an
  // Engine). Those are the key's whole state, so RocksDbEngine stores them
  // as plain values, which later reads and writes need not merge with older
  // operands (group commit decides last-write-wins itself: replica_store.h).
  // Several records of one key apply in order. REQUIRES: each record is
  // newer than the one its key holds (or the one before it in the batch).
  virtual Status write_newer(const std::vector<std::pair<std::string, Record>>& batch) { return write(batch); }
  // The stored record (tombstones included), or nullopt when absent.
  virtual Result<std::optional<Record>> read(std::string_view user_key) = 0;
  // read() of each key, in the order given (a key may repeat), as one
  // batched lookup (RocksDB's MultiGet): the node reads the keys of one loop
  // iteration together. Any key's failure fails the whole call.
  virtual Result<std::vector<std::optional<Record>>> read_many(const std::vector<std::string>& user_keys) = 0;
  // Up to `max_entries` entries (and about `max_bytes`) of `range`, in
  // storage-key order. Tombstones are included (streaming must carry them).
  // A batch counts storage key + encoded record bytes and stops once it
  // reaches `max_bytes`, but always holds at least one entry when the range
  // has one, so a scan always progresses. To resume, pass the last entry's
  // storage key as `after_storage_key`.
  // REQUIRES: max_entries > 0; range.end == 0 or range.begin <= range.end.
  virtual Result<ScanBatch> scan(const ScanRange& range, size_t max_entries, size_t max_bytes) = 0;
  // Removes every data entry whose position is in [begin, end) (end 0 = 2^64).
  virtual Status delete_range(uint64_t begin, uint64_t end) = 0;

  // Hints: stored durably, listed per target in sequence order, removed one
  // by one once delivered. Deleting an absent hint is ok.
  // REQUIRES: target.size() == kNodeIdBytes.
  virtual Status put_hint(const Hint& hint) = 0;
  // Up to max_hints hints of `target` with a sequence above after_sequence
  // (0: from the first), in sequence order. Resuming after the last one seen
  // keeps a long replay from rescanning the deletions behind it.
  virtual Result<std::vector<Hint>> hints_for(std::string_view target, size_t max_hints,
                                              uint64_t after_sequence) = 0;
  virtual Status delete_hint(std::string_view target, uint64_t sequence) = 0;
  // Hints held per target (a full pass over `hints`: call at start-up, then
  // keep the tallies up to date yourself).
  virtual Result<std::map<std::string, HintTally>> hint_tallies() = 0;

  // Small named values in `meta`; meta_put is always fsynced (they are rare
  // and the node's identity and state depend on them). The names "node_id"
  // and "generation" belong to open_identity().
  virtual Result<std::optional<std::string>> meta_get(std::string_view name) = 0;
  virtual Status meta_put(std::string_view name, std::string_view value) = 0;

  // Reads the identity, creating it with `new_node_id` on first open, and
  // persists (fsynced) generation + 1. Call once per process start. A stored
  // identity that is malformed is kCorruption.
  // REQUIRES: new_node_id.size() == kNodeIdBytes.
  virtual Result<Identity> open_identity(std::string_view new_node_id) = 0;

  // Makes every write so far survive a process kill (and, with
  // Options::sync, a power loss). Cheap when nothing was written since.
  virtual Status flush_wal() = 0;

  // Runs a full compaction now (purges tombstones past their grace).
  virtual Status compact() = 0;
  // Estimates for monitoring; hints_count is exact.
  virtual Stats stats() = 0;

  // Makes a consistent point-in-time copy of every column family (every
  // write that returned before it is in it), named `tag`. kInvalidArgument
  // (nothing made) for a tag snapshot_tag_problem() rejects, a tag already
  // taken, or an engine without snapshots.
  virtual Result<SnapshotInfo> create_snapshot(std::string_view tag) = 0;
  // Every snapshot, ordered by tag.
  virtual Result<std::vector<SnapshotInfo>> snapshots() = 0;
  // Deletes snapshot `tag`; kInvalidArgument when there is none.
  virtual Status remove_snapshot(std::string_view tag) = 0;
};

// Opens (creating if needed) a RocksDB-backed engine at options.path.
Result<std::unique_ptr<Engine>> open_rocksdb_engine(const Options& options);

struct RestoreReport {
  std::string tag;
  uint64_t generation = 0;  // the generation the restored data now holds
  bool replaced_data = false;  // false when options.path held no database
};

// Offline restore (kvnode --restore-snapshot TAG, the node stopped): replaces
// the database at options.path with snapshot `tag` from
// options.snapshots_path, keeping the snapshot. The restored identity keeps
// the node id and holds a generation no lower than the replaced database's,
// so the next start outranks every generation peers saw (their replay guards
// refuse an older one). Refused, changing nothing, when the database is open
// (the node runs), the snapshot is missing, it belongs to another node id, or
// an earlier restore was killed between the two renames of the swap
// (PATH -> PATH.replaced, PATH.restoring -> PATH): PATH.replaced then holds
// the data, and the operator renames it back.
Result<RestoreReport> restore_rocksdb_snapshot(const Options& options, std::string_view tag);

}  // namespace ringkv::storage
