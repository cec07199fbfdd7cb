// release_spare: the one rule for a connection's input buffer between reads
// (wire::FrameReader, resp::RequestParser). Bytes before `consumed` were
// handled; when the buffer's capacity is far above what is left, the rest
// moves to a right-sized buffer, so an idle connection keeps no read-sized
// allocation and a thousand of them cost kilobytes.
//
// reserve_like_last: for an output buffer that is handed to a write whole and
// refilled from empty (PeerClient's requests, TcpServer's replies): before
// its first message, reserve what the last write took (at most 64 KiB), so it
// grows once instead of by doubling from nothing. Pure; no I/O.
#pragma once

#include <cstddef>
#include <string>

namespace ringkv::wire {

inline void release_spare(std::string& buffer, size_t& consumed) {
  constexpr size_t kKeptCapacityBytes = 16 * 1024;
  const size_t left = buffer.size() - consumed;
  if (buffer.capacity() <= kKeptCapacityBytes || buffer.capacity() <= 2 * left) return;
  buffer = buffer.substr(consumed);
  consumed = 0;
}

inline void reserve_like_last(std::string& buffer, size_t last_write_bytes) {
  constexpr size_t kReservedBytesMax = 64 * 1024;
  if (buffer.empty()) buffer.reserve(last_write_bytes < kReservedBytesMax ? last_write_bytes : kReservedBytesMax);
}

}  // namespace ringkv::wire
