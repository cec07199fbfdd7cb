// Tests for storage/: the record and key encodings, and one suite of Engine
// cases that runs against both MemoryEngine and RocksDbEngine, so the
// simulator's engine is held to the real one's semantics.
#include <doctest/doctest.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <random>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "storage/engine.h"
#include "storage/hint_codec.h"
#include "storage/memory_engine.h"
#include "storage/record.h"
#include "storage/storage_key.h"
#include "storage_fixtures.h"

namespace ringkv::storage {
namespace {

// Test keys with their storage keys, sorted by storage key (ring order).
std::vector<std::pair<std::string, std::string>> keys_in_ring_order(int count) {
  std::vector<std::pair<std::string, std::string>> keys;
  for (int i = 0; i < count; ++i) {
    const std::string key = "key-" + std::to_string(i);
    keys.emplace_back(storage_key(key), key);
  }
  std::sort(keys.begin(), keys.end());
  return keys;
}

void write_live_keys(Engine& engine, int count) {
  std::vector<std::pair<std::string, Record>> batch;
  for (int i = 0; i < count; ++i) {
    batch.emplace_back("key-" + std::to_string(i), live(kStartUs, "value-" + std::to_string(i)));
  }
  ok(engine.write(batch));
}

std::vector<std::string> scan_all(Engine& engine, ScanRange range, size_t max_entries) {
  std::vector<std::string> storage_keys;
  for (;;) {
    const ScanBatch batch = ok(engine.scan(range, max_entries, 1 << 20));
    for (const Entry& entry : batch.entries) storage_keys.push_back(entry.storage_key);
    if (batch.done) break;
    REQUIRE(!batch.entries.empty());
    range.after_storage_key = batch.entries.back().storage_key;
  }
  return storage_keys;
}

std::vector<std::string> expected_in_range(int count, uint64_t begin, uint64_t end) {
  std::vector<std::string> expected;
  for (const auto& [stored, user_key] : keys_in_ring_order(count)) {
    const uint64_t position = ring_position(user_key);
    if (position >= begin && (end == 0 || position < end)) expected.push_back(stored);
  }
  return expected;
}

TEST_CASE("a record survives encode and decode unchanged") {
  for (const Record& record : {live(kStartUs, "value", 7), live(1, std::string("\0\xff", 2)),
                               live(0, ""), tombstone(kStartUs)}) {
    Record decoded;
    REQUIRE(decode_record(encode_record(record), decoded));
    CHECK(decoded == record);
    CHECK(encoded_version(encode_record(record)) == record.version);
    CHECK(encoded_tombstone(encode_record(record)) == record.tombstone);
  }
}

TEST_CASE("a record is encoded big-endian with its flags after the version") {
  const std::string bytes = encode_record(Record{Version{0x0102, 0x0304}, true, "v"});
  CHECK(bytes == std::string("\0\0\0\0\0\0\x01\x02\0\0\0\0\0\0\x03\x04\x01v", 18));
}

TEST_CASE("decoding rejects input shorter than a header and unknown flag bits") {
  Record decoded;
  const std::string bytes = encode_record(live(kStartUs, "value"));
  CHECK_FALSE(decode_record("", decoded));
  CHECK_FALSE(decode_record(std::string_view(bytes).substr(0, kRecordHeaderBytes - 1), decoded));
  CHECK(decode_record(std::string_view(bytes).substr(0, kRecordHeaderBytes), decoded));
  std::string unknown_flags = bytes;
  unknown_flags[16] = 0x04;
  CHECK_FALSE(decode_record(unknown_flags, decoded));
  std::string short_expiry = bytes;  // the expiry flag without its 8 bytes
  short_expiry[16] = 0x02;
  short_expiry.resize(kRecordHeaderBytes + 7);
  CHECK_FALSE(decode_record(short_expiry, decoded));
}

TEST_CASE("an expiring record keeps its expiry through encode and decode, and expires at that instant") {
  Record record = live(kStartUs, "value", 7);
  record.expires_at_us = kStartUs + 10 * kSecondUs;
  const std::string bytes = encode_record(record);
  CHECK(bytes.size() == kRecordHeaderBytes + 8 + 5);
  Record decoded;
  REQUIRE(decode_record(bytes, decoded));
  CHECK(decoded == record);
  CHECK(encoded_expiry(bytes) == record.expires_at_us);
  CHECK(encoded_expiry(encode_record(live(kStartUs, "value"))) == 0);
  CHECK_FALSE(expired(record, kStartUs + 10 * kSecondUs - 1));
  CHECK(expired(record, kStartUs + 10 * kSecondUs));
  CHECK_FALSE(expired(live(kStartUs, "never"), UINT64_MAX));
}

TEST_CASE("ring positions are XXH64 with seed 0") {
  CHECK(ring_position("") == 0xEF46DB3751D8E999ULL);
}

TEST_CASE("a key with a smaller ring position sorts first as a storage key") {
  std::string a = "alpha";
  std::string b = "beta";
  if (ring_position(a) > ring_position(b)) std::swap(a, b);
  REQUIRE(ring_position(a) < ring_position(b));
  CHECK(storage_key(a) < storage_key(b));
  CHECK(position_prefix(ring_position(a)) <= storage_key(a));
  CHECK(storage_key(a) < position_prefix(ring_position(a) + 1));

  uint64_t position = 0;
  std::string_view user_key;
  const std::string stored = storage_key(a);
  REQUIRE(split_storage_key(stored, position, user_key));
  CHECK(position == ring_position(a));
  CHECK(user_key == a);
  CHECK_FALSE(split_storage_key("short", position, user_key));
}

TEST_CASE("a stored hint decodes back and a truncated one is corruption") {
  const Hint hint{std::string(kNodeIdBytes, 'n'), 42, "user key", tombstone(kStartUs)};
  const std::string key = hint_key(hint.target, hint.sequence);
  const std::string value = encode_hint_value(hint);
  const Hint decoded = ok(decode_hint(key, value));
  CHECK(decoded.target == hint.target);
  CHECK(decoded.sequence == 42);
  CHECK(decoded.user_key == "user key");
  CHECK(decoded.record == hint.record);
  CHECK(hint_key(hint.target, 1) < hint_key(hint.target, 256));
  for (size_t size : {size_t{0}, size_t{3}, size_t{4 + 8}, value.size() - 1}) {
    const Result<Hint> truncated = decode_hint(key, std::string_view(value).substr(0, size));
    REQUIRE_FALSE(truncated.has_value());
    CHECK(truncated.error().kind == ErrorKind::kCorruption);
  }
}

ENGINE_TEST("a newer write replaces an older one") {
  Fixture fixture;
  ok(fixture.engine().write({{"k", live(kStartUs, "old")}}));
  ok(fixture.engine().write({{"k", live(kStartUs + 1, "new")}}));
  CHECK(ok(fixture.engine().read("k")) == live(kStartUs + 1, "new"));
}

ENGINE_TEST("an older write arriving after a newer one is ignored") {
  Fixture fixture;
  ok(fixture.engine().write({{"k", live(kStartUs + 1, "new")}}));
  ok(fixture.engine().write({{"k", live(kStartUs, "old")}}));
  CHECK(ok(fixture.engine().read("k")) == live(kStartUs + 1, "new"));
  // The tie-break orders versions with the same timestamp.
  ok(fixture.engine().write({{"k", live(kStartUs + 1, "tie", 5)}}));
  ok(fixture.engine().write({{"k", live(kStartUs + 1, "lower tie", 4)}}));
  CHECK(ok(fixture.engine().read("k")) == live(kStartUs + 1, "tie", 5));
}

ENGINE_TEST("one write of many records applies each with last write wins, and read_many reads them in order") {
  Fixture fixture;
  ok(fixture.engine().write({{"kept", live(kStartUs + 5, "newest")}}));
  // One batch (the node's group commit): a key twice, out of order, and a stored key.
  ok(fixture.engine().write({{"a", live(kStartUs + 2, "a2")},
                             {"a", live(kStartUs + 1, "a1")},
                             {"kept", live(kStartUs + 1, "older")},
                             {"gone", tombstone(kStartUs + 3)}}));
  const auto records = ok(fixture.engine().read_many({"kept", "absent", "a", "gone", "a"}));
  REQUIRE(records.size() == 5);
  CHECK(records[0] == live(kStartUs + 5, "newest"));
  CHECK_FALSE(records[1].has_value());
  CHECK(records[2] == live(kStartUs + 2, "a2"));
  CHECK(records[3] == tombstone(kStartUs + 3));
  CHECK(records[4] == records[2]);
  CHECK(ok(fixture.engine().read_many({})).empty());
  // Flushed, the whole batch survives a restart.
  ok(fixture.engine().flush_wal());
  fixture.reopen();
  CHECK(ok(fixture.engine().read_many({"a", "kept"})) ==
        std::vector<std::optional<Record>>{live(kStartUs + 2, "a2"), live(kStartUs + 5, "newest")});
}

ENGINE_TEST("read_many sees records flushed to tables and in the memtable alike") {
  Fixture fixture;
  std::vector<std::pair<std::string, Record>> batch;
  std::vector<std::string> keys;
  for (int i = 0; i < 300; ++i) {
    keys.push_back("key" + std::to_string(i));
    batch.emplace_back(keys.back(), live(kStartUs + i, "v" + std::to_string(i)));
  }
  ok(fixture.engine().write(batch));
  ok(fixture.engine().compact());  // RocksDB: into table files
  ok(fixture.engine().write({{"key7", live(kStartUs + 1000, "newer")}}));
  const auto records = ok(fixture.engine().read_many(keys));
  REQUIRE(records.size() == keys.size());
  for (int i = 0; i < 300; ++i) {
    CHECK(records[i] == (i == 7 ? live(kStartUs + 1000, "newer") : live(kStartUs + i, "v" + std::to_string(i))));
  }
}

ENGINE_TEST("an equal version keeps the stored record") {
  Fixture fixture;
  ok(fixture.engine().write({{"k", live(kStartUs, "first")}}));
  ok(fixture.engine().write({{"k", live(kStartUs, "second")}}));
  CHECK(ok(fixture.engine().read("k")) == live(kStartUs, "first"));
  // Still true once RocksDB has folded the operands into one value.
  ok(fixture.engine().compact());
  ok(fixture.engine().write({{"k", live(kStartUs, "third")}}));
  CHECK(ok(fixture.engine().read("k")) == live(kStartUs, "first"));
}

ENGINE_TEST("one hot key written thousands of times out of order keeps the newest version") {
  // RocksDB folds a key's pending merge operands every few writes
  // (max_successive_merges): last write wins must survive the folds and a reopen.
  Fixture fixture;
  std::mt19937_64 rng(3);
  uint64_t newest = 0;
  for (int i = 0; i < 5000; ++i) {
    const uint64_t ts = kStartUs + rng() % 100000;
    newest = std::max(newest, ts);
    ok(fixture.engine().write({{"hot", live(ts, "v" + std::to_string(ts))}}));
  }
  CHECK(ok(fixture.engine().read("hot")) == live(newest, "v" + std::to_string(newest)));
  ok(fixture.engine().flush_wal());
  fixture.reopen();
  CHECK(ok(fixture.engine().read("hot")) == live(newest, "v" + std::to_string(newest)));
}

ENGINE_TEST("a tombstone reads back as a tombstone and an absent key as nothing") {
  Fixture fixture;
  ok(fixture.engine().write({{"k", live(kStartUs, "value")}}));
  ok(fixture.engine().write({{"k", tombstone(kStartUs + 1)}}));
  CHECK(ok(fixture.engine().read("k")) == tombstone(kStartUs + 1));
  CHECK(ok(fixture.engine().read("absent")) == std::nullopt);
}

ENGINE_TEST("a batch write applies every record with last-write-wins") {
  Fixture fixture;
  ok(fixture.engine().write({{"a", live(kStartUs, "a1")}}));
  ok(fixture.engine().write({{"a", live(kStartUs - 1, "stale")},
                             {"b", live(kStartUs, "b1")},
                             {"b", live(kStartUs + 1, "b2")},
                             {"c", tombstone(kStartUs)}}));
  CHECK(ok(fixture.engine().read("a")) == live(kStartUs, "a1"));
  CHECK(ok(fixture.engine().read("b")) == live(kStartUs + 1, "b2"));
  CHECK(ok(fixture.engine().read("c")) == tombstone(kStartUs));
}

ENGINE_TEST("compaction purges tombstones past their grace and keeps the rest") {
  Fixture fixture;
  ok(fixture.engine().write(
      {{"old tombstone", tombstone(kStartUs)}, {"old value", live(kStartUs, "value")}}));

  fixture.set_now_us(kStartUs + 5 * kSecondUs);
  ok(fixture.engine().compact());
  CHECK(ok(fixture.engine().read("old tombstone")) == tombstone(kStartUs));

  fixture.set_now_us(kStartUs + 20 * kSecondUs);
  ok(fixture.engine().write({{"young tombstone", tombstone(kStartUs + 19 * kSecondUs)}}));
  ok(fixture.engine().compact());
  CHECK(ok(fixture.engine().read("old tombstone")) == std::nullopt);
  CHECK(ok(fixture.engine().read("old value")) == live(kStartUs, "value"));
  CHECK(ok(fixture.engine().read("young tombstone")) == tombstone(kStartUs + 19 * kSecondUs));
}

ENGINE_TEST("compaction purges a value once its expiry is past the tombstone grace, not before") {
  Fixture fixture;
  Record expiring = live(kStartUs, "value");
  expiring.expires_at_us = kStartUs + 5 * kSecondUs;
  ok(fixture.engine().write({{"expiring", expiring}, {"kept", live(kStartUs, "value")}}));
  fixture.set_now_us(kStartUs + 14 * kSecondUs);  // expired, but within the 10 s grace
  ok(fixture.engine().compact());
  CHECK(ok(fixture.engine().read("expiring")) == expiring);
  fixture.set_now_us(kStartUs + 16 * kSecondUs);
  ok(fixture.engine().compact());
  CHECK(ok(fixture.engine().read("expiring")) == std::nullopt);
  CHECK(ok(fixture.engine().read("kept")) == live(kStartUs, "value"));
}

ENGINE_TEST("an expired value stamped after its expiry keeps the grace from its stamp too") {
  // A coordinator whose hybrid clock ran ahead of its wall clock stamps a
  // short-lived value later than the instant it expires.
  Fixture fixture;
  Record stamped_late = live(kStartUs + 8 * kSecondUs, "value");
  stamped_late.expires_at_us = kStartUs + kSecondUs;
  ok(fixture.engine().write({{"k", stamped_late}}));
  fixture.set_now_us(kStartUs + 16 * kSecondUs);  // 15 s past the expiry, 8 s past the stamp
  ok(fixture.engine().compact());
  CHECK(ok(fixture.engine().read("k")) == stamped_late);
  fixture.set_now_us(kStartUs + 19 * kSecondUs);
  ok(fixture.engine().compact());
  CHECK(ok(fixture.engine().read("k")) == std::nullopt);
}

ENGINE_TEST("one compaction purges a tombstone written since the last one") {
  Fixture fixture;
  ok(fixture.engine().write({{"k", tombstone(kStartUs)}}));
  fixture.set_now_us(kStartUs + 20 * kSecondUs);
  ok(fixture.engine().compact());
  CHECK(ok(fixture.engine().read("k")) == std::nullopt);
}

ENGINE_TEST("purging a tombstone never brings back the value it deleted") {
  Fixture fixture;
  ok(fixture.engine().write({{"k", live(kStartUs, "deleted")}}));
  // Pushes the live value down the tree, below where the tombstone lands.
  ok(fixture.engine().compact());
  ok(fixture.engine().write({{"k", tombstone(kStartUs + 1)}}));
  fixture.set_now_us(kStartUs + 100 * kSecondUs);
  ok(fixture.engine().compact());
  CHECK(ok(fixture.engine().read("k")) == std::nullopt);
  ok(fixture.engine().compact());
  CHECK(ok(fixture.engine().read("k")) == std::nullopt);
}

ENGINE_TEST("write_newer replaces a key's merged history, and later writes still follow last write wins") {
  Fixture fixture;
  ok(fixture.engine().write({{"k", live(kStartUs, "merged 1")}}));
  ok(fixture.engine().compact());  // RocksDB: one operand down the tree
  ok(fixture.engine().write({{"k", live(kStartUs + 1, "merged 2")}}));
  // Group commit read "merged 2" and found these newer; a key twice applies in order.
  ok(fixture.engine().write_newer({{"k", live(kStartUs + 2, "newer")},
                                   {"k", live(kStartUs + 3, "newest")},
                                   {"fresh", live(kStartUs, "f")}}));
  CHECK(ok(fixture.engine().read("k")) == live(kStartUs + 3, "newest"));
  CHECK(ok(fixture.engine().read("fresh")) == live(kStartUs, "f"));
  // A merge older than what write_newer stored loses, a newer one wins,
  // in the memtable and after compaction alike.
  ok(fixture.engine().write({{"k", live(kStartUs + 2, "late older")}, {"fresh", live(kStartUs + 1, "f2")}}));
  CHECK(ok(fixture.engine().read("k")) == live(kStartUs + 3, "newest"));
  ok(fixture.engine().compact());
  CHECK(ok(fixture.engine().read_many({"k", "fresh"})) ==
        std::vector<std::optional<Record>>{live(kStartUs + 3, "newest"), live(kStartUs + 1, "f2")});
  ok(fixture.engine().flush_wal());
  fixture.reopen();
  CHECK(ok(fixture.engine().read("k")) == live(kStartUs + 3, "newest"));
}

ENGINE_TEST("purging a tombstone stored by write_newer never brings back what it deleted") {
  Fixture fixture;
  ok(fixture.engine().write({{"k", live(kStartUs, "deleted")}}));
  ok(fixture.engine().compact());  // the live value below, where the tombstone does not reach
  ok(fixture.engine().write({{"k", live(kStartUs + 1, "deleted too")}}));
  ok(fixture.engine().write_newer({{"k", tombstone(kStartUs + 2)}}));
  fixture.set_now_us(kStartUs + 100 * kSecondUs);
  ok(fixture.engine().compact());
  CHECK(ok(fixture.engine().read("k")) == std::nullopt);
  ok(fixture.engine().compact());
  CHECK(ok(fixture.engine().read("k")) == std::nullopt);
}

ENGINE_TEST("a range scan returns positions in order, in batches that resume, with done last") {
  Fixture fixture;
  constexpr int kKeys = 50;
  write_live_keys(fixture.engine(), kKeys);
  const uint64_t begin = uint64_t{1} << 62;
  const uint64_t end = uint64_t{3} << 62;
  const std::vector<std::string> expected = expected_in_range(kKeys, begin, end);
  REQUIRE(expected.size() > 7);

  std::vector<std::string> seen;
  ScanRange range{begin, end, ""};
  size_t batches = 0;
  for (bool done = false; !done; ++batches) {
    const ScanBatch batch = ok(fixture.engine().scan(range, 7, 1 << 20));
    CHECK(batch.entries.size() == std::min<size_t>(7, expected.size() - seen.size()));
    for (const Entry& entry : batch.entries) seen.push_back(entry.storage_key);
    done = batch.done;
    CHECK(done == (seen.size() == expected.size()));
    if (!batch.entries.empty()) range.after_storage_key = batch.entries.back().storage_key;
  }
  CHECK(seen == expected);
  CHECK(batches == (expected.size() + 6) / 7);
}

ENGINE_TEST("a scan batch stops at max_bytes but always holds one entry") {
  Fixture fixture;
  constexpr int kKeys = 10;
  write_live_keys(fixture.engine(), kKeys);
  const ScanBatch batch = ok(fixture.engine().scan(ScanRange{0, 0, ""}, 100, 1));
  REQUIRE(batch.entries.size() == 1);
  CHECK_FALSE(batch.done);
  CHECK(batch.entries[0].storage_key == keys_in_ring_order(kKeys)[0].first);
  CHECK(batch.entries[0].record.value.starts_with("value-"));
}

ENGINE_TEST("a scan includes tombstones") {
  Fixture fixture;
  ok(fixture.engine().write({{"live", live(kStartUs, "v")}, {"gone", tombstone(kStartUs)}}));
  const ScanBatch batch = ok(fixture.engine().scan(ScanRange{0, 0, ""}, 10, 1 << 20));
  CHECK(batch.done);
  REQUIRE(batch.entries.size() == 2);
  for (const Entry& entry : batch.entries) {
    CHECK(entry.record ==
          (entry.storage_key == storage_key("gone") ? tombstone(kStartUs) : live(kStartUs, "v")));
  }
}

ENGINE_TEST("a scan with end 0 runs to the end of the ring") {
  Fixture fixture;
  constexpr int kKeys = 40;
  write_live_keys(fixture.engine(), kKeys);
  const uint64_t begin = uint64_t{1} << 63;
  const std::vector<std::string> expected = expected_in_range(kKeys, begin, 0);
  REQUIRE(!expected.empty());
  CHECK(scan_all(fixture.engine(), ScanRange{begin, 0, ""}, 3) == expected);
  CHECK(scan_all(fixture.engine(), ScanRange{0, 0, ""}, 1000).size() == kKeys);
}

ENGINE_TEST("delete_range removes only its range") {
  Fixture fixture;
  constexpr int kKeys = 60;
  write_live_keys(fixture.engine(), kKeys);
  const uint64_t a = uint64_t{1} << 62;
  const uint64_t b = uint64_t{2} << 62;
  const uint64_t c = uint64_t{3} << 62;

  ok(fixture.engine().delete_range(a, b));
  std::vector<std::string> expected = expected_in_range(kKeys, 0, a);
  const std::vector<std::string> above = expected_in_range(kKeys, b, 0);
  expected.insert(expected.end(), above.begin(), above.end());
  CHECK(scan_all(fixture.engine(), ScanRange{0, 0, ""}, 1000) == expected);

  ok(fixture.engine().delete_range(c, 0));
  expected = expected_in_range(kKeys, 0, a);
  const std::vector<std::string> middle = expected_in_range(kKeys, b, c);
  expected.insert(expected.end(), middle.begin(), middle.end());
  CHECK(scan_all(fixture.engine(), ScanRange{0, 0, ""}, 1000) == expected);
  // A later write to a deleted key is stored normally.
  const std::string user_key = keys_in_ring_order(kKeys).back().second;
  ok(fixture.engine().write({{user_key, live(kStartUs - 1, "again")}}));
  CHECK(ok(fixture.engine().read(user_key)) == live(kStartUs - 1, "again"));
}

ENGINE_TEST("hints list per target in sequence order, delete one by one, and survive a reopen") {
  Fixture fixture;
  const std::string target = node_id('a');
  const std::string other = node_id('b');
  for (uint64_t sequence : {3, 1, 2}) {
    ok(fixture.engine().put_hint(
        Hint{target, sequence, "key-" + std::to_string(sequence), live(kStartUs, "v")}));
  }
  ok(fixture.engine().put_hint(Hint{other, 1, "other", tombstone(kStartUs)}));
  CHECK(fixture.engine().stats().hints_count == 4);

  std::vector<Hint> hints = ok(fixture.engine().hints_for(target, 2, 0));
  REQUIRE(hints.size() == 2);
  CHECK(hints[0].sequence == 1);
  CHECK(hints[1].sequence == 2);
  CHECK(hints[0].target == target);
  CHECK(hints[0].user_key == "key-1");
  CHECK(hints[0].record == live(kStartUs, "v"));

  ok(fixture.engine().delete_hint(target, 1));
  ok(fixture.engine().delete_hint(target, 1));
  fixture.reopen();
  hints = ok(fixture.engine().hints_for(target, 10, 0));
  REQUIRE(hints.size() == 2);
  CHECK(hints[0].sequence == 2);
  CHECK(hints[1].sequence == 3);
  hints = ok(fixture.engine().hints_for(other, 10, 0));
  REQUIRE(hints.size() == 1);
  CHECK(hints[0].record == tombstone(kStartUs));
  CHECK(ok(fixture.engine().hints_for(node_id('c'), 10, 0)).empty());
  // Resuming after a sequence skips it and everything before.
  hints = ok(fixture.engine().hints_for(target, 10, 2));
  REQUIRE(hints.size() == 1);
  CHECK(hints[0].sequence == 3);
  CHECK(ok(fixture.engine().hints_for(target, 10, 3)).empty());
  CHECK(fixture.engine().stats().hints_count == 3);
  // Payload bytes: "key-2" + "v" and "key-3" + "v"; "other" and a tombstone's empty value.
  const auto tallies = ok(fixture.engine().hint_tallies());
  CHECK(tallies == std::map<std::string, HintTally>{{target, {2, 12}}, {other, {1, 5}}});
}

ENGINE_TEST("meta values read back and an unknown name reads as nothing") {
  Fixture fixture;
  CHECK(ok(fixture.engine().meta_get("cluster")) == std::nullopt);
  ok(fixture.engine().meta_put("cluster", "ring-1"));
  ok(fixture.engine().meta_put("cluster", "ring-2"));
  CHECK(ok(fixture.engine().meta_get("cluster")) == "ring-2");
  fixture.reopen();
  CHECK(ok(fixture.engine().meta_get("cluster")) == "ring-2");
}

ENGINE_TEST("the node id persists across reopens and the generation increments") {
  Fixture fixture;
  Identity identity = ok(fixture.engine().open_identity(node_id('x')));
  CHECK(identity.node_id == node_id('x'));
  CHECK(identity.generation == 1);
  fixture.reopen();
  identity = ok(fixture.engine().open_identity(node_id('y')));
  CHECK(identity.node_id == node_id('x'));
  CHECK(identity.generation == 2);
  fixture.reopen();
  CHECK(ok(fixture.engine().open_identity(node_id('z'))).generation == 3);
}

ENGINE_TEST("acknowledged data survives a close and reopen") {
  Fixture fixture;
  write_live_keys(fixture.engine(), 20);
  ok(fixture.engine().write({{"key-3", tombstone(kStartUs + 1)}}));
  fixture.reopen();
  CHECK(ok(fixture.engine().read("key-0")) == live(kStartUs, "value-0"));
  CHECK(ok(fixture.engine().read("key-3")) == tombstone(kStartUs + 1));
  CHECK(scan_all(fixture.engine(), ScanRange{0, 0, ""}, 6).size() == 20);
  // Merging keeps working on top of what was recovered.
  ok(fixture.engine().write({{"key-0", live(kStartUs + 1, "newer")}}));
  CHECK(ok(fixture.engine().read("key-0")) == live(kStartUs + 1, "newer"));
}

ENGINE_TEST("stats count the stored keys") {
  Fixture fixture;
  write_live_keys(fixture.engine(), 30);
  ok(fixture.engine().compact());
  const Stats stats = fixture.engine().stats();
  CHECK(stats.data_keys_estimate > 0);
  CHECK(stats.data_bytes_estimate > 0);
  CHECK(stats.hints_count == 0);
}

TEST_CASE("a full disk makes MemoryEngine writes fail with kNoSpace and change nothing") {
  MemoryFixture fixture;
  auto& engine = static_cast<MemoryEngine&>(fixture.engine());
  ok(engine.write({{"k", live(kStartUs, "kept")}}));
  ok(engine.put_hint(Hint{node_id('a'), 1, "k", live(kStartUs, "kept")}));
  ok(engine.meta_put("name", "kept"));
  ok(engine.open_identity(node_id('a')));

  engine.fail_writes_with(ErrorKind::kNoSpace);
  auto expect_no_space = [](const Status& status) {
    REQUIRE_FALSE(status.has_value());
    CHECK(status.error().kind == ErrorKind::kNoSpace);
  };
  expect_no_space(engine.write({{"k", live(kStartUs + 1, "lost")}, {"new", live(1, "x")}}));
  expect_no_space(engine.delete_range(0, 0));
  expect_no_space(engine.put_hint(Hint{node_id('a'), 2, "k", live(kStartUs, "lost")}));
  expect_no_space(engine.delete_hint(node_id('a'), 1));
  expect_no_space(engine.meta_put("name", "lost"));
  expect_no_space(engine.compact());
  const Result<Identity> identity = engine.open_identity(node_id('a'));
  REQUIRE_FALSE(identity.has_value());
  CHECK(identity.error().kind == ErrorKind::kNoSpace);

  // Reads still work and show nothing changed.
  CHECK(ok(engine.read("k")) == live(kStartUs, "kept"));
  CHECK(ok(engine.read("new")) == std::nullopt);
  CHECK(ok(engine.hints_for(node_id('a'), 10, 0)).size() == 1);
  CHECK(ok(engine.meta_get("name")) == "kept");

  engine.fail_writes_with(std::nullopt);
  CHECK(ok(engine.open_identity(node_id('a'))).generation == 2);
  ok(engine.write({{"k", live(kStartUs + 1, "after")}}));
  CHECK(ok(engine.read("k")) == live(kStartUs + 1, "after"));
}

// A small tmpfs mounted for one test (needs root; `mounted()` says whether it
// worked), unmounted and removed afterwards.
class SmallDisk {
 public:
  explicit SmallDisk(const char* size) {
    std::string pattern = "/tmp/ringkv-small-disk-XXXXXX";
    REQUIRE(mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
    const std::string options = std::string("size=") + size;
    mounted_ = ::mount("tmpfs", path_.c_str(), "tmpfs", 0, options.c_str()) == 0;
  }
  ~SmallDisk() {
    if (mounted_) ::umount2(path_.c_str(), MNT_DETACH);
    std::filesystem::remove_all(path_);
  }
  bool mounted() const { return mounted_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  bool mounted_ = false;
};

TEST_CASE("RocksDB on a full disk refuses writes with kNoSpace, keeps what it acknowledged, and "
          "writes again once space is freed, without a reopen") {
  SmallDisk disk("16m");
  if (!disk.mounted()) {
    MESSAGE("skipped: cannot mount a tmpfs here (needs root)");
    return;
  }
  // Ballast on the same disk, larger than everything written below: freeing
  // it must leave room for RocksDB to write its memtables out as tables.
  const std::string ballast = disk.path() + "/ballast";
  {
    std::ofstream out(ballast, std::ios::binary);
    const std::string block(1 << 20, 'b');
    for (int i = 0; i < 9; ++i) out.write(block.data(), static_cast<std::streamsize>(block.size()));
    REQUIRE(out.good());
  }
  RocksDbFixture fixture;  // for its clock; the engine under test lives on the small disk
  Options options;
  options.path = disk.path() + "/db";
  options.tombstone_grace_s = kGraceS;
  options.clock_us = [&fixture] { return fixture.now_us(); };
  std::unique_ptr<Engine> engine = ok(open_rocksdb_engine(options));

  std::mt19937_64 random(7);
  auto value_of = [&random] {
    std::string value(64 * 1024, '\0');
    for (char& c : value) c = static_cast<char>(random());
    return value;
  };
  std::vector<std::pair<std::string, std::string>> acknowledged;
  std::optional<Error> refused;
  for (int i = 0; i < 1000 && !refused; ++i) {
    const std::string key = "key-" + std::to_string(i);
    std::string value = value_of();
    Status written = engine->write({{key, live(kStartUs, value)}});
    if (written) written = engine->flush_wal();
    if (written) {
      acknowledged.emplace_back(key, std::move(value));
    } else {
      refused = written.error();
    }
  }
  REQUIRE(refused.has_value());
  CHECK_MESSAGE(refused->kind == ErrorKind::kNoSpace, refused->message);
  REQUIRE(acknowledged.size() > 10);

  // Still full: every write is refused at once, reads keep working.
  for (const Status& status : {engine->write({{"later", live(kStartUs, "x")}}), engine->flush_wal(),
                               engine->put_hint(Hint{node_id('a'), 1, "k", live(kStartUs, "h")}),
                               engine->meta_put("name", "value")}) {
    REQUIRE_FALSE(status.has_value());
    CHECK(status.error().kind == ErrorKind::kNoSpace);
  }
  for (const auto& [key, value] : acknowledged) CHECK(ok(engine->read(key)) == live(kStartUs, value));

  // Space returns: the next write after the retry interval resumes RocksDB.
  std::filesystem::remove(ballast);
  fixture.set_now_us(kStartUs + 2 * kSecondUs);
  ok(engine->write({{"after", live(kStartUs, "recovered")}}));
  ok(engine->flush_wal());
  ok(engine->meta_put("name", "value"));
  for (const auto& [key, value] : acknowledged) CHECK(ok(engine->read(key)) == live(kStartUs, value));

  // And all of it survives a restart.
  engine.reset();
  engine = ok(open_rocksdb_engine(options));
  CHECK(ok(engine->read("after")) == live(kStartUs, "recovered"));
  for (const auto& [key, value] : acknowledged) CHECK(ok(engine->read(key)) == live(kStartUs, value));
}

TEST_CASE("opening RocksDB where no directory can be made returns an error") {
  Options options;
  options.path = "/proc/ringkv-storage-test/db";
  options.clock_us = [] { return kStartUs; };
  const Result<std::unique_ptr<Engine>> engine = open_rocksdb_engine(options);
  CHECK_FALSE(engine.has_value());
}

TEST_CASE("the RocksDB engine reports its own figures for monitoring") {
  RocksDbFixture fixture;
  write_live_keys(fixture.engine(), 30);
  const Stats before = fixture.engine().stats();
  CHECK(before.memtable_bytes > 0);  // the writes sit in the memtable
  ok(fixture.engine().compact());
  const Stats after = fixture.engine().stats();
  CHECK(after.live_sst_bytes > 0);  // and reach SST files once compacted
}

}  // namespace
}  // namespace ringkv::storage
