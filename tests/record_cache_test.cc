// Tests for storage/record_cache.h beyond the shared engine suite (which
// storage_test and snapshot_test also run against a CachedEngine): what the
// cache serves and keeps, checked against an inner MemoryEngine whose reads
// and writes the tests watch or break.
#include <doctest/doctest.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "storage/memory_engine.h"
#include "storage/record_cache.h"
#include "storage/storage_key.h"
#include "storage_fixtures.h"

namespace ringkv::storage {
namespace {

// A MemoryEngine that counts its reads, records its read_many calls, can fail
// its reads, and can fail a write after applying it (an I/O error reported
// after the batch reached storage), so a cache that kept its old entries would
// be caught serving stale records.
class WatchedEngine : public MemoryEngine {
 public:
  using MemoryEngine::MemoryEngine;

  Status write(const std::vector<std::pair<std::string, Record>>& batch) override {
    auto applied = MemoryEngine::write(batch);
    if (applied && fail_after_apply) return std::unexpected(Error{ErrorKind::kIo, "injected after apply"});
    return applied;
  }
  Status write_newer(const std::vector<std::pair<std::string, Record>>& batch) override {
    ++newer_writes;
    return MemoryEngine::write_newer(batch);  // write() above, with its failure
  }
  Result<std::optional<Record>> read(std::string_view user_key) override {
    ++reads;
    if (fail_reads) return std::unexpected(Error{ErrorKind::kIo, "injected read failure"});
    return MemoryEngine::read(user_key);
  }
  Result<std::vector<std::optional<Record>>> read_many(const std::vector<std::string>& user_keys) override {
    read_many_calls.push_back(user_keys);
    if (fail_reads) return std::unexpected(Error{ErrorKind::kIo, "injected read failure"});
    return MemoryEngine::read_many(user_keys);
  }

  bool fail_after_apply = false;
  bool fail_reads = false;
  int reads = 0;
  int newer_writes = 0;
  std::vector<std::vector<std::string>> read_many_calls;
};

class CacheFixture : public FixtureBase {
 public:
  explicit CacheFixture(RecordCacheLimits limits = {}) : inner_(options_), cache_(inner_, limits, options_) {}

  WatchedEngine& inner() { return inner_; }
  CachedEngine& cache() { return cache_; }
  Stats stats() { return cache_.stats(); }

 private:
  WatchedEngine inner_;
  CachedEngine cache_;
};

// What an entry of a one-byte key and a value of `value_bytes` costs.
constexpr uint64_t entry_bytes(size_t value_bytes) { return 1 + value_bytes + kEntryOverheadBytes; }

TEST_CASE("an older write after a cached newer record leaves the newer one, an equal one the stored") {
  CacheFixture fixture;
  ok(fixture.cache().write({{"k", live(kStartUs + 2, "new")}}));
  CHECK(ok(fixture.cache().read("k")) == live(kStartUs + 2, "new"));  // miss: now cached
  ok(fixture.cache().write({{"k", live(kStartUs + 1, "old")}}));
  ok(fixture.cache().write({{"k", live(kStartUs + 2, "same version")}}));
  CHECK(ok(fixture.cache().read("k")) == live(kStartUs + 2, "new"));
  ok(fixture.cache().write({{"k", live(kStartUs + 3, "newer")}}));
  CHECK(ok(fixture.cache().read("k")) == live(kStartUs + 3, "newer"));
  const Stats stats = fixture.stats();
  CHECK(stats.row_cache_misses == 1);
  CHECK(stats.row_cache_hits == 2);
  CHECK(fixture.inner().reads == 1);
}

TEST_CASE("a write to an uncached key is not cached, so a newer stored record still wins") {
  CacheFixture fixture;
  // Stored before this cache knew the key (a restart, or an eviction).
  ok(fixture.inner().write({{"k", live(kStartUs + 5, "stored newer")}}));
  ok(fixture.cache().write({{"k", live(kStartUs + 1, "older")}}));
  CHECK(fixture.stats().row_cache_entries == 0);
  CHECK(ok(fixture.cache().read("k")) == live(kStartUs + 5, "stored newer"));
  CHECK(fixture.stats().row_cache_misses == 1);
}

TEST_CASE("a cached tombstone answers tombstone, hides older writes and yields to newer ones") {
  CacheFixture fixture;
  ok(fixture.cache().write({{"k", tombstone(kStartUs + 2)}}));
  CHECK(ok(fixture.cache().read("k")) == tombstone(kStartUs + 2));
  ok(fixture.cache().write({{"k", live(kStartUs + 1, "older")}}));
  CHECK(ok(fixture.cache().read("k")) == tombstone(kStartUs + 2));
  CHECK(fixture.stats().row_cache_hits == 1);
  ok(fixture.cache().write({{"k", live(kStartUs + 3, "newer")}}));
  CHECK(ok(fixture.cache().read("k")) == live(kStartUs + 3, "newer"));
  CHECK(fixture.inner().reads == 1);
}

TEST_CASE("a cached absent key answers absent and takes the first write") {
  CacheFixture fixture;
  CHECK(ok(fixture.cache().read("k")) == std::nullopt);
  ok(fixture.cache().write({{"k", live(kStartUs, "first")}}));
  CHECK(ok(fixture.cache().read("k")) == live(kStartUs, "first"));
  CHECK(fixture.inner().reads == 1);
  CHECK(fixture.stats().row_cache_hits == 1);
}

TEST_CASE("a cached tombstone past the grace is read again from the engine, which may have purged it") {
  CacheFixture fixture;
  ok(fixture.cache().write({{"k", tombstone(kStartUs)}}));
  CHECK(ok(fixture.cache().read("k")) == tombstone(kStartUs));
  fixture.set_now_us(kStartUs + (kGraceS + 1) * kSecondUs);
  ok(fixture.cache().compact());
  CHECK(ok(fixture.cache().read("k")) == std::nullopt);
  // The purge is seen by last write wins too: an older write now lands.
  ok(fixture.cache().write({{"k", live(kStartUs - 1, "older than the purged tombstone")}}));
  CHECK(ok(fixture.cache().read("k")) == live(kStartUs - 1, "older than the purged tombstone"));
  CHECK(fixture.inner().reads == 2);
}

TEST_CASE("the least recently used entries are evicted once the bytes exceed the capacity") {
  const std::string value(100, 'v');
  CacheFixture fixture(RecordCacheLimits{.capacity_bytes = 3 * entry_bytes(100)});
  ok(fixture.inner().write({{"a", live(kStartUs, value)},
                            {"b", live(kStartUs, value)},
                            {"c", live(kStartUs, value)},
                            {"d", live(kStartUs, value)}}));
  for (const char* key : {"a", "b", "c", "a", "d"}) ok(fixture.cache().read(key));  // b is the oldest at d
  Stats stats = fixture.stats();
  CHECK(stats.row_cache_entries == 3);
  CHECK(stats.row_cache_bytes == 3 * entry_bytes(100));
  CHECK(stats.row_cache_evictions == 1);
  CHECK(stats.row_cache_hits == 1);
  CHECK(stats.row_cache_misses == 4);

  ok(fixture.cache().read("a"));  // still cached
  ok(fixture.cache().read("b"));  // evicted: read again, evicting c
  ok(fixture.cache().read("d"));
  stats = fixture.stats();
  CHECK(stats.row_cache_hits == 3);
  CHECK(stats.row_cache_misses == 5);
  CHECK(stats.row_cache_evictions == 2);
  CHECK(fixture.inner().reads == 5);

  // A write that grows an entry evicts the oldest others.
  ok(fixture.cache().write({{"a", live(kStartUs + 1, value + value)}}));
  stats = fixture.stats();
  CHECK(stats.row_cache_entries == 2);
  CHECK(stats.row_cache_bytes == entry_bytes(200) + entry_bytes(100));
  CHECK(stats.row_cache_evictions == 3);
}

TEST_CASE("a record whose value is over the size limit is not cached, and a write growing one past it drops it") {
  CacheFixture fixture(RecordCacheLimits{.capacity_bytes = 1 << 20, .value_bytes_max = 10});
  ok(fixture.inner().write({{"big", live(kStartUs, std::string(11, 'x'))}, {"small", live(kStartUs, "s")}}));
  ok(fixture.cache().read("big"));
  ok(fixture.cache().read("big"));
  ok(fixture.cache().read("small"));
  CHECK(fixture.stats().row_cache_entries == 1);
  CHECK(fixture.stats().row_cache_misses == 3);
  ok(fixture.cache().write({{"small", live(kStartUs + 1, std::string(11, 'y'))}}));
  CHECK(fixture.stats().row_cache_entries == 0);
  CHECK(ok(fixture.cache().read("small")) == live(kStartUs + 1, std::string(11, 'y')));
}

TEST_CASE("a failed inner write drops every key of its batch from the cache") {
  CacheFixture fixture;
  ok(fixture.cache().write({{"a", live(kStartUs, "a1")}, {"b", live(kStartUs, "b1")}, {"c", live(kStartUs, "c1")}}));
  ok(fixture.cache().read_many({"a", "b", "c"}));
  CHECK(fixture.stats().row_cache_entries == 3);

  fixture.inner().fail_after_apply = true;
  const Status failed = fixture.cache().write({{"a", live(kStartUs + 1, "a2")}, {"b", live(kStartUs + 1, "b2")}});
  REQUIRE_FALSE(failed.has_value());
  CHECK(failed.error().kind == ErrorKind::kIo);
  fixture.inner().fail_after_apply = false;
  CHECK(fixture.stats().row_cache_entries == 1);
  // What landed is read from the engine; the key outside the batch stays cached.
  CHECK(ok(fixture.cache().read_many({"a", "b", "c"})) ==
        std::vector<std::optional<Record>>{live(kStartUs + 1, "a2"), live(kStartUs + 1, "b2"), live(kStartUs, "c1")});
  REQUIRE(fixture.inner().read_many_calls.size() == 2);
  CHECK(fixture.inner().read_many_calls.back() == std::vector<std::string>{"a", "b"});
}

TEST_CASE("write_newer reaches the inner engine's write_newer and updates the cache like write") {
  CacheFixture fixture;
  ok(fixture.cache().write({{"k", live(kStartUs, "v1")}}));
  ok(fixture.cache().read("k"));
  ok(fixture.cache().write_newer({{"k", live(kStartUs + 1, "v2")}, {"uncached", live(kStartUs, "u")}}));
  CHECK(fixture.inner().newer_writes == 1);
  CHECK(ok(fixture.cache().read("k")) == live(kStartUs + 1, "v2"));
  CHECK(fixture.stats().row_cache_entries == 1);
  CHECK(fixture.inner().reads == 1);

  fixture.inner().fail_after_apply = true;
  REQUIRE_FALSE(fixture.cache().write_newer({{"k", live(kStartUs + 2, "v3")}}).has_value());
  fixture.inner().fail_after_apply = false;
  CHECK(fixture.stats().row_cache_entries == 0);
  CHECK(ok(fixture.cache().read("k")) == live(kStartUs + 2, "v3"));
}

TEST_CASE("delete_range drops the cached keys of its range and keeps the others") {
  CacheFixture fixture;
  std::vector<std::string> keys;
  std::vector<std::pair<std::string, Record>> batch;
  for (int i = 0; i < 40; ++i) {
    keys.push_back("key-" + std::to_string(i));
    batch.emplace_back(keys.back(), live(kStartUs, "v"));
  }
  ok(fixture.cache().write(batch));
  ok(fixture.cache().read_many(keys));
  const uint64_t begin = uint64_t{1} << 62;
  const uint64_t end = uint64_t{3} << 62;
  size_t inside = 0;
  for (const std::string& key : keys) inside += ring_position(key) >= begin && ring_position(key) < end;
  REQUIRE(inside > 0);
  REQUIRE(inside < keys.size());

  ok(fixture.cache().delete_range(begin, end));
  CHECK(fixture.stats().row_cache_entries == keys.size() - inside);
  const auto records = ok(fixture.cache().read_many(keys));
  for (size_t i = 0; i < keys.size(); ++i) {
    const bool deleted = ring_position(keys[i]) >= begin && ring_position(keys[i]) < end;
    CHECK(records[i] == (deleted ? std::nullopt : std::optional<Record>(live(kStartUs, "v"))));
  }
  CHECK(fixture.inner().read_many_calls.back().size() == inside);

  // A range to the end of the ring (end 0) and an empty range.
  ok(fixture.cache().delete_range(uint64_t{3} << 62, 3));
  CHECK(fixture.stats().row_cache_entries == keys.size());
  ok(fixture.cache().delete_range(end, 0));
  size_t kept = 0;
  for (const std::string& key : keys) kept += ring_position(key) < end;
  CHECK(fixture.stats().row_cache_entries == kept);
}

TEST_CASE("read_many answers repeats and mixed hits and misses in order with one inner read of the misses") {
  CacheFixture fixture;
  ok(fixture.inner().write({{"a", live(kStartUs, "a")}, {"b", tombstone(kStartUs)}, {"c", live(kStartUs, "c")}}));
  ok(fixture.cache().read("a"));
  fixture.inner().read_many_calls.clear();

  const auto records = ok(fixture.cache().read_many({"b", "a", "absent", "b", "c", "a", "absent"}));
  CHECK(records == std::vector<std::optional<Record>>{tombstone(kStartUs), live(kStartUs, "a"), std::nullopt,
                                                      tombstone(kStartUs), live(kStartUs, "c"),
                                                      live(kStartUs, "a"), std::nullopt});
  REQUIRE(fixture.inner().read_many_calls.size() == 1);
  CHECK(fixture.inner().read_many_calls[0] == std::vector<std::string>{"b", "absent", "b", "c", "absent"});
  CHECK(fixture.stats().row_cache_hits == 2);  // "a", twice
  CHECK(fixture.stats().row_cache_misses == 6);  // "a" before, and five here

  // All four keys are cached now, "absent" as absent: no inner read at all.
  CHECK(ok(fixture.cache().read_many({"absent", "c", "b"})) ==
        std::vector<std::optional<Record>>{std::nullopt, live(kStartUs, "c"), tombstone(kStartUs)});
  CHECK(fixture.inner().read_many_calls.size() == 1);
  CHECK(ok(fixture.cache().read_many({})).empty());
  CHECK(fixture.inner().read_many_calls.size() == 1);
}

TEST_CASE("a failed inner read fails the call and caches nothing") {
  CacheFixture fixture;
  ok(fixture.inner().write({{"k", live(kStartUs, "v")}, {"j", live(kStartUs, "w")}}));
  ok(fixture.cache().read("j"));
  fixture.inner().fail_reads = true;
  const auto failed = fixture.cache().read_many({"j", "k"});
  REQUIRE_FALSE(failed.has_value());
  CHECK(failed.error().kind == ErrorKind::kIo);
  CHECK_FALSE(fixture.cache().read("k").has_value());
  CHECK(fixture.stats().row_cache_entries == 1);
  CHECK(fixture.stats().row_cache_misses == 3);
  fixture.inner().fail_reads = false;
  CHECK(ok(fixture.cache().read("k")) == live(kStartUs, "v"));
  CHECK(fixture.stats().row_cache_entries == 2);
}

}  // namespace
}  // namespace ringkv::storage
