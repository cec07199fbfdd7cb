// Piggyback dissemination queue (memberlist's TransmitLimitedQueue).
//
// Holds at most one encoded update per member (a newer update about a member replaces the
// queued one) and at most `entries_max` entries (beyond that the most transmitted entry is
// dropped). `take` hands out the least transmitted entries first, newest first among equals,
// as many as fit into a byte budget; every hand-out counts one transmission and an entry is
// retired after `transmit_limit` of them. Not thread-safe; owned by one Swim.
#pragma once

#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace ringkv::membership {

// retransmit_mult * ceil(log10(members + 1)): how often each update is sent.
uint32_t retransmit_limit(uint32_t retransmit_mult, std::size_t members);

class BroadcastQueue {
 public:
  // REQUIRES: entries_max >= 1.
  explicit BroadcastQueue(std::size_t entries_max);

  // Queues `encoded` as the update about `key` with zero transmissions, replacing any older
  // update about `key`.
  void push(std::string key, std::string encoded);

  // Takes updates, fewest transmissions first, whose total size is at most `budget_bytes`.
  // REQUIRES: transmit_limit >= 1.
  std::vector<std::string> take(std::size_t budget_bytes, uint32_t transmit_limit);

  bool contains(std::string_view key) const;
  std::size_t size() const { return by_key_.size(); }
  bool empty() const { return by_key_.empty(); }

 private:
  struct Entry {
    uint32_t transmits;
    uint64_t order;  // larger is newer
    std::string key;
    std::string encoded;
  };
  struct FewestTransmitsNewestFirst {
    bool operator()(const Entry& a, const Entry& b) const {
      if (a.transmits != b.transmits) return a.transmits < b.transmits;
      return a.order > b.order;
    }
  };
  using Queue = std::set<Entry, FewestTransmitsNewestFirst>;

  std::size_t entries_max_;
  uint64_t next_order_ = 0;
  Queue queue_;
  std::unordered_map<std::string, Queue::iterator> by_key_;
};

}  // namespace ringkv::membership
