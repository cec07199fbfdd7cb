// Record and Version: what one stored key holds, and how two versions compare.
//
// A Version is a hybrid-logical-clock timestamp in microseconds since the Unix
// epoch, assigned by the coordinator of the write, plus a tie-break (derived
// from the coordinator's node id) so two coordinators never produce equal
// versions. Last write wins: the record with the greater Version is kept,
// whatever order the writes arrive in. A delete is a Record with
// `tombstone == true` and an empty value.
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

  friend bool operator==(const Record&, const Record&) = default;
};

// The encoded form of a Record, as stored in RocksDB and sent between
// replicas: 8-byte big-endian timestamp, 8-byte big-endian tie-break, one
// flags byte (bit 0: tombstone), then the value bytes.
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

}  // namespace ringkv::storage
