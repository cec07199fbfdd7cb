// Codec: Message <-> msgpack bytes, and the framing of those bytes on TCP.
//
// Framing: a 4-byte big-endian length, then that many bytes of one msgpack
// message. decode() never throws and never trusts the input: it enforces
// Limits (element counts, depth, key and value sizes) and reports what was
// wrong. Pure functions plus one incremental FrameReader; no I/O.
#pragma once

#include <cstdint>
#include <expected>
#include <string>
#include <string_view>

#include "node/wire/limits.h"
#include "node/wire/message.h"

namespace ringkv::wire {

enum class DecodeErrorKind {
  kMalformed,       // not msgpack, wrong shape, wrong field types
  kTooLarge,        // a limit was exceeded
  kBadVersion,      // protocol version differs
  kUnknownType,     // message type not known here
};

struct DecodeError {
  DecodeErrorKind kind = DecodeErrorKind::kMalformed;
  std::string reason;
  // Echo of the request id when it could be read (0 otherwise), so the
  // error reply can still be matched by the client.
  uint64_t request_id = 0;
};

// Appends the frame (length header + msgpack) for `message` to `out`.
void encode_frame(const Message& message, std::string& out);
// The msgpack payload alone (no length header).
std::string encode(const Message& message);
std::expected<Message, DecodeError> decode(std::string_view payload, const Limits& limits);

// Splits a TCP byte stream into frame payloads. Bytes are appended with
// feed(); next() yields one complete payload at a time. A length header above
// limits.frame_bytes_max is an error reported before any buffer grows for it;
// after an error the reader is unusable (the connection must close).
class FrameReader {
 public:
  explicit FrameReader(const Limits& limits) : frame_bytes_max_(limits.frame_bytes_max) {}

  void feed(std::string_view bytes);
  enum class Status { kFrame, kNeedMore, kError };
  // On kFrame, `payload` views the frame's bytes until the next feed()/next().
  Status next(std::string_view& payload, std::string& error);
  size_t buffered_bytes() const { return buffer_.size() - consumed_; }
  // Drops the bytes already returned and gives back capacity far above what
  // is left (call once a read was handled): an idle connection then keeps no
  // read-sized buffer, so a thousand of them cost kilobytes, not megabytes.
  // Invalidates payloads returned before.
  void release_spare();

 private:
  size_t frame_bytes_max_;
  std::string buffer_;
  size_t consumed_ = 0;
};

}  // namespace ringkv::wire
