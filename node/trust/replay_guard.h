// ReplayGuard: refuses an authentic sealed datagram seen before.
//
// Per sender node id it keeps the highest generation seen (the sender's
// persisted restart count) and, within it, the highest counter plus a
// 1024-bit sliding window of counters below it (IPsec style, RFC 4303
// 3.4.3): an older generation, a counter below the window, or a counter
// already marked is a replay. Datagrams may arrive out of order within the
// window. Only call accept() for datagrams that authenticated, so a forger
// cannot move a window.
//
// Bounded: at most senders_max senders (default 4096); a new sender beyond
// that evicts the least recently seen one (which then may replay datagrams
// sent before its eviction: a bounded memory is worth that rare hole).
// Limitation: the state is in memory; a restarted receiver starts empty.
// Pure; the loop's thread only.
#pragma once

#include <bitset>
#include <cstdint>
#include <string>
#include <unordered_map>

namespace ringkv::trust {

class ReplayGuard {
 public:
  static constexpr size_t kWindowBits = 1024;
  static constexpr size_t kSendersMaxDefault = 4096;

  explicit ReplayGuard(size_t senders_max = kSendersMaxDefault) : senders_max_(senders_max) {}

  // True (and the counter is marked seen) when (generation, counter) from
  // `sender` was not seen before; false for a replay.
  bool accept(const std::string& sender, uint64_t generation, uint64_t counter);
  size_t senders() const { return senders_.size(); }

 private:
  struct Sender {
    uint64_t generation = 0;
    uint64_t highest = 0;
    std::bitset<kWindowBits> seen;  // bit i: counter highest - i was seen
    uint64_t last_used = 0;         // for least-recently-seen eviction
  };
  void evict_one();

  size_t senders_max_;
  uint64_t tick_ = 0;
  std::unordered_map<std::string, Sender> senders_;
};

}  // namespace ringkv::trust
