#include "storage/record.h"

#include <cassert>

#include "storage/big_endian.h"

namespace ringkv::storage {
namespace {

constexpr uint8_t kTombstoneFlag = 0x01;
constexpr uint8_t kKnownFlags = kTombstoneFlag;
constexpr size_t kFlagsOffset = 16;

}  // namespace

std::string encode_record(const Record& record) {
  std::string out;
  out.reserve(kRecordHeaderBytes + record.value.size());
  append_be64(out, record.version.timestamp_us);
  append_be64(out, record.version.tiebreak);
  out.push_back(static_cast<char>(record.tombstone ? kTombstoneFlag : 0));
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
  out.value.assign(bytes.substr(kRecordHeaderBytes));
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

}  // namespace ringkv::storage
