// RecyclingRing: FIFO order across wrap-around and growth, reuse of popped
// elements, and giving memory back once empty.
#include <doctest/doctest.h>

#include <deque>
#include <random>
#include <string>

#include "node/resp/recycling_ring.h"

using namespace ringkv::resp;

TEST_CASE("a ring keeps FIFO order like a deque through wrap-around and growth") {
  for (uint64_t seed = 1; seed <= 50; ++seed) {
    CAPTURE(seed);
    std::mt19937_64 rng(seed);
    RecyclingRing<std::string> ring;
    std::deque<std::string> model;
    for (int step = 0; step < 2000; ++step) {
      if (rng() % 3 != 0 || model.empty()) {
        std::string& item = ring.push_back();
        item = "item" + std::to_string(step);
        model.push_back(item);
      } else {
        CHECK(ring.front() == model.front());
        ring.pop_front();
        model.pop_front();
      }
      REQUIRE(ring.size() == model.size());
      if (!model.empty()) CHECK(ring[model.size() - 1] == model.back());
    }
    for (size_t i = 0; i < model.size(); ++i) CHECK(ring[i] == model[i]);
  }
}

TEST_CASE("a popped element is handed out again as it was left") {
  RecyclingRing<std::string> ring;
  ring.push_back() = "first";
  ring.pop_front();
  for (int i = 0; i < 7; ++i) {  // around the ring of 8 to reach the same element again
    ring.push_back();
    ring.pop_front();
  }
  CHECK(ring.push_back() == "first");
  CHECK(ring.capacity() == 8);
}

TEST_CASE("an empty ring gives back what it grew past the kept bound, a busy one keeps it") {
  RecyclingRing<int> ring;
  for (int i = 0; i < 100; ++i) ring.push_back() = i;
  CHECK(ring.capacity() == 128);
  ring.release_spare(16);
  CHECK(ring.capacity() == 128);  // not empty
  while (!ring.empty()) ring.pop_front();
  ring.release_spare(128);
  CHECK(ring.capacity() == 128);
  ring.release_spare(16);
  CHECK(ring.capacity() == 0);
  ring.push_back() = 7;
  CHECK(ring.front() == 7);
}
