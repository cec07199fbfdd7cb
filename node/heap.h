// The node's heap. kvnode is linked with mimalloc, which then serves every
// malloc/new of the process (RocksDB's included) instead of glibc's
// allocator: a request allocates tens of small blocks, and mimalloc's thread-
// local free lists cost about a quarter of the instructions per request
// that glibc's arenas did (bench/callgrind_requests.sh: README, Overload).
#pragma once

namespace ringkv::node {

// Hands the heap memory the calling thread freed back to the system
// (mi_collect). mimalloc returns freed memory only as that thread allocates
// again, so a node's loop thread, idle after a burst, calls this every few
// seconds (NodeSettings::release_free_heap) to let its RSS fall.
void release_free_heap();

}  // namespace ringkv::node
