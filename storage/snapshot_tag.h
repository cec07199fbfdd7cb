// Snapshot tags: the names of `kv snapshot --tag NAME`, used as folder names
// under a node's snapshots folder, so they are checked before any file is
// touched: 1 to 64 characters from [A-Za-z0-9._-], starting with a letter or
// digit (so no "..", no hidden or absolute name), and not ending in ".tmp"
// (RocksDB builds a checkpoint in TAG.tmp first). Pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ringkv::storage {

inline constexpr size_t kSnapshotTagBytesMax = 64;

// Why `tag` is not a valid snapshot tag, or nullopt when it is.
std::optional<std::string> snapshot_tag_problem(std::string_view tag);

// The default tag: the UTC time in ISO 8601 basic form with milliseconds,
// e.g. "20261201T074512.345Z" (sorts by time).
std::string default_snapshot_tag(uint64_t wall_us);

}  // namespace ringkv::storage
