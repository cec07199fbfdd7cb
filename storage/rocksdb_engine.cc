// RocksDbEngine: the Engine on RocksDB, and the only file in ringkv that
// includes RocksDB. It is reached through open_rocksdb_engine() (engine.h).
//
// Layout on disk:
// - `data`: storage key -> encoded Record (record.h). Writes are Merge
//   operands; the LastWriteWins merge operator keeps the operand with the
//   greatest Version, so a write never reads first. Tombstones past their
//   grace are dropped by the TombstonePurge compaction filter.
// - `hints`: hints encoded as hint_codec.h states, so one target's hints are
//   contiguous and in sequence order.
// - `meta`: name -> value with plain Put/Get.
// Snapshots are RocksDB checkpoints under Options::snapshots_path/TAG (see
// snapshot_folder.h for listing and removal).
#include <rocksdb/cache.h>
#include <rocksdb/compaction_filter.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/merge_operator.h>
#include <rocksdb/metadata.h>
#include <rocksdb/perf_level.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/checkpoint.h>
#include <rocksdb/write_batch.h>

#include <cassert>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <map>

#include "storage/engine.h"
#include "storage/engine_rules.h"
#include "storage/hint_codec.h"
#include "storage/snapshot_folder.h"
#include "storage/storage_key.h"

namespace ringkv::storage {
namespace {

constexpr size_t kMiB = 1024 * 1024;

rocksdb::Slice as_slice(std::string_view bytes) { return {bytes.data(), bytes.size()}; }
std::string_view as_view(const rocksdb::Slice& slice) { return {slice.data(), slice.size()}; }

Error to_error(const rocksdb::Status& status) {
  ErrorKind kind = ErrorKind::kIo;
  // IsNoSpace() covers RocksDB's own mapping of ENOSPC; the subcode and text
  // checks catch a NoSpace that some path reports under another code.
  if (status.IsNoSpace() || status.subcode() == rocksdb::Status::kNoSpace ||
      status.ToString().find("No space") != std::string::npos) {
    kind = ErrorKind::kNoSpace;
  } else if (status.IsCorruption()) {
    kind = ErrorKind::kCorruption;
  } else if (status.IsInvalidArgument()) {
    kind = ErrorKind::kInvalidArgument;
  }
  return Error{kind, status.ToString()};
}

Status to_status(const rocksdb::Status& status) {
  if (status.ok()) return {};
  return std::unexpected(to_error(status));
}

Error corruption(std::string message) { return Error{ErrorKind::kCorruption, std::move(message)}; }

// Keeps the operand with the greatest Version; on equal versions the older
// operand (the one stored first) stays, as the Engine contract requires.
// Operands are ordered oldest first. A malformed operand (only possible
// through disk corruption) loses to any well-formed one instead of failing
// the merge: a failed merge inside a compaction would stop all writes, while
// a surviving malformed value is reported as kCorruption when read.
class LastWriteWins : public rocksdb::MergeOperator {
 public:
  bool FullMergeV2(const MergeOperationInput& merge_in,
                   MergeOperationOutput* merge_out) const override {
    const rocksdb::Slice* newest = merge_in.existing_value;
    for (const rocksdb::Slice& operand : merge_in.operand_list) newest = newer(newest, &operand);
    merge_out->existing_operand = *newest;
    return true;
  }

  bool PartialMergeMulti(const rocksdb::Slice& /*key*/,
                         const std::deque<rocksdb::Slice>& operand_list, std::string* new_value,
                         rocksdb::Logger* /*logger*/) const override {
    const rocksdb::Slice* newest = nullptr;
    for (const rocksdb::Slice& operand : operand_list) newest = newer(newest, &operand);
    new_value->assign(newest->data(), newest->size());
    return true;
  }

  const char* Name() const override { return "ringkv.LastWriteWins"; }

 private:
  static const rocksdb::Slice* newer(const rocksdb::Slice* stored, const rocksdb::Slice* written) {
    if (stored == nullptr) return written;
    if (written->size() < kRecordHeaderBytes) return stored;
    if (stored->size() < kRecordHeaderBytes) return written;
    return encoded_version(as_view(*written)) > encoded_version(as_view(*stored)) ? written
                                                                                  : stored;
  }
};

// Drops tombstones whose version is older than the grace period.
//
// Why only ValueType::kValue: writes are Merge operands, and a compaction
// filters each operand on its own before merging; removing a tombstone
// operand would let an older live operand of the same key (in this
// compaction or in a lower level it does not include) come back. A kValue in
// `data` only exists where RocksDB has merged the key's whole history (it
// reached the bottom of the tree, or a base value), so it is the key's
// complete state. Removing it is also safe against anything older below:
// RocksDB turns a removed kValue into a deletion marker, which keeps hiding
// older entries until they meet at the bottommost level.
//
// Known limit, as in Cassandra: a write whose version is older than the
// grace period that arrives after the tombstone may outlive the purge. Hints
// expire and repair runs within the grace period, so no such write exists.
class TombstonePurge : public rocksdb::CompactionFilter {
 public:
  explicit TombstonePurge(uint64_t cutoff_us) : cutoff_us_(cutoff_us) {}

  Decision FilterV2(int /*level*/, const rocksdb::Slice& /*key*/, ValueType value_type,
                    const rocksdb::Slice& existing_value, std::string* /*new_value*/,
                    std::string* /*skip_until*/) const override {
    const std::string_view value = as_view(existing_value);
    if (value_type != ValueType::kValue || value.size() < kRecordHeaderBytes) {
      return Decision::kKeep;
    }
    const bool purge =
        tombstone_purgeable(encoded_tombstone(value), encoded_version(value), cutoff_us_);
    return purge ? Decision::kRemove : Decision::kKeep;
  }

  const char* Name() const override { return "ringkv.TombstonePurge"; }

 private:
  uint64_t cutoff_us_;
};

// One filter per compaction, so the clock is read once per compaction, on
// the compaction's background thread (hence Options::clock_us must be
// thread-safe).
class TombstonePurgeFactory : public rocksdb::CompactionFilterFactory {
 public:
  TombstonePurgeFactory(std::function<uint64_t()> clock_us, uint64_t grace_s)
      : clock_us_(std::move(clock_us)), grace_s_(grace_s) {}

  std::unique_ptr<rocksdb::CompactionFilter> CreateCompactionFilter(
      const rocksdb::CompactionFilter::Context& /*context*/) override {
    return std::make_unique<TombstonePurge>(tombstone_cutoff_us(clock_us_(), grace_s_));
  }

  const char* Name() const override { return "ringkv.TombstonePurgeFactory"; }

 private:
  std::function<uint64_t()> clock_us_;
  uint64_t grace_s_;
};

// Sized for a node on a 2-core box: one shared block cache, few background
// jobs, and a bloom filter where point reads happen (`data`).
struct Tuning {
  std::shared_ptr<rocksdb::Cache> block_cache = rocksdb::NewLRUCache(64 * kMiB);

  rocksdb::DBOptions db_options() const {
    rocksdb::DBOptions options;
    options.create_if_missing = true;
    options.create_missing_column_families = true;
    options.max_background_jobs = 2;
    options.avoid_unnecessary_blocking_io = true;
    // All families share one WAL; this bound makes RocksDB flush the rarely
    // written ones (hints, meta) so old WAL files do not pile up.
    options.max_total_wal_size = 256 * kMiB;
    options.keep_log_file_num = 4;
    // The node flushes the WAL once per batch of requests, before it
    // acknowledges any of them (Engine::flush_wal): one write(2), or one
    // fsync with --sync, covers the whole batch (group commit).
    options.manual_wal_flush = true;
    return options;
  }

  rocksdb::ColumnFamilyOptions family_options(size_t write_buffer_bytes, bool bloom) const {
    rocksdb::ColumnFamilyOptions options;
    options.compaction_style = rocksdb::kCompactionStyleLevel;
    options.write_buffer_size = write_buffer_bytes;
    rocksdb::BlockBasedTableOptions table;
    table.block_cache = block_cache;
    if (bloom) table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
    options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
    return options;
  }
};

class RocksDbEngine final : public Engine {
 public:
  static Result<std::unique_ptr<Engine>> open(const Options& options);
  ~RocksDbEngine() override;

  Status write(const std::vector<std::pair<std::string, Record>>& batch) override;
  Result<std::optional<Record>> read(std::string_view user_key) override;
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

  Status flush_wal() override;
  Status compact() override;
  Stats stats() override;

  Result<SnapshotInfo> create_snapshot(std::string_view tag) override;
  Result<std::vector<SnapshotInfo>> snapshots() override { return list_snapshot_folders(snapshots_path_); }
  Status remove_snapshot(std::string_view tag) override { return remove_snapshot_folder(snapshots_path_, tag); }

 private:
  RocksDbEngine() = default;

  Result<std::optional<std::string>> get(rocksdb::ColumnFamilyHandle* family, std::string_view key);
  Result<uint64_t> count_hints();
  bool data_only_in_level0();

  std::unique_ptr<rocksdb::DB> db_;
  // Every handle DB::Open returned (default included); destroyed before db_.
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  rocksdb::ColumnFamilyHandle* data_ = nullptr;
  rocksdb::ColumnFamilyHandle* hints_ = nullptr;
  rocksdb::ColumnFamilyHandle* meta_ = nullptr;
  // Ordinary writes only fill RocksDB's WAL buffer; flush_wal() writes it out
  // (and fsyncs it when sync_).
  rocksdb::WriteOptions write_options_;
  rocksdb::WriteOptions synced_write_options_;
  bool sync_ = false;
  bool wal_dirty_ = false;
  std::string snapshots_path_;
  // Exact count, loaded at open and kept by put_hint/delete_hint (which look
  // the key up first; one thread uses an Engine at a time).
  uint64_t hints_count_ = 0;
};

Result<std::unique_ptr<Engine>> RocksDbEngine::open(const Options& options) {
  assert(options.clock_us && "Options::clock_us must be set");
  if (options.path.empty()) {
    return std::unexpected(Error{ErrorKind::kInvalidArgument, "Options::path is empty"});
  }
  const Tuning tuning;
  rocksdb::ColumnFamilyOptions data_options = tuning.family_options(64 * kMiB, true);
  data_options.merge_operator = std::make_shared<LastWriteWins>();
  // A hot key overwritten many times would pile up merge operands in the
  // memtable, and every read of it merges them all (redis-benchmark's SET
  // then GET of one key: 100k operands made each GET take ~5 ms). After this
  // many operands in a row RocksDB reads the key's whole state and writes it
  // back as one value instead, so reads merge at most this many.
  data_options.max_successive_merges = 16;
  data_options.compaction_filter_factory =
      std::make_shared<TombstonePurgeFactory>(options.clock_us, options.tombstone_grace_s);
  const std::vector<rocksdb::ColumnFamilyDescriptor> families = {
      {rocksdb::kDefaultColumnFamilyName, tuning.family_options(4 * kMiB, false)},
      {"data", data_options},
      {"hints", tuning.family_options(16 * kMiB, false)},
      {"meta", tuning.family_options(4 * kMiB, false)},
  };

  std::unique_ptr<RocksDbEngine> engine(new RocksDbEngine());
  rocksdb::DB* db = nullptr;
  const rocksdb::Status status =
      rocksdb::DB::Open(tuning.db_options(), options.path, families, &engine->handles_, &db);
  if (!status.ok()) return std::unexpected(to_error(status));
  engine->db_.reset(db);
  assert(engine->handles_.size() == families.size() && "one handle per family");
  engine->data_ = engine->handles_[1];
  engine->hints_ = engine->handles_[2];
  engine->meta_ = engine->handles_[3];
  engine->sync_ = options.sync;
  engine->snapshots_path_ = options.snapshots_path;
  engine->synced_write_options_.sync = true;
  // RocksDB counts every key comparison in thread-local perf counters by
  // default; from a shared library each count is a __tls_get_addr call, and
  // callgrind put them at ~15% of a node's instructions under load. Nothing
  // reads these counters. The level is per thread: this one is the thread
  // that opens the engine, which is the one that uses it (the node's loop).
  rocksdb::SetPerfLevel(rocksdb::PerfLevel::kDisable);

  auto hints_count = engine->count_hints();
  if (!hints_count) return std::unexpected(hints_count.error());
  engine->hints_count_ = *hints_count;
  return engine;
}

RocksDbEngine::~RocksDbEngine() {
  if (!db_) return;
  (void)flush_wal();  // nothing unflushed was acknowledged, but keep what we can
  for (rocksdb::ColumnFamilyHandle* handle : handles_) {
    // Failing to release a handle only leaks it: nothing to recover here.
    (void)db_->DestroyColumnFamilyHandle(handle);
  }
  // Close() waits for background work; its status has no one left to hear
  // it, and every acknowledged write is already in the WAL.
  (void)db_->Close();
}

Result<std::optional<std::string>> RocksDbEngine::get(rocksdb::ColumnFamilyHandle* family,
                                                      std::string_view key) {
  rocksdb::PinnableSlice value;
  const rocksdb::Status status = db_->Get(rocksdb::ReadOptions(), family, as_slice(key), &value);
  if (status.IsNotFound()) return std::nullopt;
  if (!status.ok()) return std::unexpected(to_error(status));
  return value.ToString();
}

Status RocksDbEngine::write(const std::vector<std::pair<std::string, Record>>& batch) {
  rocksdb::WriteBatch write_batch;
  for (const auto& [user_key, record] : batch) {
    assert(!user_key.empty() && "user keys are non-empty");
    const rocksdb::Status status =
        write_batch.Merge(data_, storage_key(user_key), encode_record(record));
    if (!status.ok()) return std::unexpected(to_error(status));
  }
  wal_dirty_ = true;
  return to_status(db_->Write(write_options_, &write_batch));
}

Status RocksDbEngine::flush_wal() {
  if (!wal_dirty_) return {};
  const rocksdb::Status status = db_->FlushWAL(sync_);
  if (!status.ok()) return std::unexpected(to_error(status));
  wal_dirty_ = false;
  return {};
}

Result<std::optional<Record>> RocksDbEngine::read(std::string_view user_key) {
  auto value = get(data_, storage_key(user_key));
  if (!value) return std::unexpected(value.error());
  if (!*value) return std::nullopt;
  Record record;
  if (!decode_record(**value, record)) return std::unexpected(corruption("malformed record"));
  return record;
}

Result<ScanBatch> RocksDbEngine::scan(const ScanRange& range, size_t max_entries,
                                      size_t max_bytes) {
  assert_scan_arguments(range, max_entries);
  const std::optional<std::string> upper = scan_upper_bound(range);
  rocksdb::Slice upper_slice;
  rocksdb::ReadOptions read_options;
  if (upper) {
    upper_slice = as_slice(*upper);
    read_options.iterate_upper_bound = &upper_slice;
  }
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read_options, data_));
  ScanBatch batch;
  size_t bytes = 0;
  for (it->Seek(scan_lower_bound(range)); it->Valid(); it->Next()) {
    if (scan_batch_full(batch.entries.size(), bytes, max_entries, max_bytes)) {
      batch.done = false;
      break;
    }
    Entry entry{it->key().ToString(), {}};
    if (!decode_record(as_view(it->value()), entry.record)) {
      return std::unexpected(corruption("malformed record"));
    }
    bytes += scan_entry_bytes(entry.storage_key, entry.record.value.size());
    batch.entries.push_back(std::move(entry));
  }
  if (!it->status().ok()) return std::unexpected(to_error(it->status()));
  return batch;
}

Status RocksDbEngine::delete_range(uint64_t begin, uint64_t end) {
  constexpr uint64_t kLastPosition = std::numeric_limits<uint64_t>::max();
  if (end != 0 && begin >= end) return {};
  rocksdb::WriteBatch batch;
  const uint64_t range_end = end == 0 ? kLastPosition : end;
  rocksdb::Status status;
  if (begin < range_end) {
    status = batch.DeleteRange(data_, position_prefix(begin), position_prefix(range_end));
  }
  // No finite exclusive bound lies past every key at the last position
  // (2^64 - 1), so "to the end of the ring" deletes those keys one by one.
  // They are as rare as an XXH64 of exactly 2^64 - 1.
  if (end == 0 && status.ok()) {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), data_));
    for (it->Seek(position_prefix(kLastPosition)); it->Valid() && status.ok(); it->Next()) {
      status = batch.Delete(data_, it->key());
    }
    if (status.ok()) status = it->status();
  }
  if (!status.ok()) return std::unexpected(to_error(status));
  wal_dirty_ = true;
  return to_status(db_->Write(write_options_, &batch));
}

Status RocksDbEngine::put_hint(const Hint& hint) {
  const std::string key = hint_key(hint.target, hint.sequence);
  auto existing = get(hints_, key);
  if (!existing) return std::unexpected(existing.error());
  wal_dirty_ = true;
  const rocksdb::Status status = db_->Put(write_options_, hints_, key, encode_hint_value(hint));
  if (!status.ok()) return std::unexpected(to_error(status));
  if (!*existing) ++hints_count_;
  return {};
}

Result<std::vector<Hint>> RocksDbEngine::hints_for(std::string_view target, size_t max_hints,
                                                   uint64_t after_sequence) {
  assert(target.size() == kNodeIdBytes && "hint targets are node ids");
  std::vector<Hint> hints;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), hints_));
  if (after_sequence == UINT64_MAX) return hints;
  const std::string start = hint_key(target, after_sequence + 1);
  for (it->Seek(start); it->Valid() && hints.size() < max_hints; it->Next()) {
    const std::string_view key = as_view(it->key());
    if (!key.starts_with(target)) break;
    auto hint = decode_hint(key, as_view(it->value()));
    if (!hint) return std::unexpected(hint.error());
    hints.push_back(std::move(*hint));
  }
  if (!it->status().ok()) return std::unexpected(to_error(it->status()));
  return hints;
}

Status RocksDbEngine::delete_hint(std::string_view target, uint64_t sequence) {
  const std::string key = hint_key(target, sequence);
  auto existing = get(hints_, key);
  if (!existing) return std::unexpected(existing.error());
  if (!*existing) return {};
  wal_dirty_ = true;
  const rocksdb::Status status = db_->Delete(write_options_, hints_, key);
  if (!status.ok()) return std::unexpected(to_error(status));
  --hints_count_;
  return {};
}

Result<std::map<std::string, HintTally>> RocksDbEngine::hint_tallies() {
  std::map<std::string, HintTally> tallies;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), hints_));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const std::string_view key = as_view(it->key());
    if (key.size() < kNodeIdBytes) continue;
    HintTally& tally = tallies[std::string(key.substr(0, kNodeIdBytes))];
    ++tally.count;
    // A hint that does not decode is counted (it still takes a place under
    // the target's cap) but adds no bytes; hints_for() reports it.
    if (auto hint = decode_hint(key, as_view(it->value()))) tally.bytes += hint_payload_bytes(*hint);
  }
  if (!it->status().ok()) return std::unexpected(to_error(it->status()));
  return tallies;
}

Result<uint64_t> RocksDbEngine::count_hints() {
  uint64_t count = 0;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), hints_));
  for (it->SeekToFirst(); it->Valid(); it->Next()) ++count;
  if (!it->status().ok()) return std::unexpected(to_error(it->status()));
  return count;
}

Result<std::optional<std::string>> RocksDbEngine::meta_get(std::string_view name) {
  return get(meta_, name);
}

Status RocksDbEngine::meta_put(std::string_view name, std::string_view value) {
  const rocksdb::Status status = db_->Put(synced_write_options_, meta_, as_slice(name), as_slice(value));
  if (!status.ok()) return std::unexpected(to_error(status));
  return to_status(db_->FlushWAL(/*sync=*/true));
}

Result<Identity> RocksDbEngine::open_identity(std::string_view new_node_id) {
  auto node_id = meta_get(kMetaNodeId);
  if (!node_id) return std::unexpected(node_id.error());
  auto generation = meta_get(kMetaGeneration);
  if (!generation) return std::unexpected(generation.error());
  auto identity = next_identity(*node_id, *generation, new_node_id);
  if (!identity) return identity;

  rocksdb::WriteBatch batch;
  rocksdb::Status status = batch.Put(meta_, as_slice(kMetaNodeId), identity->node_id);
  if (status.ok()) {
    status = batch.Put(meta_, as_slice(kMetaGeneration), encode_generation(identity->generation));
  }
  if (status.ok()) status = db_->Write(synced_write_options_, &batch);
  if (status.ok()) status = db_->FlushWAL(/*sync=*/true);
  if (!status.ok()) return std::unexpected(to_error(status));
  return identity;
}

bool RocksDbEngine::data_only_in_level0() {
  rocksdb::ColumnFamilyMetaData metadata;
  db_->GetColumnFamilyMetaData(data_, &metadata);
  for (const rocksdb::LevelMetaData& level : metadata.levels) {
    if (level.level > 0 && !level.files.empty()) return false;
  }
  return true;
}

Status RocksDbEngine::compact() {
  rocksdb::Status status = db_->Flush(rocksdb::FlushOptions(), {data_, hints_, meta_});
  if (!status.ok()) return std::unexpected(to_error(status));
  // A compaction from level 0 alone folds merge operands into full values in
  // level 1 but never shows those new values to the filter (see
  // TombstonePurge), so that case takes a second pass over the bottom level.
  // With deeper levels one pass ends with the forced bottom-level rewrite.
  const int data_passes = data_only_in_level0() ? 2 : 1;
  rocksdb::CompactRangeOptions compact_options;
  compact_options.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
  for (int pass = 0; pass < data_passes && status.ok(); ++pass) {
    status = db_->CompactRange(compact_options, data_, nullptr, nullptr);
  }
  for (rocksdb::ColumnFamilyHandle* family : {hints_, meta_}) {
    if (status.ok()) status = db_->CompactRange(compact_options, family, nullptr, nullptr);
  }
  return to_status(status);
}

Stats RocksDbEngine::stats() {
  Stats stats;
  uint64_t sst_bytes = 0;
  uint64_t memtable_bytes = 0;
  // A property that cannot be read leaves its figure at 0: these are
  // estimates for monitoring, not worth failing over.
  db_->GetIntProperty(data_, "rocksdb.estimate-num-keys", &stats.data_keys_estimate);
  db_->GetIntProperty(data_, "rocksdb.live-sst-files-size", &sst_bytes);
  db_->GetIntProperty(data_, "rocksdb.cur-size-all-mem-tables", &memtable_bytes);
  stats.data_bytes_estimate = sst_bytes + memtable_bytes;
  stats.hints_count = hints_count_;
  for (rocksdb::ColumnFamilyHandle* family : handles_) {
    uint64_t value = 0;
    if (db_->GetIntProperty(family, "rocksdb.live-sst-files-size", &value)) stats.live_sst_bytes += value;
    if (db_->GetIntProperty(family, "rocksdb.cur-size-all-mem-tables", &value)) stats.memtable_bytes += value;
    if (db_->GetIntProperty(family, "rocksdb.estimate-pending-compaction-bytes", &value)) {
      stats.pending_compaction_bytes += value;
    }
    std::map<std::string, std::string> cf_stats;
    if (db_->GetMapProperty(family, rocksdb::DB::Properties::kCFStats, &cf_stats)) {
      auto figure = [&](const char* name) -> uint64_t {
        auto it = cf_stats.find(name);
        return it == cf_stats.end() ? 0 : std::strtoull(it->second.c_str(), nullptr, 10);
      };
      stats.write_slowdowns += figure("io_stalls.total_slowdown");
      stats.write_stops += figure("io_stalls.total_stop");
    }
  }
  return stats;
}

Result<SnapshotInfo> RocksDbEngine::create_snapshot(std::string_view tag) {
  auto folder = snapshot_folder(snapshots_path_, tag);
  if (!folder) return std::unexpected(folder.error());
  std::error_code ec;
  if (std::filesystem::exists(*folder, ec)) {
    return std::unexpected(Error{ErrorKind::kInvalidArgument, "snapshot " + std::string(tag) + " exists"});
  }
  std::filesystem::create_directories(snapshots_path_, ec);
  if (ec) return std::unexpected(Error{ErrorKind::kIo, "cannot create " + snapshots_path_ + ": " + ec.message()});
  // Writes acknowledged so far may still sit in the WAL buffer
  // (manual_wal_flush); the checkpoint must hold them.
  if (auto flushed = flush_wal(); !flushed) return std::unexpected(flushed.error());
  rocksdb::Checkpoint* raw = nullptr;
  rocksdb::Status status = rocksdb::Checkpoint::Create(db_.get(), &raw);
  std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
  // log_size_for_flush 0: flush every memtable first, so the checkpoint is
  // table files (hard links) and no WAL to replay.
  if (status.ok()) status = checkpoint->CreateCheckpoint(*folder, /*log_size_for_flush=*/0);
  if (!status.ok()) return std::unexpected(to_error(status));
  return snapshot_info(snapshots_path_, tag);
}

}  // namespace

Result<std::unique_ptr<Engine>> open_rocksdb_engine(const Options& options) {
  return RocksDbEngine::open(options);
}

}  // namespace ringkv::storage
