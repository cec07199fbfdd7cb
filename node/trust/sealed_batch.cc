#include "node/trust/sealed_batch.h"

#include <cassert>
#include <cstdint>

#include "node/trust/sealed_datagram.h"

namespace ringkv::trust {
namespace {

constexpr size_t kLengthBytes = 4;

void append_length(std::string& out, size_t length) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((length >> shift) & 0xff));
}

size_t read_length(std::string_view bytes) {
  uint32_t length = 0;
  for (size_t i = 0; i < kLengthBytes; ++i) length = (length << 8) | static_cast<unsigned char>(bytes[i]);
  return length;
}

}  // namespace

void append_sealed_frame(std::string& out, Session& session, std::string_view plaintext) {
  append_length(out, plaintext.size() + kTagBytes);
  session.seal_append(plaintext, out);
}

void append_sealed_batch(std::string& out, Session& session, std::string_view framed, size_t frame_bytes_max) {
  assert(frame_bytes_max > kTagBytes && "the frame limit holds at least the tag");
  const size_t chunk_bytes_max = frame_bytes_max - kTagBytes;
  while (!framed.empty()) {
    // Whole frames while they fit; always at least one.
    size_t chunk = 0;
    while (chunk < framed.size()) {
      assert(framed.size() - chunk >= kLengthBytes && "append_sealed_batch takes whole frames");
      const size_t next = kLengthBytes + read_length(framed.substr(chunk));
      if (chunk > 0 && chunk + next > chunk_bytes_max) break;
      chunk += next;
    }
    assert(chunk <= framed.size() && "append_sealed_batch takes whole frames");
    append_sealed_frame(out, session, framed.substr(0, chunk));
    framed.remove_prefix(chunk);
  }
}

std::expected<std::string_view, std::string> take_batched(std::string_view& batch, size_t frame_bytes_max) {
  if (batch.size() < kLengthBytes) return std::unexpected("sealed batch truncated inside a length");
  const size_t length = read_length(batch);
  if (length > frame_bytes_max) return std::unexpected("sealed batch holds a message over the frame limit");
  if (batch.size() - kLengthBytes < length) return std::unexpected("sealed batch truncated inside a message");
  const std::string_view message = batch.substr(kLengthBytes, length);
  batch.remove_prefix(kLengthBytes + length);
  return message;
}

}  // namespace ringkv::trust
