#include "node/heap.h"

#include <jemalloc/jemalloc.h>

// Read by jemalloc at its start (declared extern "C" by jemalloc.h): purge freed pages from a background thread
// after 1 s (dirty) and at once from the "muzzy" state, instead of waiting
// for the thread that freed them to allocate again.
const char* malloc_conf = "background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0";

namespace ringkv::node {

#define RINGKV_STRINGIFY_(x) #x
#define RINGKV_STRINGIFY(x) RINGKV_STRINGIFY_(x)

void release_free_heap() {
  mallctl("arena." RINGKV_STRINGIFY(MALLCTL_ARENAS_ALL) ".purge", nullptr, nullptr, nullptr, 0);
}

}  // namespace ringkv::node
