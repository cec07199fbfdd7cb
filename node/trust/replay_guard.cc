#include "node/trust/replay_guard.h"

#include <cassert>

namespace ringkv::trust {

bool ReplayGuard::accept(const std::string& sender, uint64_t generation, uint64_t counter) {
  ++tick_;
  auto it = senders_.find(sender);
  if (it == senders_.end()) {
    if (senders_.size() >= senders_max_) evict_one();
    Sender fresh;
    fresh.generation = generation;
    fresh.highest = counter;
    fresh.seen.set(0);
    fresh.last_used = tick_;
    senders_.emplace(sender, fresh);
    assert(senders_.size() <= senders_max_ && "the replay guard stays bounded");
    return true;
  }
  Sender& state = it->second;
  if (generation < state.generation) return false;
  if (generation > state.generation) {
    state.generation = generation;
    state.highest = counter;
    state.seen.reset();
    state.seen.set(0);
  } else if (counter > state.highest) {
    const uint64_t shift = counter - state.highest;
    if (shift >= kWindowBits) {
      state.seen.reset();
    } else {
      state.seen <<= static_cast<size_t>(shift);
    }
    state.seen.set(0);
    state.highest = counter;
  } else {
    const uint64_t behind = state.highest - counter;
    if (behind >= kWindowBits || state.seen.test(static_cast<size_t>(behind))) return false;
    state.seen.set(static_cast<size_t>(behind));
  }
  state.last_used = tick_;
  return true;
}

void ReplayGuard::evict_one() {
  auto oldest = senders_.begin();
  for (auto it = senders_.begin(); it != senders_.end(); ++it) {
    if (it->second.last_used < oldest->second.last_used) oldest = it;
  }
  if (oldest != senders_.end()) senders_.erase(oldest);
}

}  // namespace ringkv::trust
