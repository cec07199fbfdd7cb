// The node's heap. kvnode is linked with mimalloc (Debian's libmimalloc-dev),
// which then serves every malloc/new of the process, RocksDB's included,
// instead of glibc's allocator: a request allocates tens of small blocks,
// and mimalloc's thread-local free lists cost about a quarter fewer
// instructions per request than glibc's arenas did (README, Overload).
#pragma once

namespace ringkv::node {

// Makes a thread that frees memory hand its free pages back to the system
// at once (mimalloc otherwise waits for that thread to allocate again, and
// RocksDB's background threads and an idle loop kept a burst's memory: RSS
// 130 MiB after the overload flood instead of ~80). Call first in main().
void configure_heap();

// Hands the heap memory the calling thread freed back to the system
// (mi_collect); the node's loop calls it every few seconds
// (NodeSettings::release_free_heap).
void release_free_heap();

}  // namespace ringkv::node
