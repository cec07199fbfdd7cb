// Test fixtures shared by the storage test binaries: a MemoryEngine, a
// RocksDbEngine (in a fresh /tmp folder, removed afterwards) and a
// CachedEngine in front of a RocksDbEngine, with a test-owned clock, and
// ENGINE_TEST, which runs one case against all three so the simulator's
// engine and the node's record cache are held to the real one's semantics.
#pragma once

#include <doctest/doctest.h>
#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>

#include "storage/engine.h"
#include "storage/memory_engine.h"
#include "storage/record_cache.h"
#include "storage/record.h"

namespace ringkv::storage {

inline constexpr uint64_t kSecondUs = 1'000'000;
// An arbitrary fixed instant, so every run sees the same times.
inline constexpr uint64_t kStartUs = 1'700'000'000 * kSecondUs;
inline constexpr uint64_t kGraceS = 10;

template <typename T>
T ok(Result<T> result) {
  REQUIRE_MESSAGE(result.has_value(), result.error().message);
  return std::move(*result);
}

inline void ok(const Status& status) { REQUIRE_MESSAGE(status.has_value(), status.error().message); }

inline Record live(uint64_t timestamp_us, std::string value, uint64_t tiebreak = 0) {
  return Record{Version{timestamp_us, tiebreak}, false, std::move(value)};
}

inline Record tombstone(uint64_t timestamp_us) { return Record{Version{timestamp_us, 0}, true, ""}; }

inline std::string node_id(char fill) { return std::string(kNodeIdBytes, fill); }

// The parts shared by both fixtures: options with a test-owned clock. The
// clock is atomic because RocksDB reads it on its compaction threads.
class FixtureBase {
 public:
  FixtureBase() : now_us_(std::make_shared<std::atomic<uint64_t>>(kStartUs)) {
    options_.tombstone_grace_s = kGraceS;
    options_.clock_us = [now_us = now_us_] { return now_us->load(); };
  }

  Engine& engine() { return *engine_; }
  void set_now_us(uint64_t now_us) { now_us_->store(now_us); }
  uint64_t now_us() const { return now_us_->load(); }

 protected:
  std::shared_ptr<std::atomic<uint64_t>> now_us_;
  Options options_;
  std::unique_ptr<Engine> engine_;
};

class MemoryFixture : public FixtureBase {
 public:
  MemoryFixture() { engine_ = std::make_unique<MemoryEngine>(options_); }
  // A restart of the process on the same disk.
  void reopen() { static_cast<MemoryEngine&>(*engine_).simulate_crash(); }
  Status restore(std::string_view tag) { return static_cast<MemoryEngine&>(*engine_).restore_snapshot(tag); }
};

// A RocksDB engine in a fresh directory under /tmp, removed afterwards.
class RocksDbFixture : public FixtureBase {
 public:
  RocksDbFixture() {
    std::string pattern = "/tmp/ringkv-storage-test-XXXXXX";
    REQUIRE(mkdtemp(pattern.data()) != nullptr);
    options_.path = pattern;
    options_.snapshots_path = pattern + "-snapshots";
    engine_ = ok(open_rocksdb_engine(options_));
  }
  ~RocksDbFixture() {
    engine_.reset();
    std::filesystem::remove_all(options_.path);
    std::filesystem::remove_all(options_.snapshots_path);
  }
  void reopen() {
    engine_.reset();
    engine_ = ok(open_rocksdb_engine(options_));
  }
  // Stops the engine, restores snapshot `tag` offline, and opens it again.
  Status restore(std::string_view tag) {
    engine_.reset();
    auto report = restore_rocksdb_snapshot(options_, tag);
    engine_ = ok(open_rocksdb_engine(options_));
    if (!report) return std::unexpected(report.error());
    return {};
  }
  // Closes the engine (as a stopped node); the destructor copes with that.
  void close() { engine_.reset(); }
  const Options& options() const { return options_; }
};

// A CachedEngine over a RocksDbFixture's engine. The cache is small (a few
// dozen entries) so that the shared cases see hits, misses and evictions
// alike. A reopen or restore starts an empty cache, as a restarted node does.
class CachedFixture {
 public:
  static constexpr uint64_t kCapacityBytes = 16 << 10;

  CachedFixture() { wrap(); }
  Engine& engine() { return *cache_; }
  void set_now_us(uint64_t now_us) { inner_.set_now_us(now_us); }
  uint64_t now_us() const { return inner_.now_us(); }
  void reopen() {
    cache_.reset();
    inner_.reopen();
    wrap();
  }
  Status restore(std::string_view tag) {
    cache_.reset();
    Status restored = inner_.restore(tag);
    wrap();
    return restored;
  }
  const Options& options() const { return inner_.options(); }

 private:
  void wrap() {
    cache_ = std::make_unique<CachedEngine>(inner_.engine(), RecordCacheLimits{.capacity_bytes = kCapacityBytes},
                                            inner_.options());
  }

  RocksDbFixture inner_;
  std::unique_ptr<CachedEngine> cache_;
};

}  // namespace ringkv::storage

TYPE_TO_STRING(ringkv::storage::MemoryFixture);
TYPE_TO_STRING(ringkv::storage::RocksDbFixture);
TYPE_TO_STRING(ringkv::storage::CachedFixture);

// One case, run once per engine.
#define ENGINE_TEST(name)                                                                              \
  TEST_CASE_TEMPLATE(name, Fixture, ringkv::storage::MemoryFixture, ringkv::storage::RocksDbFixture, \
                     ringkv::storage::CachedFixture)

