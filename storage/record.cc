#include "storage/record.h"

#include <cassert>

#include "storage/big_endian.h"

namespace ringkv::storage {
namespace {

constexpr uint8_t kTombstoneFlag = 0x01;
constexpr uint8_t kExpiresFlag = 0x02;
constexpr uint8_t kKnownFlags = kTombstoneFlag | kExpiresFlag;
constexpr size_t kFlagsOffset = 16;
constexpr size_t kExpiryBytes = 8;

}  // namespace

std::string encode_record(const Record& record) {
  std::string out;
  out.reserve(kRecordHeaderBytes + kExpiryBytes + record.value.size());
  append_be64(out, record.version.timestamp_us);
  append_be64(out, record.version.tiebreak);
  const uint8_t flags = (record.tombstone ? kTombstoneFlag : 0) | (record.expires_at_us ? kExpiresFlag : 0);
  out.push_back(static_cast<char>(flags));
  if (record.expires_at_us) append_be64(out, record.expires_at_us);
  out.append(record.value);
  return out;
}

bool decode_record(std::string_view bytes, Record& out) {
  if (bytes.size() < kRecordHeaderBytes) return false;
  const auto flags = static_cast<uint8_t>(bytes[kFlagsOffset]);
  // Unknown bits mean a newer format or corruption; guessing would be worse.
  if ((flags & ~kKnownFlags) != 0) return false;
  out.version = encoded_version(bytes);
  out.tombstone = (flags & kTombstoneFlag) != 0;
  size_t value_offset = kRecordHeaderBytes;
  out.expires_at_us = 0;
  if (flags & kExpiresFlag) {
    if (bytes.size() < kRecordHeaderBytes + kExpiryBytes) return false;
    out.expires_at_us = read_be64(bytes.substr(kRecordHeaderBytes));
    value_offset += kExpiryBytes;
  }
  out.value.assign(bytes.substr(value_offset));
  return true;
}

Version encoded_version(std::string_view bytes) {
  assert(bytes.size() >= kRecordHeaderBytes && "encoded_version needs a whole header");
  return Version{read_be64(bytes), read_be64(bytes.substr(8))};
}

bool encoded_tombstone(std::string_view bytes) {
  assert(bytes.size() >= kRecordHeaderBytes && "encoded_tombstone needs a whole header");
  return (static_cast<uint8_t>(bytes[kFlagsOffset]) & kTombstoneFlag) != 0;
}

uint64_t encoded_expiry(std::string_view bytes) {
  assert(bytes.size() >= kRecordHeaderBytes && "encoded_expiry needs a whole header");
  const bool expires = (static_cast<uint8_t>(bytes[kFlagsOffset]) & kExpiresFlag) != 0;
  if (!expires || bytes.size() < kRecordHeaderBytes + kExpiryBytes) return 0;
  return read_be64(bytes.substr(kRecordHeaderBytes));
}

bool expired(const Record& record, uint64_t now_us) {
  return !record.tombstone && record.expires_at_us != 0 && record.expires_at_us <= now_us;
}

bool purgeable(bool tombstone, const Version& version, uint64_t expires_at_us, uint64_t cutoff_us) {
  const bool written_before = version.timestamp_us < cutoff_us;
  return written_before && (tombstone || (expires_at_us != 0 && expires_at_us < cutoff_us));
}

bool purgeable(const Record& record, uint64_t cutoff_us) {
  return purgeable(record.tombstone, record.version, record.expires_at_us, cutoff_us);
}

}  // namespace ringkv::storage
