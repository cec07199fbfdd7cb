// The node's heap. kvnode is linked with jemalloc (Debian's libjemalloc-dev),
// which then serves every malloc/new of the process, RocksDB's included,
// instead of glibc's allocator: a request allocates tens of small blocks,
// and jemalloc's thread caches cost fewer instructions per request than
// glibc's arenas did (README, Overload). Its configuration (malloc_conf in
// heap.cc) runs a background thread that hands freed pages back to the
// system about a second after they were freed, whichever thread freed them,
// so RSS falls after a burst even while the node is idle.
#pragma once

namespace ringkv::node {

// Hands every arena's freed pages back to the system now (the node's loop
// calls it every few seconds: NodeSettings::release_free_heap).
void release_free_heap();

}  // namespace ringkv::node
