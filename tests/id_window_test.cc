// IdWindow: a table over consecutive ids, erased in any order.
#include <doctest/doctest.h>

#include <string>

#include "node/core/id_window.h"

using ringkv::core::IdWindow;

TEST_CASE("an id window finds what was added under each id until it is erased") {
  IdWindow<std::string> window;
  CHECK(window.empty());
  CHECK(window.find(1) == nullptr);
  for (uint64_t id = 1; id <= 3; ++id) window.add(id, "v" + std::to_string(id));
  REQUIRE(window.find(2) != nullptr);
  CHECK(*window.find(2) == "v2");
  CHECK(window.size() == 3);
  CHECK(window.erase(2));
  CHECK_FALSE(window.erase(2));  // once only
  CHECK(window.find(2) == nullptr);
  CHECK(*window.find(1) == "v1");
  CHECK(*window.find(3) == "v3");
  CHECK(window.find(4) == nullptr);  // never added
  CHECK(window.size() == 2);
}

TEST_CASE("an id window forgets erased ids at its old end, so the oldest id left is present") {
  IdWindow<int> window;
  for (uint64_t id = 10; id < 15; ++id) window.add(id, static_cast<int>(id));
  CHECK(window.oldest_id() == 10);
  window.erase(11);
  window.erase(12);
  CHECK(window.span() == 5);  // 11 and 12 still take slots behind 10
  window.erase(10);
  CHECK(window.oldest_id() == 13);
  CHECK(window.span() == 2);
  window.erase(13);
  window.erase(14);
  CHECK(window.empty());
  CHECK(window.span() == 0);
  window.add(15, 15);  // ids go on where they left off
  CHECK(window.oldest_id() == 15);
  CHECK(window.find(14) == nullptr);
}

TEST_CASE("an id window keeps its entries in order while it grows and wraps around") {
  IdWindow<uint64_t> window;
  uint64_t next = 1;
  // A long-lived entry at the old end while thousands come and go after it:
  // the window grows to their span, wrapping around its buffer as it goes.
  window.add(next++, 0);
  for (int round = 0; round < 1000; ++round) {
    for (int i = 0; i < 5; ++i, ++next) window.add(next, next * 7);
    for (uint64_t id = next - 5; id < next - 1; ++id) CHECK(window.erase(id));
  }
  CHECK(window.oldest_id() == 1);
  CHECK(window.size() == 1 + 1000);
  CHECK(window.span() == next - 1);
  for (uint64_t id = 6; id < next; id += 5) {
    REQUIRE(window.find(id) != nullptr);
    CHECK(*window.find(id) == id * 7);
  }
  window.erase(1);
  CHECK(window.oldest_id() == 6);
  // Erasing what is left in any order empties it.
  for (uint64_t id = next - 1; id >= 6; id -= 5) CHECK(window.erase(id));
  CHECK(window.empty());
  CHECK(window.span() == 0);
}
