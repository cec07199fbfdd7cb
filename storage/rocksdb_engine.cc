// RocksDbEngine: the Engine on RocksDB, and the only file in ringkv that
// includes RocksDB. It is reached through open_rocksdb_engine() (engine.h).
//
// Layout on disk:
// - `data`: storage key -> encoded Record (record.h). Writes are Merge
//   operands; the LastWriteWins merge operator keeps the operand with the
//   greatest Version, so a write never reads first. Records the caller
//   already found newer (write_newer: group commit read the key) are plain
//   Puts, the key's whole state, which reads then find without merging. Tombstones past their
//   grace are dropped by the TombstonePurge compaction filter.
// - `hints`: hints encoded as hint_codec.h states, so one target's hints are
//   contiguous and in sequence order.
// - `meta`: name -> value with plain Put/Get.
// Snapshots are RocksDB checkpoints under Options::snapshots_path/TAG (see
// snapshot_folder.h for listing and removal).
//
// Storage failure (a full disk, an I/O error): RocksDB then holds a
// "background error" and refuses writes until DB::Resume(). Two of its
// reactions are dangerous and avoided here. (1) Its own info LOG writer aborts
// the process (an assertion Debian's build keeps) on the first line it writes
// after one failed write: the LOG goes through TolerantLogger instead, which
// drops what it cannot write. (2) FlushWAL() on the WAL writer that failed
// reports a plain I/O error that RocksDB escalates to a fatal one, which no
// Resume() clears: after a failure the engine latches the error and touches
// neither the WAL nor RocksDB's write path until a Resume() succeeds. It tries
// one at most every kResumeIntervalUs, from the next call that would write;
// RocksDB's own recovery is off because it waits for free space the size of
// every write buffer together (88 MiB), more than a small disk ever frees.
// A Resume() writes the memtables out as table files, so it is only tried
// once the disk has that much free space: while the disk stays full, a try
// costs one statvfs, not a doomed flush that stalls the node's loop.
#include <fcntl.h>
#include <rocksdb/cache.h>
#include <rocksdb/compaction_filter.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/listener.h>
#include <rocksdb/merge_operator.h>
#include <rocksdb/metadata.h>
#include <rocksdb/perf_level.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/checkpoint.h>
#include <rocksdb/write_batch.h>
#include <rocksdb/write_buffer_manager.h>

#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <limits>
#include <map>
#include <mutex>

#include "storage/engine.h"
#include "storage/engine_rules.h"
#include "storage/hint_codec.h"
#include "storage/snapshot_folder.h"
#include "storage/storage_key.h"

namespace ringkv::storage {
namespace {

constexpr size_t kMiB = 1024 * 1024;
// How often a latched storage error is retried (DB::Resume()) while calls
// keep wanting to write: each try flushes the memtables, so not in a loop.
constexpr uint64_t kResumeIntervalUs = 500'000;
// RocksDB's info log: LOG, moved to LOG.old when it passes this size.
constexpr uint64_t kInfoLogBytesMax = 16 * kMiB;
constexpr size_t kInfoLogLineBytesMax = 4096;

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
        purgeable(encoded_tombstone(value), encoded_version(value), encoded_expiry(value), cutoff_us_);
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

// RocksDB's info log (the LOG file in the database directory) written with
// plain write(2): a line that cannot be written (disk full) is dropped, and
// the next one is tried again. RocksDB's own EnvLogger aborts the process on
// the line after a failed write (see the top of this file). Bounded: at
// kInfoLogBytesMax the file is renamed to LOG.old (replacing the older one).
// Called from RocksDB's threads, hence the mutex.
class TolerantLogger final : public rocksdb::Logger {
 public:
  TolerantLogger(std::string directory, std::function<uint64_t()> clock_us)
      : rocksdb::Logger(rocksdb::InfoLogLevel::INFO_LEVEL),
        path_(directory + "/LOG"),
        old_path_(directory + "/LOG.old"),
        clock_us_(std::move(clock_us)) {
    std::lock_guard lock(mutex_);
    rotate();
  }
  ~TolerantLogger() override {
    if (fd_ >= 0) ::close(fd_);
  }

  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override {
    char line[kInfoLogLineBytesMax];
    const uint64_t now_us = clock_us_();
    const std::time_t seconds = static_cast<std::time_t>(now_us / 1'000'000);
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    int used = std::snprintf(line, sizeof line, "%04d/%02d/%02d-%02d:%02d:%02d.%06llu ",
                             utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday, utc.tm_hour,
                             utc.tm_min, utc.tm_sec,
                             static_cast<unsigned long long>(now_us % 1'000'000));
    if (used < 0) return;
    const int text = std::vsnprintf(line + used, sizeof line - used - 1, format, ap);
    if (text < 0) return;
    size_t size = std::min(sizeof line - 2, static_cast<size_t>(used + text));
    if (line[size - 1] != '\n') line[size++] = '\n';
    std::lock_guard lock(mutex_);
    if (bytes_ + size > kInfoLogBytesMax) rotate();
    if (fd_ < 0) return;
    // A short or failed write (no space) loses this line only.
    const ssize_t written = ::write(fd_, line, size);
    if (written > 0) bytes_ += static_cast<uint64_t>(written);
  }

  size_t GetLogFileSize() const override {
    std::lock_guard lock(mutex_);
    return bytes_;
  }

 private:
  // REQUIRES: mutex_ held.
  void rotate() {
    if (fd_ >= 0) ::close(fd_);
    // A failed rename only means the old lines are overwritten.
    (void)std::rename(path_.c_str(), old_path_.c_str());
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
    bytes_ = 0;
  }

  const std::string path_;
  const std::string old_path_;
  const std::function<uint64_t()> clock_us_;
  mutable std::mutex mutex_;
  int fd_ = -1;
  uint64_t bytes_ = 0;
};

// Turns RocksDB's automatic recovery from a full disk off (the engine calls
// DB::Resume() itself; see the top of this file).
class ManualRecovery final : public rocksdb::EventListener {
 public:
  void OnErrorRecoveryBegin(rocksdb::BackgroundErrorReason /*reason*/, rocksdb::Status bg_error,
                            bool* auto_recovery) override {
    bg_error.PermitUncheckedError();
    *auto_recovery = false;
  }
};

// Sized for a node on a 2-core box: one shared block cache, few background
// jobs, and a bloom filter where point reads happen (`data`). Memory is
// bounded by Options::memory: the block cache (holding index and filter
// blocks too) and one write buffer manager over every family's memtables.
struct Tuning {
  explicit Tuning(const MemoryBudget& memory)
      : block_cache(rocksdb::NewLRUCache(std::max<size_t>(memory.block_cache_bytes, kMiB))),
        write_buffers(std::make_shared<rocksdb::WriteBufferManager>(std::max<size_t>(memory.write_buffers_bytes, kMiB))),
        write_buffers_bytes(std::max<size_t>(memory.write_buffers_bytes, kMiB)) {}

  std::shared_ptr<rocksdb::Cache> block_cache;
  std::shared_ptr<rocksdb::WriteBufferManager> write_buffers;
  size_t write_buffers_bytes;

  // One memtable of a family: at most `bytes_max`, and a share of the budget
  // (with the immutable one being flushed, a family holds about twice this).
  size_t memtable_bytes(size_t bytes_max, size_t budget_share) const {
    return std::clamp<size_t>(write_buffers_bytes / budget_share, kMiB, bytes_max);
  }

  rocksdb::DBOptions db_options(const Options& engine_options) const {
    rocksdb::DBOptions options;
    options.create_if_missing = true;
    options.info_log =
        std::make_shared<TolerantLogger>(engine_options.path, engine_options.clock_us);
    options.listeners.push_back(std::make_shared<ManualRecovery>());
    options.create_missing_column_families = true;
    options.max_background_jobs = 2;
    options.avoid_unnecessary_blocking_io = true;
    // All families share one WAL; this bound makes RocksDB flush the rarely
    // written ones (hints, meta) so old WAL files do not pile up.
    options.max_total_wal_size = 256 * kMiB;
    // The node flushes the WAL once per batch of requests, before it
    // acknowledges any of them (Engine::flush_wal): one write(2), or one
    // fsync with --sync, covers the whole batch (group commit).
    options.manual_wal_flush = true;
    options.write_buffer_manager = write_buffers;
    return options;
  }

  rocksdb::ColumnFamilyOptions family_options(size_t write_buffer_bytes, bool bloom) const {
    rocksdb::ColumnFamilyOptions options;
    options.compaction_style = rocksdb::kCompactionStyleLevel;
    options.write_buffer_size = write_buffer_bytes;
    rocksdb::BlockBasedTableOptions table;
    table.block_cache = block_cache;
    table.cache_index_and_filter_blocks = true;
    table.pin_l0_filter_and_index_blocks_in_cache = true;
    if (bloom) table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
    options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
    return options;
  }
};

class RocksDbEngine final : public Engine {
 public:
  static Result<std::unique_ptr<Engine>> open(const Options& options);
  ~RocksDbEngine() override;

  Status write(const std::vector<std::pair<std::string, Record>>& batch) override { return apply(batch, false); }
  Status write_newer(const std::vector<std::pair<std::string, Record>>& batch) override {
    return apply(batch, true);
  }
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

  Status flush_wal() override;
  Status compact() override;
  Stats stats() override;

  Result<SnapshotInfo> create_snapshot(std::string_view tag) override;
  Result<std::vector<SnapshotInfo>> snapshots() override { return list_snapshot_folders(snapshots_path_); }
  Status remove_snapshot(std::string_view tag) override { return remove_snapshot_folder(snapshots_path_, tag); }

 private:
  explicit RocksDbEngine(std::function<uint64_t()> clock_us) : clock_us_(std::move(clock_us)) {}

  // Ok when writes may go to RocksDB: no error is latched, or one was and a
  // DB::Resume() (at most one per kResumeIntervalUs) cleared it. Else the
  // latched error, without touching RocksDB.
  Status writable();
  // write() (merge operands) or write_newer() (plain values) of `batch`.
  Status apply(const std::vector<std::pair<std::string, Record>>& batch, bool newer);
  // True when the disk has room for the memtables Resume() would write out
  // (or when free space cannot be known: then trying is the only way).
  bool room_to_resume();
  // `status` as a Status; a failure other than a refused argument is latched
  // (RocksDB now holds a background error that only Resume() clears).
  Status checked(const rocksdb::Status& status);

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
  std::function<uint64_t()> clock_us_;
  std::string path_;
  // The storage failure that stopped writes, until a Resume() clears it.
  std::optional<Error> latched_;
  uint64_t next_resume_us_ = 0;
  // Exact count, loaded at open and kept by put_hint/delete_hint (which look
  // the key up first; one thread uses an Engine at a time).
  uint64_t hints_count_ = 0;
};

Result<std::unique_ptr<Engine>> RocksDbEngine::open(const Options& options) {
  assert(options.clock_us && "Options::clock_us must be set");
  if (options.path.empty()) {
    return std::unexpected(Error{ErrorKind::kInvalidArgument, "Options::path is empty"});
  }
  const Tuning tuning(options.memory);
  rocksdb::ColumnFamilyOptions data_options = tuning.family_options(tuning.memtable_bytes(64 * kMiB, 2), true);
  data_options.merge_operator = std::make_shared<LastWriteWins>();
  // A hot key overwritten many times would pile up merge operands in the
  // memtable, and every read of it merges them all (redis-benchmark's SET
  // then GET of one key: 100k operands made each GET take ~5 ms). After this
  // many operands in a row RocksDB reads the key's whole state and writes it
  // back as one value instead, so reads merge at most this many.
  data_options.max_successive_merges = 16;
  // A bloom filter over the memtable's keys: group commit's read before
  // write of a key the memtable lacks (a new key, or one only in the SST
  // files) skips the skiplist search (random-key SETs: -20 % instructions).
  data_options.memtable_whole_key_filtering = true;
  data_options.memtable_prefix_bloom_size_ratio = 0.05;
  data_options.compaction_filter_factory =
      std::make_shared<TombstonePurgeFactory>(options.clock_us, options.tombstone_grace_s);
  const std::vector<rocksdb::ColumnFamilyDescriptor> families = {
      {rocksdb::kDefaultColumnFamilyName, tuning.family_options(tuning.memtable_bytes(4 * kMiB, 8), false)},
      {"data", data_options},
      {"hints", tuning.family_options(tuning.memtable_bytes(16 * kMiB, 4), false)},
      {"meta", tuning.family_options(tuning.memtable_bytes(4 * kMiB, 8), false)},
  };

  // The info log lives in the database directory, which must exist first.
  std::error_code made;
  std::filesystem::create_directories(options.path, made);
  if (made) {
    return std::unexpected(Error{ErrorKind::kIo, "cannot create " + options.path + ": " + made.message()});
  }
  std::unique_ptr<RocksDbEngine> engine(new RocksDbEngine(options.clock_us));
  rocksdb::DB* db = nullptr;
  const rocksdb::Status status =
      rocksdb::DB::Open(tuning.db_options(options), options.path, families, &engine->handles_, &db);
  if (!status.ok()) return std::unexpected(to_error(status));
  engine->db_.reset(db);
  assert(engine->handles_.size() == families.size() && "one handle per family");
  engine->data_ = engine->handles_[1];
  engine->hints_ = engine->handles_[2];
  engine->meta_ = engine->handles_[3];
  engine->sync_ = options.sync;
  engine->snapshots_path_ = options.snapshots_path;
  engine->path_ = options.path;
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

Status RocksDbEngine::apply(const std::vector<std::pair<std::string, Record>>& batch, bool newer) {
  rocksdb::WriteBatch write_batch;
  for (const auto& [user_key, record] : batch) {
    assert(!user_key.empty() && "user keys are non-empty");
    const std::string key = storage_key(user_key);
    const std::string value = encode_record(record);
    // A record newer than the key's whole state replaces it (write_newer);
    // otherwise it is an operand LastWriteWins merges.
    const rocksdb::Status status = newer ? write_batch.Put(data_, key, value) : write_batch.Merge(data_, key, value);
    if (!status.ok()) return std::unexpected(to_error(status));
  }
  if (auto open = writable(); !open) return open;
  wal_dirty_ = true;
  return checked(db_->Write(write_options_, &write_batch));
}

Status RocksDbEngine::flush_wal() {
  if (!wal_dirty_) return {};
  if (latched_) {
    if (auto open = writable(); !open) return open;
    // Resume() flushed every memtable to table files (synced), and with it
    // every write that returned ok before the failure: all durable now.
    wal_dirty_ = false;
    return {};
  }
  if (auto flushed = checked(db_->FlushWAL(sync_)); !flushed) return flushed;
  wal_dirty_ = false;
  return {};
}

Status RocksDbEngine::writable() {
  if (!latched_) return {};
  const uint64_t now_us = clock_us_();
  if (now_us < next_resume_us_) return std::unexpected(*latched_);
  next_resume_us_ = now_us + kResumeIntervalUs;
  if (!room_to_resume()) return std::unexpected(*latched_);
  const rocksdb::Status resumed = db_->Resume();
  if (!resumed.ok()) {
    // Busy (a recovery already running) says nothing new about the disk.
    if (!resumed.IsBusy()) latched_ = to_error(resumed);
    return std::unexpected(*latched_);
  }
  latched_.reset();
  return {};
}

bool RocksDbEngine::room_to_resume() {
  uint64_t free_bytes = 0;
  if (!db_->GetEnv()->GetFreeSpace(path_, &free_bytes).ok()) return true;
  uint64_t memtable_bytes = 0;
  for (rocksdb::ColumnFamilyHandle* family : handles_) {
    uint64_t family_bytes = 0;
    if (db_->GetIntProperty(family, "rocksdb.cur-size-all-mem-tables", &family_bytes)) {
      memtable_bytes += family_bytes;
    }
  }
  return free_bytes > memtable_bytes;
}

Status RocksDbEngine::checked(const rocksdb::Status& status) {
  if (status.ok()) return {};
  Error error = to_error(status);
  if (error.kind != ErrorKind::kInvalidArgument) {
    latched_ = error;
    next_resume_us_ = clock_us_() + kResumeIntervalUs;
  }
  return std::unexpected(std::move(error));
}

Result<std::optional<Record>> RocksDbEngine::read(std::string_view user_key) {
  auto value = get(data_, storage_key(user_key));
  if (!value) return std::unexpected(value.error());
  if (!*value) return std::nullopt;
  Record record;
  if (!decode_record(**value, record)) return std::unexpected(corruption("malformed record"));
  return record;
}

Result<std::vector<std::optional<Record>>> RocksDbEngine::read_many(const std::vector<std::string>& user_keys) {
  std::vector<std::string> keys;
  keys.reserve(user_keys.size());
  for (const std::string& user_key : user_keys) keys.push_back(storage_key(user_key));
  std::vector<rocksdb::Slice> slices(keys.begin(), keys.end());
  std::vector<rocksdb::PinnableSlice> values(keys.size());
  std::vector<rocksdb::Status> statuses(keys.size());
  db_->MultiGet(rocksdb::ReadOptions(), data_, keys.size(), slices.data(), values.data(), statuses.data());
  std::vector<std::optional<Record>> records(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    if (statuses[i].IsNotFound()) continue;
    if (!statuses[i].ok()) return std::unexpected(to_error(statuses[i]));
    records[i].emplace();
    if (!decode_record(values[i].ToStringView(), *records[i])) {
      return std::unexpected(corruption("malformed record"));
    }
  }
  return records;
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
  if (auto open = writable(); !open) return open;
  wal_dirty_ = true;
  return checked(db_->Write(write_options_, &batch));
}

Status RocksDbEngine::put_hint(const Hint& hint) {
  const std::string key = hint_key(hint.target, hint.sequence);
  auto existing = get(hints_, key);
  if (!existing) return std::unexpected(existing.error());
  if (auto open = writable(); !open) return open;
  wal_dirty_ = true;
  if (auto put = checked(db_->Put(write_options_, hints_, key, encode_hint_value(hint))); !put) {
    return put;
  }
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
  if (auto open = writable(); !open) return open;
  wal_dirty_ = true;
  if (auto deleted = checked(db_->Delete(write_options_, hints_, key)); !deleted) return deleted;
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
  if (auto open = writable(); !open) return open;
  wal_dirty_ = true;
  if (auto put = checked(db_->Put(synced_write_options_, meta_, as_slice(name), as_slice(value)));
      !put) {
    return put;
  }
  if (auto flushed = checked(db_->FlushWAL(/*sync=*/true)); !flushed) return flushed;
  wal_dirty_ = false;
  return {};
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
  if (!status.ok()) return std::unexpected(to_error(status));
  if (auto open = writable(); !open) return std::unexpected(open.error());
  wal_dirty_ = true;
  if (auto written = checked(db_->Write(synced_write_options_, &batch)); !written) {
    return std::unexpected(written.error());
  }
  if (auto flushed = checked(db_->FlushWAL(/*sync=*/true)); !flushed) {
    return std::unexpected(flushed.error());
  }
  wal_dirty_ = false;
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
  if (auto open = writable(); !open) return open;
  rocksdb::Status status = db_->Flush(rocksdb::FlushOptions(), {data_, hints_, meta_});
  if (!status.ok()) return checked(status);
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
  return checked(status);
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
