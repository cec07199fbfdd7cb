// How a Hint is stored in the `hints` column family.
//
// Key: the 16-byte target node id + 8-byte big-endian sequence, so one
// target's hints are one contiguous range in sequence order.
// Value: 4-byte big-endian user key length + user key + encoded Record.
// Internal to storage/: not part of the Engine API.
#pragma once

#include <cassert>
#include <cstdint>
#include <string>
#include <string_view>

#include "storage/big_endian.h"
#include "storage/engine.h"
#include "storage/record.h"

namespace ringkv::storage {

inline constexpr size_t kHintKeyBytes = kNodeIdBytes + 8;

inline std::string hint_key(std::string_view target, uint64_t sequence) {
  assert(target.size() == kNodeIdBytes && "hint targets are node ids");
  std::string key(target);
  append_be64(key, sequence);
  return key;
}

inline std::string encode_hint_value(const Hint& hint) {
  assert(hint.user_key.size() <= UINT32_MAX && "user keys fit a 32-bit length");
  std::string value;
  append_be32(value, static_cast<uint32_t>(hint.user_key.size()));
  value.append(hint.user_key);
  value.append(encode_record(hint.record));
  return value;
}

inline Result<Hint> decode_hint(std::string_view key, std::string_view value) {
  Hint hint;
  if (key.size() != kHintKeyBytes || value.size() < 4) {
    return std::unexpected(Error{ErrorKind::kCorruption, "malformed hint"});
  }
  const uint32_t user_key_bytes = read_be32(value);
  value.remove_prefix(4);
  if (value.size() < user_key_bytes || !decode_record(value.substr(user_key_bytes), hint.record)) {
    return std::unexpected(Error{ErrorKind::kCorruption, "malformed hint"});
  }
  hint.target = key.substr(0, kNodeIdBytes);
  hint.sequence = read_be64(key.substr(kNodeIdBytes));
  hint.user_key = value.substr(0, user_key_bytes);
  return hint;
}

}  // namespace ringkv::storage
