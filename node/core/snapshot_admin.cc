#include "node/core/snapshot_admin.h"

#include <string>

#include "node/core/replica_store.h"
#include "storage/snapshot_tag.h"

namespace ringkv::core {
namespace {

wire::SnapshotEntry to_wire(const storage::SnapshotInfo& info) {
  return wire::SnapshotEntry{info.tag, info.created_us, info.bytes};
}

wire::ErrorReply failure(const storage::Error& error) {
  // A bad tag or a missing snapshot is the request's fault; anything else is the node's.
  if (error.kind == storage::ErrorKind::kInvalidArgument) return {wire::ErrorCode::kInvalid, error.message};
  return {wire::ErrorCode::kInternal, describe(error)};
}

}  // namespace

wire::Body handle_snapshot_request(storage::Engine& engine, std::string_view node_name,
                                   const wire::SnapshotRequest& request, uint64_t wall_us) {
  wire::SnapshotReply reply{std::string(node_name), {}};
  switch (request.action) {
    case wire::SnapshotAction::kCreate: {
      const std::string tag = request.tag.empty() ? storage::default_snapshot_tag(wall_us) : request.tag;
      auto made = engine.create_snapshot(tag);
      if (!made) return failure(made.error());
      reply.snapshots.push_back(to_wire(*made));
      return reply;
    }
    case wire::SnapshotAction::kList: {
      auto listed = engine.snapshots();
      if (!listed) return failure(listed.error());
      for (const storage::SnapshotInfo& info : *listed) {
        if (reply.snapshots.size() == wire::kSnapshotsListedMax) break;
        reply.snapshots.push_back(to_wire(info));
      }
      return reply;
    }
    case wire::SnapshotAction::kRemove: {
      auto listed = engine.snapshots();
      if (!listed) return failure(listed.error());
      if (auto removed = engine.remove_snapshot(request.tag); !removed) return failure(removed.error());
      for (const storage::SnapshotInfo& info : *listed) {
        if (info.tag == request.tag) reply.snapshots.push_back(to_wire(info));
      }
      return reply;
    }
  }
  return wire::ErrorReply{wire::ErrorCode::kInvalid, "unknown snapshot action"};
}

}  // namespace ringkv::core
