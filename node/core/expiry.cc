#include "node/core/expiry.h"

#include <limits>

namespace ringkv::core {

uint64_t expiry_of(const wire::PutRequest& put, uint64_t now_wall_us) {
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  auto us = [&](uint64_t ms) { return ms > kMax / 1000 ? kMax : ms * 1000; };
  if (put.ttl_ms != 0) {
    const uint64_t ttl_us = us(put.ttl_ms);
    return ttl_us > kMax - now_wall_us ? kMax : now_wall_us + ttl_us;
  }
  return us(put.expire_at_ms);
}

wire::GetReply get_reply(const storage::Record& record, uint64_t now_us) {
  if (record.tombstone || storage::expired(record, now_us)) return wire::GetReply{};
  wire::GetReply reply{true, record.value, record.version.timestamp_us, record.version.tiebreak};
  if (record.expires_at_us != 0) {
    reply.ttl_ms = (record.expires_at_us - now_us + 999) / 1000;
    reply.expires_at_us = record.expires_at_us;
  }
  return reply;
}

}  // namespace ringkv::core
