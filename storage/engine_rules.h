// The rules both engines apply, kept in one place so that MemoryEngine and
// RocksDbEngine cannot drift apart: scan bounds and batch limits, the
// tombstone purge rule, and how the identity in `meta` evolves.
// Internal to storage/: not part of the Engine API.
#pragma once

#include <algorithm>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "storage/big_endian.h"
#include "storage/engine.h"
#include "storage/record.h"
#include "storage/storage_key.h"

namespace ringkv::storage {

inline constexpr std::string_view kMetaNodeId = "node_id";
inline constexpr std::string_view kMetaGeneration = "generation";

// The first storage key a scan may return: the start of the range, or just
// past the resume point (appending a zero byte gives the next key in bytewise
// order), whichever is later.
inline std::string scan_lower_bound(const ScanRange& range) {
  std::string lower = position_prefix(range.begin);
  if (!range.after_storage_key.empty()) {
    std::string successor = range.after_storage_key + '\0';
    if (successor > lower) lower = std::move(successor);
  }
  return lower;
}

// The first storage key past the range, or nullopt for the end of the ring.
inline std::optional<std::string> scan_upper_bound(const ScanRange& range) {
  if (range.end == 0) return std::nullopt;
  return position_prefix(range.end);
}

inline void assert_scan_arguments(const ScanRange& range, size_t max_entries) {
  assert(max_entries > 0 && "a scan batch must be allowed at least one entry");
  assert((range.end == 0 || range.begin <= range.end) &&
         "wrap-around ranges must be split by the caller");
}

inline size_t scan_entry_bytes(std::string_view storage_key, size_t value_bytes) {
  return storage_key.size() + kRecordHeaderBytes + value_bytes;
}

// A batch that already holds an entry stops at either limit; an empty batch
// always takes one entry so that every scan call makes progress.
inline bool scan_batch_full(size_t entries, size_t bytes, size_t max_entries, size_t max_bytes) {
  return entries > 0 && (entries >= max_entries || bytes >= max_bytes);
}

// Tombstones whose version timestamp is before this instant may be purged.
inline uint64_t tombstone_cutoff_us(uint64_t now_us, uint64_t grace_s) {
  const uint64_t grace_us = grace_s * 1'000'000;
  return now_us > grace_us ? now_us - grace_us : 0;
}

// The identity to persist on this open, from what `meta` holds now.
inline Result<Identity> next_identity(const std::optional<std::string>& stored_node_id,
                                      const std::optional<std::string>& stored_generation,
                                      std::string_view new_node_id) {
  assert(new_node_id.size() == kNodeIdBytes && "node ids are 16 bytes");
  if (!stored_node_id) {
    if (stored_generation) {
      return std::unexpected(Error{ErrorKind::kCorruption, "meta has a generation but no node_id"});
    }
    return Identity{std::string(new_node_id), 1};
  }
  if (stored_node_id->size() != kNodeIdBytes || !stored_generation ||
      stored_generation->size() != 8) {
    return std::unexpected(Error{ErrorKind::kCorruption, "meta holds a malformed identity"});
  }
  return Identity{*stored_node_id, read_be64(*stored_generation) + 1};
}

inline std::string encode_generation(uint64_t generation) {
  std::string out;
  append_be64(out, generation);
  return out;
}

// The generation restored data must hold: the greater of the replaced
// data's and the snapshot's (0 when neither has one), so the next open's
// generation outranks every one this node ran with before.
inline Result<uint64_t> restored_generation(const std::optional<std::string>& live,
                                            const std::optional<std::string>& snapshot) {
  uint64_t generation = 0;
  for (const auto* stored : {&live, &snapshot}) {
    if (!*stored) continue;
    if ((*stored)->size() != 8) {
      return std::unexpected(Error{ErrorKind::kCorruption, "meta holds a malformed generation"});
    }
    generation = std::max(generation, read_be64(**stored));
  }
  return generation;
}

}  // namespace ringkv::storage
