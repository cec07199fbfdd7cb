#include "membership/check.h"

#include <cstdio>
#include <cstdlib>

namespace ringkv::membership {

void check_failed(const char* condition, const char* invariant, const char* file, int line) {
  std::fprintf(stderr, "membership invariant violated: %s (%s) at %s:%d\n", invariant, condition,
               file, line);
  std::abort();
}

}  // namespace ringkv::membership
