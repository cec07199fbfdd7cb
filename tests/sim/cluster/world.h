// World: the simulated clock and the event queue every other part schedules on.
//
// Time is an int64 count of simulated microseconds from the start of the run. Events run in
// (time, insertion order) order, so two events at the same instant run in the order they were
// scheduled and a run is exactly reproducible. Nothing here knows about nodes or networks.
//
// An event budget bounds a run: a livelock in the code under test (a timer that keeps firing
// at the same instant, a message storm) stops the run with overloaded() set instead of
// spinning forever. Single-threaded.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "tests/sim/cluster/sim_random.h"

namespace ringkv::cluster_sim {

using SimTimeUs = int64_t;

inline constexpr SimTimeUs kUsPerMs = 1000;
inline constexpr SimTimeUs kUsPerS = 1'000'000;

class World {
 public:
  World(uint64_t seed, uint64_t event_budget) : random_(seed), event_budget_(event_budget) {}
  World(const World&) = delete;
  World& operator=(const World&) = delete;

  SimTimeUs now_us() const { return now_us_; }
  SimRandom& random() { return random_; }

  // Runs `action` at `when` (now, if `when` has passed).
  void at(SimTimeUs when, std::function<void()> action);
  void after(SimTimeUs delay_us, std::function<void()> action) {
    at(now_us_ + delay_us, std::move(action));
  }

  // Runs every event due up to and including `until`; the clock then reads `until`. Returns
  // false (and stops early) once the event budget is spent.
  bool run_until(SimTimeUs until);

  uint64_t events_processed() const { return events_processed_; }
  bool overloaded() const { return events_processed_ >= event_budget_; }

 private:
  struct Entry {
    SimTimeUs at;
    uint64_t order;
    std::function<void()> action;
  };
  // A min-heap on (at, order) through std::push_heap/pop_heap, which (unlike
  // std::priority_queue) lets the popped action be moved out rather than copied.
  static bool later(const Entry& a, const Entry& b) {
    return a.at != b.at ? a.at > b.at : a.order > b.order;
  }

  SimRandom random_;
  uint64_t event_budget_;
  SimTimeUs now_us_ = 0;
  uint64_t next_order_ = 0;
  uint64_t events_processed_ = 0;
  std::vector<Entry> heap_;
};

}  // namespace ringkv::cluster_sim
