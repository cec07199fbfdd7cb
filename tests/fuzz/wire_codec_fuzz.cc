// Fuzz target: the node wire codec (node/wire/codec.h).
//
// The input is both one msgpack payload and a TCP byte stream of frames. Checks:
// - decode() never crashes, throws or reads out of bounds, whatever the bytes;
// - round trip: for every message decode() accepts, encode() of it decodes again, and to the
//   same message (compared by its canonical encoding: decode(encode(decode(x))) == decode(x));
//   encode_frame() is that encoding behind its 4-byte length;
// - FrameReader yields the same frames whether the stream arrives whole or in two pieces,
//   never buffers more than it was fed, and refuses a length over the limit before it grows.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "node/wire/codec.h"
#include "tests/fuzz/fuzz_check.h"

using namespace ringkv::wire;

namespace {

// Small frame limit, so the fuzzer reaches the over-limit path with short inputs.
Limits stream_limits() {
  Limits limits;
  limits.frame_bytes_max = 4096;
  return limits;
}

void check_round_trip(std::string_view payload, const Limits& limits) {
  auto decoded = decode(payload, limits);
  if (!decoded) {
    FUZZ_CHECK(!decoded.error().reason.empty(), "a refused payload says why");
    return;
  }
  const std::string encoded = encode(*decoded);
  auto again = decode(encoded, limits);
  FUZZ_CHECK(again.has_value(), "what decode accepts, encoded, decodes again");
  FUZZ_CHECK(again->request_id == decoded->request_id, "the round trip keeps the request id");
  FUZZ_CHECK(type_of(again->body) == type_of(decoded->body), "the round trip keeps the type");
  FUZZ_CHECK(encode(*again) == encoded, "decode(encode(decode(x))) == decode(x)");
  std::string frame;
  encode_frame(*decoded, frame);
  FUZZ_CHECK(frame.size() == encoded.size() + 4 && frame.substr(4) == encoded,
             "a frame is the encoding behind its length");
}

// Every frame payload of `stream` fed in the given pieces, then the final status.
std::vector<std::string> split_frames(std::string_view stream, size_t cut, const Limits& limits,
                                      FrameReader::Status& last) {
  FrameReader reader(limits);
  std::vector<std::string> frames;
  size_t fed = 0;
  for (std::string_view piece : {stream.substr(0, cut), stream.substr(cut)}) {
    reader.feed(piece);
    fed += piece.size();
    std::string_view payload;
    std::string error;
    while ((last = reader.next(payload, error)) == FrameReader::Status::kFrame) {
      FUZZ_CHECK(payload.size() <= limits.frame_bytes_max, "a frame within the limit");
      frames.emplace_back(payload);
    }
    FUZZ_CHECK(reader.buffered_bytes() <= fed, "the reader buffers no more than it was fed");
    if (last == FrameReader::Status::kError) {
      FUZZ_CHECK(!error.empty(), "a stream error says why");
      break;
    }
  }
  return frames;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  check_round_trip(input, Limits{});

  const Limits limits = stream_limits();
  FrameReader::Status whole_status{};
  FrameReader::Status split_status{};
  const auto whole = split_frames(input, input.size(), limits, whole_status);
  const auto split = split_frames(input, input.size() / 2, limits, split_status);
  FUZZ_CHECK(whole == split, "frames do not depend on how the stream was cut");
  FUZZ_CHECK(whole_status == split_status, "nor does the final status");
  for (const std::string& payload : whole) check_round_trip(payload, limits);
  return 0;
}
