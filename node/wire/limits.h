// Wire limits: every bound a decoder checks before it allocates.
//
// A frame is rejected from its 4-byte length header alone when it exceeds
// frame_bytes_max, so a hostile length near 4 GiB never reaches the
// allocator. msgpack decoding then runs with element-count and depth limits.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace ringkv::wire {

// Protocol version carried in every message. A message with another version
// gets an error reply.
inline constexpr uint32_t kProtocolVersion = 1;

struct Limits {
  size_t key_bytes_max = 64 * 1024;
  size_t value_bytes_max = 8 * 1024 * 1024;
  // Room for one maximal key and value plus headers and small fields.
  size_t frame_bytes_max = 8 * 1024 * 1024 + 64 * 1024 + 4096;
  size_t depth_max = 8;
  // Element counts per msgpack array / map (a message is one flat array; the
  // largest lists are batches and member tables).
  size_t array_elements_max = 65536;
  size_t map_elements_max = 1024;

  // Empty when consistent; otherwise the reason.
  std::string validate() const;
};

}  // namespace ringkv::wire
