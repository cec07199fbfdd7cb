#include "storage/record_cache.h"

#include <cassert>

#include "storage/engine_rules.h"
#include "storage/storage_key.h"

namespace ringkv::storage {
namespace {

// kEntryOverheadBytes, summed: a list node (two links and a Node) and a hash
// node (a link, the string_view key, the iterator and the cached hash), each
// in a glibc malloc chunk (8 bytes of header, rounded up to 16), and one
// bucket pointer per entry (the load factor stays at most 1).
constexpr size_t malloc_chunk_bytes(size_t bytes) { return (bytes + 8 + 15) / 16 * 16; }
constexpr size_t kListNodeBytes = 2 * sizeof(void*) + sizeof(std::string) + sizeof(std::optional<Record>);
constexpr size_t kHashNodeBytes = sizeof(void*) + sizeof(std::string_view) + sizeof(void*) + sizeof(size_t);
static_assert(malloc_chunk_bytes(kListNodeBytes) + malloc_chunk_bytes(kHashNodeBytes) + sizeof(void*) <=
                  kEntryOverheadBytes,
              "kEntryOverheadBytes must cover an entry's nodes");

}  // namespace

std::string RecordCacheLimits::validate() const {
  if (capacity_bytes == 0) return "row cache capacity must be positive (leave the cache out instead)";
  return {};
}

CachedEngine::CachedEngine(Engine& inner, RecordCacheLimits limits, const Options& options)
    : inner_(inner), limits_(limits), clock_us_(options.clock_us), tombstone_grace_s_(options.tombstone_grace_s) {
  assert(limits_.validate().empty() && "row cache limits must be valid");
  assert(clock_us_ && "Options::clock_us must be set");
}

uint64_t CachedEngine::cutoff_us() const { return tombstone_cutoff_us(clock_us_(), tombstone_grace_s_); }

size_t CachedEngine::charge(const Node& node) {
  return node.key.size() + (node.record ? node.record->value.size() : 0) + kEntryOverheadBytes;
}

bool CachedEngine::cacheable(const std::optional<Record>& record) const {
  return !record || cacheable(*record);
}

bool CachedEngine::cacheable(const Record& record) const { return record.value.size() <= limits_.value_bytes_max; }

CachedEngine::Lru::iterator CachedEngine::find(std::string_view key, uint64_t cutoff_us) {
  const auto found = index_.find(key);
  if (found == index_.end()) return lru_.end();
  const Lru::iterator node = found->second;
  if (node->record && purgeable(*node->record, cutoff_us)) {
    erase(node);
    return lru_.end();
  }
  lru_.splice(lru_.begin(), lru_, node);
  return node;
}

void CachedEngine::insert(std::string_view key, const std::optional<Record>& record) {
  if (!cacheable(record) || index_.contains(key)) return;
  lru_.push_front(Node{std::string(key), record});
  index_.emplace(lru_.front().key, lru_.begin());
  bytes_ += charge(lru_.front());
  evict_to_capacity();
}

void CachedEngine::erase(Lru::iterator node) {
  bytes_ -= charge(*node);
  index_.erase(node->key);
  lru_.erase(node);
}

void CachedEngine::evict_to_capacity() {
  while (bytes_ > limits_.capacity_bytes) {
    assert(!lru_.empty() && "cached bytes are the sum of the entries' charges");
    erase(std::prev(lru_.end()));
    ++evictions_;
  }
}

Result<std::optional<Record>> CachedEngine::read(std::string_view user_key) {
  if (const auto node = find(user_key, cutoff_us()); node != lru_.end()) {
    ++hits_;
    return node->record;
  }
  ++misses_;
  auto stored = inner_.read(user_key);
  if (stored) insert(user_key, *stored);
  return stored;
}

Result<std::vector<std::optional<Record>>> CachedEngine::read_many(const std::vector<std::string>& user_keys) {
  const uint64_t cutoff = cutoff_us();
  std::vector<std::optional<Record>> records(user_keys.size());
  std::vector<size_t> missing_at;  // positions of the misses, in order
  for (size_t i = 0; i < user_keys.size(); ++i) {
    if (const auto node = find(user_keys[i], cutoff); node != lru_.end()) {
      records[i] = node->record;
    } else {
      missing_at.push_back(i);
    }
  }
  hits_ += user_keys.size() - missing_at.size();
  misses_ += missing_at.size();
  if (missing_at.empty()) return records;
  // Every key missed (a cold batch): ask with the caller's keys, no copies.
  const bool all_missed = missing_at.size() == user_keys.size();
  std::vector<std::string> missing;
  if (!all_missed) {
    missing.reserve(missing_at.size());
    for (size_t i : missing_at) missing.push_back(user_keys[i]);
  }
  auto stored = inner_.read_many(all_missed ? user_keys : missing);
  if (!stored) return std::unexpected(stored.error());
  assert(stored->size() == missing_at.size() && "read_many answers every key");
  // A key asked twice is inserted once (insert() skips a cached key).
  for (size_t m = 0; m < missing_at.size(); ++m) {
    const size_t i = missing_at[m];
    insert(user_keys[i], (*stored)[m]);
    records[i] = std::move((*stored)[m]);
  }
  return records;
}

Status CachedEngine::write(const std::vector<std::pair<std::string, Record>>& batch) {
  return remember(batch, inner_.write(batch));
}

Status CachedEngine::write_newer(const std::vector<std::pair<std::string, Record>>& batch) {
  return remember(batch, inner_.write_newer(batch));
}

Status CachedEngine::remember(const std::vector<std::pair<std::string, Record>>& batch, Status written) {
  if (!written) {
    for (const auto& [key, record] : batch) {
      if (const auto found = index_.find(key); found != index_.end()) erase(found->second);
    }
    return written;
  }
  const uint64_t cutoff = cutoff_us();
  for (const auto& [key, record] : batch) {
    const auto node = find(key, cutoff);
    if (node == lru_.end()) continue;  // uncached: the stored record may be newer
    // Last write wins; an equal version keeps the stored record.
    if (node->record && !(node->record->version < record.version)) continue;
    if (!cacheable(record)) {
      erase(node);
      continue;
    }
    bytes_ -= charge(*node);
    node->record = record;
    bytes_ += charge(*node);
  }
  evict_to_capacity();
  return written;
}

Status CachedEngine::delete_range(uint64_t begin, uint64_t end) {
  auto deleted = inner_.delete_range(begin, end);
  // Erased even when the inner call failed: what it removed is unknown.
  if (end != 0 && begin >= end) return deleted;
  for (auto node = lru_.begin(); node != lru_.end();) {
    const uint64_t position = ring_position(node->key);
    const auto next = std::next(node);
    if (position >= begin && (end == 0 || position < end)) erase(node);
    node = next;
  }
  return deleted;
}

Stats CachedEngine::stats() {
  Stats stats = inner_.stats();
  stats.row_cache_hits = hits_;
  stats.row_cache_misses = misses_;
  stats.row_cache_evictions = evictions_;
  stats.row_cache_bytes = bytes_;
  stats.row_cache_entries = lru_.size();
  return stats;
}

}  // namespace ringkv::storage
