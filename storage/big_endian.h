// Big-endian fixed-width integers, the byte order of every integer that
// storage puts on disk or in a key (so that byte order equals numeric order).
// Internal to storage/: not part of the Engine API.
#pragma once

#include <cassert>
#include <cstdint>
#include <string>
#include <string_view>

namespace ringkv::storage {

inline void append_be64(std::string& out, uint64_t value) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>(value >> shift));
}

inline void append_be32(std::string& out, uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>(value >> shift));
}

// REQUIRES: bytes.size() >= 8.
inline uint64_t read_be64(std::string_view bytes) {
  assert(bytes.size() >= 8 && "read_be64 needs 8 bytes");
  uint64_t value = 0;
  for (int i = 0; i < 8; ++i) value = (value << 8) | static_cast<uint8_t>(bytes[i]);
  return value;
}

// REQUIRES: bytes.size() >= 4.
inline uint32_t read_be32(std::string_view bytes) {
  assert(bytes.size() >= 4 && "read_be32 needs 4 bytes");
  uint32_t value = 0;
  for (int i = 0; i < 4; ++i) value = (value << 8) | static_cast<uint8_t>(bytes[i]);
  return value;
}

}  // namespace ringkv::storage
