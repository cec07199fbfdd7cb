// FUZZ_CHECK: the property a fuzz target asserts. Always on (not assert(), which a build type
// could compile out); a failure names the property and aborts, so libFuzzer records the input
// as a crash.
#pragma once

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(condition, property)                                               \
  do {                                                                                \
    if (!(condition)) {                                                               \
      std::fprintf(stderr, "fuzz property violated at %s:%d: %s (%s)\n", __FILE__,     \
                   __LINE__, property, #condition);                                   \
      std::abort();                                                                   \
    }                                                                                 \
  } while (0)
