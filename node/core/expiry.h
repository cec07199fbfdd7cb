// Expiry: when a written value expires, and what a read answers for a record
// (DESIGN.md `put --ttl`; RESP SET EX/PX/EXAT/PXAT, EXPIRE, TTL, ...).
//
// The instant is fixed once, by the write's coordinator, from the write's own
// timestamp: every replica stores the same expires_at_us whatever its clock.
// A read answers an expired value as absent, judged by the answering node's
// wall clock (clocks a second apart disagree for that second). Compaction
// purges expired values with the tombstone grace (storage/engine_rules.h).
// Pure functions.
#pragma once

#include <cstdint>

#include "node/wire/message.h"
#include "storage/record.h"

namespace ringkv::core {

// expires_at_us for a put stamped `timestamp_us` (0: never): ttl_ms after the
// write's timestamp, else expire_at_ms, else never.
uint64_t expiry_of(const wire::PutRequest& put, uint64_t timestamp_us);

// The client's answer for the newest record of a key, read at `now_us`:
// absent for a tombstone or an expired value, else the value with its
// version and the milliseconds it has left (rounded up; 0: no expiry).
wire::GetReply get_reply(const storage::Record& record, uint64_t now_us);

}  // namespace ringkv::core
