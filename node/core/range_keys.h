// Range keys: a replica's side of a scan (wire::RangeKeysRequest).
//
// Reads this node's records at positions [begin, end_inclusive] in
// storage-key (= ring) order and returns, without values, those whose key
// matches the pattern: tombstones and expired records too, since the
// coordinator merges replicas by last write wins and only then drops them.
//
// A reply always ends on a whole position: once it stops (enough entries,
// enough bytes, or enough records examined) it still adds every matching
// key that shares the last position, and says through which position it
// covered the range. So the next page starts at a fresh position and no
// cursor needs to carry a key. Bounds per request: max_entries (at most
// kScanCountMax) entries, about kRangeKeysReplyBytesSoft bytes of keys,
// kRangeKeysExaminedMax records examined (a pattern matching few keys yields
// short pages, as Redis's SCAN does). Only keys sharing one 64-bit position
// (a hash collision) can overrun the soft bounds; past
// kRangeKeysReplyBytesHard the request fails with kInternal instead of
// building a reply the frame limit would refuse.
//
// Pure: reads the engine only.
#pragma once

#include <cstddef>
#include <cstdint>

#include "node/wire/message.h"
#include "storage/engine.h"

namespace ringkv::core {

inline constexpr size_t kRangeKeysReplyBytesSoft = 1 << 20;
inline constexpr size_t kRangeKeysReplyBytesHard = 6 << 20;
inline constexpr size_t kRangeKeysExaminedMax = 20'000;

// The reply, or an ErrorReply (storage failure, collision overrun).
wire::Body read_range_keys(storage::Engine& engine, const wire::RangeKeysRequest& request);

}  // namespace ringkv::core
