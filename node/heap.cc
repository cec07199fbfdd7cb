#include "node/heap.h"

#include <mimalloc.h>

namespace ringkv::node {

void configure_heap() { mi_option_set(mi_option_decommit_delay, 0); }

void release_free_heap() { mi_collect(/*force=*/true); }

}  // namespace ringkv::node
