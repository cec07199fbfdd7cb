#include "tests/sim/cluster/world.h"

#include <algorithm>

namespace ringkv::cluster_sim {

void World::at(SimTimeUs when, std::function<void()> action) {
  heap_.push_back(Entry{std::max(when, now_us_), next_order_++, std::move(action)});
  std::push_heap(heap_.begin(), heap_.end(), later);
}

bool World::run_until(SimTimeUs until) {
  while (!heap_.empty() && heap_.front().at <= until) {
    if (overloaded()) return false;
    std::pop_heap(heap_.begin(), heap_.end(), later);
    Entry entry = std::move(heap_.back());
    heap_.pop_back();
    now_us_ = entry.at;
    ++events_processed_;
    entry.action();
  }
  now_us_ = std::max(now_us_, until);
  return !overloaded();
}

}  // namespace ringkv::cluster_sim
