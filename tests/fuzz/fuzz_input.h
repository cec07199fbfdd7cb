// FuzzInput: reads a fuzz input front to back as small fields. Past the end every read yields
// zeros or empty bytes, so a target never needs to check the length; `empty()` says when to
// stop a loop. Shared by the targets that take structured inputs and by the seed generator's
// writers, which produce the same layout.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ringkv::fuzz {

class FuzzInput {
 public:
  FuzzInput(const uint8_t* data, size_t size) : bytes_(reinterpret_cast<const char*>(data), size) {}

  bool empty() const { return bytes_.empty(); }
  size_t remaining() const { return bytes_.size(); }
  uint8_t byte() {
    if (bytes_.empty()) return 0;
    const auto value = static_cast<uint8_t>(bytes_.front());
    bytes_.remove_prefix(1);
    return value;
  }
  // Little-endian.
  uint16_t u16() {
    const uint16_t low = byte();
    return static_cast<uint16_t>(low | (uint16_t{byte()} << 8));
  }
  // Up to `count` bytes (fewer at the end of the input).
  std::string_view bytes(size_t count) {
    const std::string_view out = bytes_.substr(0, std::min(count, bytes_.size()));
    bytes_.remove_prefix(out.size());
    return out;
  }
  // A field of u16 length then that many bytes.
  std::string_view field() { return bytes(u16()); }
  std::string_view rest() { return bytes(bytes_.size()); }

 private:
  std::string_view bytes_;
};

// The writer side of FuzzInput::field().
inline void append_field(std::string& out, std::string_view bytes) {
  const size_t size = std::min<size_t>(bytes.size(), UINT16_MAX);
  out.push_back(static_cast<char>(size & 0xff));
  out.push_back(static_cast<char>(size >> 8));
  out.append(bytes.substr(0, size));
}

}  // namespace ringkv::fuzz
