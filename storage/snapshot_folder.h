// The snapshots folder of a RocksDbEngine (Options::snapshots_path): one
// sub-folder per tag, each a RocksDB checkpoint (a complete database: its
// CURRENT file marks it finished). Listing, sizing and removing them is plain
// file work, kept apart from the one file that includes RocksDB.
// Internal to storage/. Not thread-safe against concurrent changes of the
// folder (one node owns it).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "storage/engine.h"

namespace ringkv::storage {

// The folder of snapshot `tag`, after checking the tag (kInvalidArgument).
Result<std::string> snapshot_folder(const std::string& root, std::string_view tag);

// True when `folder` holds a finished checkpoint.
bool snapshot_complete(const std::string& folder);

// Tag, time (the folder's modification time) and size of snapshot `tag`.
Result<SnapshotInfo> snapshot_info(const std::string& root, std::string_view tag);

// Every finished snapshot under `root`, ordered by tag (none when `root`
// does not exist).
Result<std::vector<SnapshotInfo>> list_snapshot_folders(const std::string& root);

// Deletes snapshot `tag` and everything in it; kInvalidArgument when absent.
Status remove_snapshot_folder(const std::string& root, std::string_view tag);

}  // namespace ringkv::storage
