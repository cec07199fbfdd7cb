// Record and Version: what one stored key holds, and how two versions compare.
//
// A Version is a hybrid-logical-clock timestamp in microseconds since the Unix
// epoch, assigned by the coordinator of the write, plus a tie-break (derived
// from the coordinator's node id) so two coordinators never produce equal
// versions. Last write wins: the record with the greater Version is kept,
// whatever order the writes arrive in. A delete is a Record with
// `tombstone == true` and an empty value. A value may expire: at
// `expires_at_us` (wall clock, microseconds since the epoch; 0 = never) it
// reads as absent on every replica, and compaction purges it with the grace
// of tombstones (engine.h). The instant is decided once, by the write's
// coordinator from the write's own timestamp, so replicas never disagree on it.
#pragma once

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

namespace ringkv::storage {

struct Version {
  uint64_t timestamp_us = 0;
  uint64_t tiebreak = 0;

  friend auto operator<=>(const Version&, const Version&) = default;
};

struct Record {
  Version version;
  bool tombstone = false;
  std::string value;
  uint64_t expires_at_us = 0;

  friend bool operator==(const Record&, const Record&) = default;
};

// The encoded form of a Record, as stored in RocksDB: 8-byte big-endian
// timestamp, 8-byte big-endian tie-break, one flags byte (bit 0: tombstone,
// bit 1: expires), with bit 1 the 8-byte big-endian expires_at_us, then the
// value bytes. Records written before expiry existed decode unchanged.
inline constexpr size_t kRecordHeaderBytes = 17;
std::string encode_record(const Record& record);
// Returns false (and leaves `out` unspecified) when `bytes` is shorter than a
// header or carries unknown flag bits.
bool decode_record(std::string_view bytes, Record& out);
// Reads only the version of an encoded record; REQUIRES: bytes.size() >= kRecordHeaderBytes.
Version encoded_version(std::string_view bytes);
// Reads only the tombstone flag of an encoded record, without copying its
// value; REQUIRES: bytes.size() >= kRecordHeaderBytes.
bool encoded_tombstone(std::string_view bytes);
// Reads only the expiry of an encoded record (0: never, also for a record too
// short to hold one); REQUIRES: bytes.size() >= kRecordHeaderBytes.
uint64_t encoded_expiry(std::string_view bytes);
// True when `record` is a value whose expiry is at or before `now_us`: it
// reads as absent.
bool expired(const Record& record, uint64_t now_us);
// True when compaction may forget a record at `cutoff_us` (now minus the
// tombstone grace; anti-entropy leaves such records out of its digests): a
// tombstone written before the cutoff, or a value that both expired and was
// written before it. An expired value is a delete decided in advance, so it
// keeps the tombstone's grace from its write as well as from its expiry
// (either may be the later one): that grace is what keeps repair, hints and
// streams from bringing an older version back.
bool purgeable(bool tombstone, const Version& version, uint64_t expires_at_us, uint64_t cutoff_us);
bool purgeable(const Record& record, uint64_t cutoff_us);

}  // namespace ringkv::storage
