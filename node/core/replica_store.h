// ReplicaStore: this node's side of replication, over its storage Engine.
//
// Applies replica writes (last write wins), serves replica reads, and keeps
// hints for other nodes within their bounds: at most hints_per_target_max
// per target, and never a hint whose write is older than hint_ttl_us (which
// must stay below the tombstone grace period, or a late hint could revive
// deleted data after its tombstone was purged). Hint sequences come from a
// hybrid clock, so they keep increasing across restarts.
//
// Pure: the engine is the only I/O, time is passed in. Single-threaded.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "node/core/hybrid_clock.h"
#include "node/wire/message.h"
#include "storage/engine.h"

namespace ringkv::core {

struct HintLimits {
  uint64_t hints_per_target_max = 5'000'000;
  uint64_t hint_ttl_us = 24ull * 3600 * 1'000'000;
};

// "storage full: ..." for a full disk, else "storage error: ...".
std::string describe(const storage::Error& error);

storage::Record from_wire(const wire::WireRecord& record);
wire::WireRecord to_wire(const storage::Record& record);

class ReplicaStore {
 public:
  // Loads the per-target hint counts (one pass over the hints at start-up).
  static storage::Result<ReplicaStore> open(storage::Engine& engine, HintLimits limits);

  storage::Status apply(const std::string& key, const storage::Record& record);
  // Applies a replica write like apply(), and returns the version the key
  // already held when that one is newer than the write's: last write wins then
  // hides the write, which its coordinator must not acknowledge as is.
  storage::Result<std::optional<storage::Version>> apply_reporting_newer(const std::string& key,
                                                                        const storage::Record& record);
  storage::Result<std::optional<storage::Record>> read(const std::string& key);

  // Stores a hint for `target`; false (and nothing stored) when the target's
  // cap is reached or the write is already older than the hint TTL.
  storage::Result<bool> store_hint(const std::string& target, const std::string& key,
                                   const storage::Record& record, uint64_t now_wall_us);
  storage::Result<std::vector<storage::Hint>> hints_for(const std::string& target, size_t max,
                                                       uint64_t after_sequence);
  storage::Status drop_hint(const storage::Hint& hint);
  // True when the hint's write is older than the TTL (drop, don't deliver).
  bool expired(const storage::Hint& hint, uint64_t now_wall_us) const;

  const std::map<std::string, uint64_t>& hint_counts() const { return hint_counts_; }
  // Payload bytes (storage::hint_payload_bytes) of the hints held per target.
  const std::map<std::string, uint64_t>& hint_bytes() const { return hint_bytes_; }
  uint64_t hints_refused() const { return hints_refused_; }
  storage::Engine& engine() { return *engine_; }

 private:
  ReplicaStore(storage::Engine& engine, HintLimits limits, std::map<std::string, uint64_t> counts,
               std::map<std::string, uint64_t> bytes)
      : engine_(&engine), limits_(limits), hint_counts_(std::move(counts)), hint_bytes_(std::move(bytes)) {}

  storage::Engine* engine_;
  HintLimits limits_;
  HybridClock sequence_clock_;
  std::map<std::string, uint64_t> hint_counts_;
  std::map<std::string, uint64_t> hint_bytes_;
  uint64_t hints_refused_ = 0;
};

}  // namespace ringkv::core
