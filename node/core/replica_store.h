// ReplicaStore: this node's side of replication, over its storage Engine.
//
// Applies replica writes (last write wins), serves replica reads, and keeps
// hints for other nodes within their bounds: at most hints_per_target_max
// per target, and never a hint whose write is older than hint_ttl_us (which
// must stay below the tombstone grace period, or a late hint could revive
// deleted data after its tombstone was purged). Hint sequences come from a
// hybrid clock, so they keep increasing across restarts.
//
// Group commit: the replica requests this node serves (from peers and from
// its own coordinator) are staged during a loop iteration and served together
// by commit(): one batched lookup of every key they write or read, then one
// engine write (one WriteBatch, one WAL record) of every write that last
// write wins lets through; each request is answered as if served alone, in
// staging order. The caller flushes the
// WAL before any reply commit() returned leaves this node, so nothing is
// acknowledged before its batch is durable. The staged requests are those
// of one iteration, bounded by the admission bounds (admission.h) and by
// what peers may have in flight.
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

// By value: pass an rvalue to move the value bytes instead of copying them.
storage::Record from_wire(wire::WireRecord record);
wire::WireRecord to_wire(const storage::Record& record);

using ClientId = uint64_t;

// Whom the reply to a staged request goes to; ReplicaStore carries it untouched.
struct ReplyTo {
  bool coordinator = false;  // this node's coordinator, by its request's route id
  uint64_t route_id = 0;
  ClientId client = 0;       // otherwise a connection's request
  uint64_t request_id = 0;
  bool own_copy_read = false;  // a client's `get --local`: answered as a GetReply
};

class ReplicaStore {
 public:
  // Loads the per-target hint counts (one pass over the hints at start-up).
  static storage::Result<ReplicaStore> open(storage::Engine& engine, HintLimits limits);

  // Writes one record now (read repair: best effort, nobody is answered).
  storage::Status apply(const std::string& key, const storage::Record& record);
  storage::Result<std::optional<storage::Record>> read(const std::string& key);

  // Stages a replica write this node serves, answered by commit(): a hint
  // for request.hint_target when set (stored now, within the target's
  // bounds: a refusal answers ErrorReply kUnavailable), else a data write.
  // REQUIRES: hint_target is not this node's id (that write is data).
  // Requests are taken by value: move them in to stage without copying.
  void stage(ReplyTo to, wire::ReplicaWriteRequest request, uint64_t now_wall_us);
  void stage(ReplyTo to, wire::ReplicaReadRequest request);
  bool has_staged() const { return !staged_.empty(); }
  // Serves what was staged, in staging order. A data write older than the
  // version the key holds (stored, or staged before it) is not applied: its
  // ReplicaWriteReply names that newer version, which its coordinator must
  // not acknowledge as is (it re-stamps). A read sees the writes staged
  // before it and none staged after it. A storage failure answers the
  // requests it concerned with ErrorReply kInternal (a failed write: its
  // writes and the reads that saw them). REQUIRES: the caller flushes the WAL before any
  // of these replies leaves the node.
  std::vector<std::pair<ReplyTo, wire::Body>> commit();

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

  struct Staged {
    ReplyTo to;
    enum class Kind : uint8_t { kWrite, kRead, kAnswered } kind;
    std::string key;
    storage::Record record;  // kWrite
    wire::Body reply;        // kAnswered (a hint)
  };
  // Fills the replies of the staged writes and reads, by staging position:
  // one read_many of their keys, one write of the writes that apply.
  void serve_staged(std::vector<std::optional<wire::Body>>& replies);

  storage::Engine* engine_;
  HintLimits limits_;
  std::vector<Staged> staged_;
  HybridClock sequence_clock_;
  std::map<std::string, uint64_t> hint_counts_;
  std::map<std::string, uint64_t> hint_bytes_;
  uint64_t hints_refused_ = 0;
};

}  // namespace ringkv::core
