#include "node/wire/message.h"

#include "node/wire/limits.h"

namespace ringkv::wire {

bool parse_consistency(std::string_view text, Consistency& out) {
  if (text == "one") out = Consistency::kOne;
  else if (text == "quorum") out = Consistency::kQuorum;
  else if (text == "all") out = Consistency::kAll;
  else if (text == "any") out = Consistency::kAny;
  else return false;
  return true;
}

std::string_view consistency_name(Consistency consistency) {
  switch (consistency) {
    case Consistency::kOne: return "one";
    case Consistency::kQuorum: return "quorum";
    case Consistency::kAll: return "all";
    case Consistency::kAny: return "any";
  }
  return "unknown";
}

std::string_view error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kUnavailable: return "UNAVAILABLE";
    case ErrorCode::kTimeout: return "TIMEOUT";
    case ErrorCode::kInvalid: return "INVALID";
    case ErrorCode::kInternal: return "INTERNAL";
    case ErrorCode::kUnknownType: return "UNKNOWN_TYPE";
    case ErrorCode::kBadVersion: return "BAD_VERSION";
    case ErrorCode::kNotAuthenticated: return "NOT_AUTHENTICATED";
    case ErrorCode::kForbidden: return "FORBIDDEN";
    case ErrorCode::kFailed: return "FAILED";
    case ErrorCode::kSuperseded: return "SUPERSEDED";
    case ErrorCode::kBusy: return "BUSY";
  }
  return "UNKNOWN_ERROR";
}

std::string Limits::validate() const {
  if (key_bytes_max == 0) return "key_bytes_max must be positive";
  if (frame_bytes_max < key_bytes_max + value_bytes_max) {
    return "frame_bytes_max must hold a maximal key and value";
  }
  if (frame_bytes_max > UINT32_MAX) return "frame_bytes_max must fit the 4-byte length header";
  if (depth_max < 2) return "depth_max must allow at least 2 levels";
  return {};
}

}  // namespace ringkv::wire
