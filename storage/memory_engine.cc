#include "storage/memory_engine.h"

#include <cassert>

#include "storage/engine_rules.h"
#include "storage/snapshot_tag.h"
#include "storage/storage_key.h"

namespace ringkv::storage {

MemoryEngine::MemoryEngine(Options options) : options_(std::move(options)) {
  assert(options_.clock_us && "Options::clock_us must be set");
}

Status MemoryEngine::injected_failure() const {
  if (!failing_kind_) return {};
  return std::unexpected(Error{*failing_kind_, "injected write failure"});
}

Status MemoryEngine::write(const std::vector<std::pair<std::string, Record>>& batch) {
  if (auto failure = injected_failure(); !failure) return failure;
  for (const auto& [user_key, record] : batch) {
    assert(!user_key.empty() && "user keys are non-empty");
    auto [it, inserted] = data_.try_emplace(storage_key(user_key), record);
    // Last write wins; an equal version keeps the stored record.
    if (!inserted && record.version > it->second.version) it->second = record;
  }
  return {};
}

Result<std::optional<Record>> MemoryEngine::read(std::string_view user_key) {
  auto it = data_.find(storage_key(user_key));
  if (it == data_.end()) return std::nullopt;
  return it->second;
}

Result<std::vector<std::optional<Record>>> MemoryEngine::read_many(const std::vector<std::string>& user_keys) {
  std::vector<std::optional<Record>> records;
  records.reserve(user_keys.size());
  for (const std::string& user_key : user_keys) records.push_back(*read(user_key));
  return records;
}

Result<ScanBatch> MemoryEngine::scan(const ScanRange& range, size_t max_entries, size_t max_bytes) {
  assert_scan_arguments(range, max_entries);
  const std::optional<std::string> upper = scan_upper_bound(range);
  ScanBatch batch;
  size_t bytes = 0;
  for (auto it = data_.lower_bound(scan_lower_bound(range));
       it != data_.end() && (!upper || it->first < *upper); ++it) {
    if (scan_batch_full(batch.entries.size(), bytes, max_entries, max_bytes)) {
      batch.done = false;
      break;
    }
    bytes += scan_entry_bytes(it->first, it->second.value.size());
    batch.entries.push_back(Entry{it->first, it->second});
  }
  return batch;
}

Status MemoryEngine::delete_range(uint64_t begin, uint64_t end) {
  if (auto failure = injected_failure(); !failure) return failure;
  auto first = data_.lower_bound(position_prefix(begin));
  auto last = end == 0 ? data_.end() : data_.lower_bound(position_prefix(end));
  if (end == 0 || begin < end) data_.erase(first, last);
  return {};
}

Status MemoryEngine::put_hint(const Hint& hint) {
  assert(hint.target.size() == kNodeIdBytes && "hint targets are node ids");
  if (auto failure = injected_failure(); !failure) return failure;
  hints_.insert_or_assign({hint.target, hint.sequence}, hint);
  return {};
}

Result<std::vector<Hint>> MemoryEngine::hints_for(std::string_view target, size_t max_hints,
                                                  uint64_t after_sequence) {
  assert(target.size() == kNodeIdBytes && "hint targets are node ids");
  std::vector<Hint> hints;
  if (after_sequence == UINT64_MAX) return hints;
  for (auto it = hints_.lower_bound({std::string(target), after_sequence + 1});
       it != hints_.end() && it->first.first == target && hints.size() < max_hints; ++it) {
    hints.push_back(it->second);
  }
  return hints;
}

Status MemoryEngine::delete_hint(std::string_view target, uint64_t sequence) {
  assert(target.size() == kNodeIdBytes && "hint targets are node ids");
  if (auto failure = injected_failure(); !failure) return failure;
  hints_.erase({std::string(target), sequence});
  return {};
}

Result<std::map<std::string, HintTally>> MemoryEngine::hint_tallies() {
  std::map<std::string, HintTally> tallies;
  for (const auto& [key, hint] : hints_) {
    HintTally& tally = tallies[key.first];
    ++tally.count;
    tally.bytes += hint_payload_bytes(hint);
  }
  return tallies;
}

Result<std::optional<std::string>> MemoryEngine::meta_get(std::string_view name) {
  auto it = meta_.find(name);
  if (it == meta_.end()) return std::nullopt;
  return it->second;
}

Status MemoryEngine::meta_put(std::string_view name, std::string_view value) {
  if (auto failure = injected_failure(); !failure) return failure;
  meta_.insert_or_assign(std::string(name), std::string(value));
  return {};
}

Result<Identity> MemoryEngine::open_identity(std::string_view new_node_id) {
  if (auto failure = injected_failure(); !failure) return std::unexpected(failure.error());
  auto identity = next_identity(*meta_get(kMetaNodeId), *meta_get(kMetaGeneration), new_node_id);
  if (!identity) return identity;
  meta_.insert_or_assign(std::string(kMetaNodeId), identity->node_id);
  meta_.insert_or_assign(std::string(kMetaGeneration), encode_generation(identity->generation));
  return identity;
}

Status MemoryEngine::compact() {
  if (auto failure = injected_failure(); !failure) return failure;
  const uint64_t cutoff_us = tombstone_cutoff_us(options_.clock_us(), options_.tombstone_grace_s);
  std::erase_if(data_, [cutoff_us](const auto& item) {
    return purgeable(item.second, cutoff_us);
  });
  return {};
}

Stats MemoryEngine::stats() {
  Stats stats;
  stats.data_keys_estimate = data_.size();
  for (const auto& [key, record] : data_) {
    stats.data_bytes_estimate += scan_entry_bytes(key, record.value.size());
  }
  stats.hints_count = hints_.size();
  return stats;
}

Result<SnapshotInfo> MemoryEngine::create_snapshot(std::string_view tag) {
  if (auto problem = snapshot_tag_problem(tag)) {
    return std::unexpected(Error{ErrorKind::kInvalidArgument, *problem});
  }
  if (snapshots_.contains(tag)) {
    return std::unexpected(Error{ErrorKind::kInvalidArgument, "snapshot " + std::string(tag) + " exists"});
  }
  // A checkpoint writes files: a full disk refuses it too.
  if (auto failure = injected_failure(); !failure) return std::unexpected(failure.error());
  Snapshot snapshot{SnapshotInfo{std::string(tag), options_.clock_us(), 0}, data_, hints_, meta_};
  for (const auto& [key, record] : data_) snapshot.info.bytes += scan_entry_bytes(key, record.value.size());
  const SnapshotInfo info = snapshot.info;
  snapshots_.emplace(std::string(tag), std::move(snapshot));
  return info;
}

Result<std::vector<SnapshotInfo>> MemoryEngine::snapshots() {
  std::vector<SnapshotInfo> infos;
  for (const auto& [tag, snapshot] : snapshots_) infos.push_back(snapshot.info);
  return infos;
}

Status MemoryEngine::remove_snapshot(std::string_view tag) {
  if (auto problem = snapshot_tag_problem(tag)) {
    return std::unexpected(Error{ErrorKind::kInvalidArgument, *problem});
  }
  const auto it = snapshots_.find(tag);
  if (it == snapshots_.end()) {
    return std::unexpected(Error{ErrorKind::kInvalidArgument, "no snapshot " + std::string(tag)});
  }
  snapshots_.erase(it);
  return {};
}

Status MemoryEngine::restore_snapshot(std::string_view tag) {
  const auto it = snapshots_.find(tag);
  if (it == snapshots_.end()) {
    return std::unexpected(Error{ErrorKind::kInvalidArgument, "no snapshot " + std::string(tag)});
  }
  if (auto failure = injected_failure(); !failure) return failure;
  const auto& saved = it->second.meta;
  const auto saved_generation = saved.find(kMetaGeneration);
  auto generation = restored_generation(
      *meta_get(kMetaGeneration),
      saved_generation == saved.end() ? std::nullopt : std::optional<std::string>(saved_generation->second));
  if (!generation) return std::unexpected(generation.error());
  data_ = it->second.data;
  hints_ = it->second.hints;
  meta_ = it->second.meta;
  if (*generation > 0) meta_.insert_or_assign(std::string(kMetaGeneration), encode_generation(*generation));
  return {};
}

}  // namespace ringkv::storage
