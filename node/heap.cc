#include "node/heap.h"

#include <mimalloc.h>

namespace ringkv::node {

void release_free_heap() { mi_collect(/*force=*/true); }

}  // namespace ringkv::node
