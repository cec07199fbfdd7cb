#include "node/core/replica_store.h"

#include <algorithm>

namespace ringkv::core {

std::string describe(const storage::Error& error) {
  return (error.kind == storage::ErrorKind::kNoSpace ? "storage full: " : "storage error: ") +
         error.message;
}

storage::Record from_wire(const wire::WireRecord& record) {
  return storage::Record{{record.timestamp_us, record.tiebreak}, record.tombstone, record.value, record.expires_at_us};
}

wire::WireRecord to_wire(const storage::Record& record) {
  return wire::WireRecord{record.version.timestamp_us, record.version.tiebreak, record.tombstone,
                          record.value, record.expires_at_us};
}

storage::Result<ReplicaStore> ReplicaStore::open(storage::Engine& engine, HintLimits limits) {
  auto tallies = engine.hint_tallies();
  if (!tallies) return std::unexpected(tallies.error());
  std::map<std::string, uint64_t> counts;
  std::map<std::string, uint64_t> bytes;
  for (const auto& [target, tally] : *tallies) {
    counts[target] = tally.count;
    bytes[target] = tally.bytes;
  }
  return ReplicaStore(engine, limits, std::move(counts), std::move(bytes));
}

storage::Status ReplicaStore::apply(const std::string& key, const storage::Record& record) {
  return engine_->write({{key, record}});
}

storage::Result<std::optional<storage::Version>> ReplicaStore::apply_reporting_newer(
    const std::string& key, const storage::Record& record) {
  auto stored = engine_->read(key);
  if (!stored) return std::unexpected(stored.error());
  // A hidden write would change nothing: leave storage alone.
  if (*stored && record.version < (*stored)->version) return (*stored)->version;
  if (auto applied = engine_->write({{key, record}}); !applied) return std::unexpected(applied.error());
  return std::nullopt;
}

storage::Result<std::optional<storage::Record>> ReplicaStore::read(const std::string& key) {
  return engine_->read(key);
}

storage::Result<bool> ReplicaStore::store_hint(const std::string& target, const std::string& key,
                                               const storage::Record& record, uint64_t now_wall_us) {
  uint64_t& count = hint_counts_[target];
  if (count >= limits_.hints_per_target_max ||
      record.version.timestamp_us + limits_.hint_ttl_us < now_wall_us) {
    ++hints_refused_;
    return false;
  }
  storage::Hint hint{target, sequence_clock_.next(now_wall_us), key, record};
  if (auto stored = engine_->put_hint(hint); !stored) return std::unexpected(stored.error());
  ++count;
  hint_bytes_[target] += storage::hint_payload_bytes(hint);
  return true;
}

storage::Result<std::vector<storage::Hint>> ReplicaStore::hints_for(const std::string& target,
                                                                    size_t max,
                                                                    uint64_t after_sequence) {
  return engine_->hints_for(target, max, after_sequence);
}

storage::Status ReplicaStore::drop_hint(const storage::Hint& hint) {
  if (auto dropped = engine_->delete_hint(hint.target, hint.sequence); !dropped) return dropped;
  auto it = hint_counts_.find(hint.target);
  if (it != hint_counts_.end() && it->second > 0 && --it->second == 0) hint_counts_.erase(it);
  auto bytes = hint_bytes_.find(hint.target);
  if (bytes != hint_bytes_.end()) {
    bytes->second -= std::min(bytes->second, storage::hint_payload_bytes(hint));
    if (!hint_counts_.contains(hint.target)) hint_bytes_.erase(bytes);
  }
  return {};
}

bool ReplicaStore::expired(const storage::Hint& hint, uint64_t now_wall_us) const {
  return hint.record.version.timestamp_us + limits_.hint_ttl_us < now_wall_us;
}

}  // namespace ringkv::core
