#include "membership/broadcast_queue.h"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <utility>

#include "membership/check.h"

namespace ringkv::membership {

namespace {

// No encoded update is smaller than this (array header, 16-byte id, and the fixed fields), so
// a remaining budget below it cannot take anything more.
constexpr std::size_t kUpdateBytesMin = 24;
// Entries skipped for being too big before `take` gives up on filling the rest of the budget;
// bounds the work per datagram when the queue is long.
constexpr std::size_t kSkippedMax = 64;

}  // namespace

uint32_t retransmit_limit(uint32_t retransmit_mult, std::size_t members) {
  const double scale = std::ceil(std::log10(static_cast<double>(members) + 1.0));
  return retransmit_mult * static_cast<uint32_t>(std::max(1.0, scale));
}

BroadcastQueue::BroadcastQueue(std::size_t entries_max) : entries_max_(entries_max) {
  MEMBERSHIP_CHECK(entries_max >= 1, "a broadcast queue holds at least one entry");
}

void BroadcastQueue::push(std::string key, std::string encoded) {
  if (auto found = by_key_.find(key); found != by_key_.end()) {
    queue_.erase(found->second);
    by_key_.erase(found);
  }
  if (by_key_.size() >= entries_max_) {
    // The most transmitted entry has done the most of its work already.
    auto last = std::prev(queue_.end());
    by_key_.erase(last->key);
    queue_.erase(last);
  }
  auto [it, inserted] = queue_.insert(Entry{0, next_order_++, key, std::move(encoded)});
  MEMBERSHIP_CHECK(inserted, "queue orders are unique");
  by_key_.emplace(std::move(key), it);
  MEMBERSHIP_CHECK(by_key_.size() == queue_.size(), "one queue entry per key");
}

std::vector<std::string> BroadcastQueue::take(std::size_t budget_bytes, uint32_t transmit_limit) {
  MEMBERSHIP_CHECK(transmit_limit >= 1, "an update is sent at least once");
  std::vector<std::string> taken;
  std::vector<Queue::iterator> chosen;
  std::size_t remaining = budget_bytes;
  std::size_t skipped = 0;
  for (auto it = queue_.begin();
       it != queue_.end() && remaining >= kUpdateBytesMin && skipped < kSkippedMax; ++it) {
    if (it->encoded.size() > remaining) {
      ++skipped;
      continue;
    }
    remaining -= it->encoded.size();
    chosen.push_back(it);
  }
  for (Queue::iterator it : chosen) {
    auto node = queue_.extract(it);
    Entry& entry = node.value();
    taken.push_back(entry.encoded);
    ++entry.transmits;
    if (entry.transmits >= transmit_limit) {
      by_key_.erase(entry.key);
      continue;
    }
    const std::string key = entry.key;
    auto result = queue_.insert(std::move(node));
    MEMBERSHIP_CHECK(result.inserted, "queue orders are unique");
    by_key_[key] = result.position;
  }
  MEMBERSHIP_CHECK(by_key_.size() == queue_.size(), "one queue entry per key");
  return taken;
}

bool BroadcastQueue::contains(std::string_view key) const {
  return by_key_.find(std::string(key)) != by_key_.end();
}

}  // namespace ringkv::membership
