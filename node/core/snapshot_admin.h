// `kv snapshot` on the answering node: make, list and remove snapshots of
// its own storage (storage/engine.h). Admin only (client_access.h). Per node,
// as `nodetool snapshot` is: a snapshot of the cluster is one per node, which
// the operator makes on every node (a loop over `kv --host`).
//
// A snapshot is made on the node's loop: RocksDB flushes its memtables and
// hard-links the table files, which takes about as long as one memtable
// flush, during which the node serves nothing else.
//
// Pure apart from the engine; time is passed in. Single-threaded.
#pragma once

#include <cstdint>
#include <string_view>

#include "node/wire/message.h"
#include "storage/engine.h"

namespace ringkv::core {

// The reply to `request`: a SnapshotReply (the snapshot made, every snapshot,
// or the one removed), or an ErrorReply kInvalid (bad or taken tag, no such
// snapshot; nothing changed) or kInternal (storage failure). An empty tag on
// create means the UTC time (storage/snapshot_tag.h).
wire::Body handle_snapshot_request(storage::Engine& engine, std::string_view node_name,
                                   const wire::SnapshotRequest& request, uint64_t wall_us);

}  // namespace ringkv::core
