// Expiry: when a written value expires, and what a read answers for a record
// (DESIGN.md `put --ttl`; RESP SET EX/PX/EXAT/PXAT, EXPIRE, TTL, ...).
//
// The instant is fixed once, by the write's coordinator, when it accepts the
// write: a relative TTL counts from the coordinator's wall clock, then the
// instant travels with the record, so every replica, hint and stream holds
// the same expires_at_us whatever its own clock. Not from the write's
// hybrid-clock version: that runs ahead of the wall clock after the node saw
// a faster peer's timestamp (up to HybridClock's max_forward_us) and moves on
// a re-stamp, and a TTL counted from it would outlive its length by another
// node's skew. So a value lives its TTL as the coordinator's clock counts it:
// to a client, at most the coordinator's skew longer or shorter.
// A read answers an expired value as absent, judged by the answering node's
// wall clock (clocks a second apart disagree for that second). Compaction
// purges expired values with the tombstone grace (storage::purgeable).
// Pure functions.
#pragma once

#include <cstdint>

#include "node/wire/message.h"
#include "storage/record.h"

namespace ringkv::core {

// expires_at_us for a put its coordinator accepts at `now_wall_us` (0:
// never): ttl_ms after that instant, else expire_at_ms, else never.
uint64_t expiry_of(const wire::PutRequest& put, uint64_t now_wall_us);

// The client's answer for the newest record of a key, read at `now_us`:
// absent for a tombstone or an expired value, else the value with its
// version, its expiry and the milliseconds it has left (rounded up; both 0:
// no expiry).
wire::GetReply get_reply(const storage::Record& record, uint64_t now_us);

}  // namespace ringkv::core
