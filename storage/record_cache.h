// CachedEngine: a bounded in-memory cache of data records in front of another
// Engine (what Cassandra's row cache and ScyllaDB's cache do), so reads of hot
// keys and the read-before-write of group commit (ReplicaStore::commit's
// read_many) skip RocksDB.
//
// What it holds: the answer the inner engine gave for a user key of the `data`
// column family, that is a record (tombstones and expired values too: they
// answer as the engine would) or "absent". Least recently used entries are
// evicted once the entries' bytes exceed RecordCacheLimits::capacity_bytes; an
// entry counts its key, its value and kEntryOverheadBytes. Records whose value
// exceeds value_bytes_max are not cached.
//
// How it stays equal to the inner engine:
// - read/read_many answer hits from the cache; the misses of one call go to
//   the inner engine in ONE read_many (a key asked twice is asked twice, as
//   callers dedupe their keys already) and are inserted, "absent" included.
// - write() and write_newer(): after the inner write succeeded, a cached key
//   holds the last-write-wins winner of cached and written (the engine rule:
//   the greater Version wins, an equal one keeps the stored). An uncached key
//   is not inserted: the stored record may be newer and is unknown here. A
//   failed inner write erases every key of the batch (what landed is unknown).
// - delete_range() erases the cached keys whose ring position is in the range
//   (not the whole cache: cleanup drops a few ranges after a topology change,
//   and the rest of the cache stays true). One pass over the entries.
// - Compaction may purge a tombstone or an expired value past the grace
//   (engine.h). A cached record that is purgeable now (record.h purgeable(),
//   with the cutoff from Options::clock_us and tombstone_grace_s) is never
//   served and never merged with: it is dropped and the key read from the
//   inner engine again, so a purge is seen as the engine shows it.
// - Hints, meta, scan, flush_wal, compact, snapshots and stats pass through
//   (stats adds the cache's figures).
//
// What can differ from the inner engine: only if the wall clock steps back
// after a compaction ran, a record that compaction purged at the later cutoff
// is not yet purgeable at the earlier one and may be served from the cache: a
// read then sees a tombstone or an expired value instead of nothing, which
// every caller already treats as absent. Last-write-wins decisions change only
// for a write older than that record, which was written more than the grace
// ago: through the cache it loses to the record (ReplicaStore refuses it and
// its coordinator re-stamps) as it would on an engine whose compaction had not
// purged it yet; the contract makes purging optional ("may be purged"), so
// both outcomes are ones the engine itself allows, and the grace exists so
// that such old writes do not occur.
//
// REQUIRES: while a CachedEngine exists, every change to the inner engine's
// data goes through it (the node opens RocksDB, wraps it, and uses only the
// wrapper; an offline snapshot restore happens before either exists).
//
// Thread model: one thread at a time, like every Engine; the inner engine
// outlives this object.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "storage/engine.h"

namespace ringkv::storage {

struct RecordCacheLimits {
  // Bytes of all entries together (kvnode --row-cache-mib).
  uint64_t capacity_bytes = 16ull << 20;
  // Records with a larger value are not cached (a few large values would
  // push out many small hot ones).
  size_t value_bytes_max = 16 << 10;

  // Empty when usable, else what is wrong.
  std::string validate() const;
};

// What one entry costs beyond its key and value bytes: its list node (links,
// key and record headers) and its hash-index node and bucket, with the
// allocator's headers (184 bytes with libstdc++ and glibc on 64-bit; see
// record_cache.cc for the sum).
inline constexpr size_t kEntryOverheadBytes = 192;

class CachedEngine final : public Engine {
 public:
  // `options` gives the purge cutoff: its clock_us and tombstone_grace_s must
  // be those the inner engine was opened with.
  // REQUIRES: limits.validate() is empty; options.clock_us is set.
  CachedEngine(Engine& inner, RecordCacheLimits limits, const Options& options);

  Status write(const std::vector<std::pair<std::string, Record>>& batch) override;
  // The inner engine's write_newer (so RocksDB stores plain values), then the
  // cache as after write().
  Status write_newer(const std::vector<std::pair<std::string, Record>>& batch) override;
  Result<std::optional<Record>> read(std::string_view user_key) override;
  Result<std::vector<std::optional<Record>>> read_many(const std::vector<std::string>& user_keys) override;
  Result<ScanBatch> scan(const ScanRange& range, size_t max_entries, size_t max_bytes) override {
    return inner_.scan(range, max_entries, max_bytes);
  }
  Status delete_range(uint64_t begin, uint64_t end) override;

  Status put_hint(const Hint& hint) override { return inner_.put_hint(hint); }
  Result<std::vector<Hint>> hints_for(std::string_view target, size_t max_hints,
                                      uint64_t after_sequence) override {
    return inner_.hints_for(target, max_hints, after_sequence);
  }
  Status delete_hint(std::string_view target, uint64_t sequence) override {
    return inner_.delete_hint(target, sequence);
  }
  Result<std::map<std::string, HintTally>> hint_tallies() override { return inner_.hint_tallies(); }

  Result<std::optional<std::string>> meta_get(std::string_view name) override { return inner_.meta_get(name); }
  Status meta_put(std::string_view name, std::string_view value) override { return inner_.meta_put(name, value); }
  Result<Identity> open_identity(std::string_view new_node_id) override {
    return inner_.open_identity(new_node_id);
  }

  Status flush_wal() override { return inner_.flush_wal(); }
  Status compact() override { return inner_.compact(); }
  // The inner engine's figures with the row_cache_* ones filled in.
  Stats stats() override;

  Result<SnapshotInfo> create_snapshot(std::string_view tag) override { return inner_.create_snapshot(tag); }
  Result<std::vector<SnapshotInfo>> snapshots() override { return inner_.snapshots(); }
  Status remove_snapshot(std::string_view tag) override { return inner_.remove_snapshot(tag); }

 private:
  struct Node {
    std::string key;
    std::optional<Record> record;  // nullopt: the inner engine holds nothing
  };
  using Lru = std::list<Node>;  // most recently used first

  uint64_t cutoff_us() const;
  // After an inner write of `batch` that returned `written`: cached keys take
  // the last-write-wins winner, or all of the batch's are erased on failure.
  Status remember(const std::vector<std::pair<std::string, Record>>& batch, Status written);
  // The entry of `key`, moved to the front; end() when there is none or it
  // held a record that may have been purged (that entry is erased).
  Lru::iterator find(std::string_view key, uint64_t cutoff_us);
  // Caches the inner engine's answer for a key, unless it is cached already
  // (asked twice in one read_many) or too large.
  void insert(std::string_view key, const std::optional<Record>& record);
  void erase(Lru::iterator node);
  void evict_to_capacity();
  bool cacheable(const std::optional<Record>& record) const;
  bool cacheable(const Record& record) const;
  static size_t charge(const Node& node);

  Engine& inner_;
  RecordCacheLimits limits_;
  std::function<uint64_t()> clock_us_;
  uint64_t tombstone_grace_s_;

  Lru lru_;
  // Keys view the key strings of lru_'s nodes (list nodes never move).
  std::unordered_map<std::string_view, Lru::iterator> index_;
  uint64_t bytes_ = 0;
  uint64_t hits_ = 0;
  uint64_t misses_ = 0;
  uint64_t evictions_ = 0;
};

}  // namespace ringkv::storage
