// AntiEntropy: background repair that makes every replica of a range hold the
// same records, so replicas that missed a write (a coordinator that crashed
// with the write open, a hint that expired, a node down past the hint window)
// converge without waiting for a read of each key.
//
// Every `interval_ms` (and when asked: after a restart or a removal), while this node is normal and no topology change is in
// progress, it walks the ranges it replicates (range_moves.h shared_ranges):
// for each range and each other up replica it asks that replica for a digest
// of the range (keys and versions, order-independent) and compares it with
// its own; a range that differs is pulled from that replica (Streamer, last
// write wins). Each node repairs its own copy, so after a round on every
// replica all hold the newest version of every key. At most `window` digests
// are in flight. Tombstones older than the grace period are left out of the
// digests (compaction purges them at different times on each replica).
//
// Pure state machine: inputs ticks and replies with the current time;
// outputs PeerRequests (routed as peer_route.h says). Single-threaded.
#pragma once

#include <algorithm>
#include <cstdint>
#include <expected>
#include <map>
#include <string>
#include <vector>

#include "node/core/cluster_view.h"
#include "node/core/error_counter.h"
#include "node/core/peer_request.h"
#include "node/core/replica_store.h"
#include "node/core/streamer.h"

namespace ringkv::core {

struct RepairConfig {
  uint32_t replicas = 3;
  membership::TimeMs interval_ms = 600 * 1000;  // 0: never
  size_t window = 4;
  uint64_t tombstone_grace_us = 10ull * 24 * 3600 * 1'000'000;
  // A pull that keeps failing is dropped: the next round tries again.
  StreamConfig stream{.attempts_max = 5};
};

// Digest of the records at `range`: a sum of per-record hashes of storage key
// and version, and the record count. Records compaction may purge at
// `purge_before_us` (storage::purgeable: old tombstones, long-expired values)
// are not counted.
storage::Result<wire::RangeDigestReply> range_digest(storage::Engine& engine, PositionRange range,
                                                     uint64_t purge_before_us);

class AntiEntropy {
 public:
  AntiEntropy(RepairConfig config, const ClusterView& view, ReplicaStore& store);

  // `may_run`: this node is normal and nothing is changing.
  void tick(Now now, bool may_run);
  // Runs a round once `at_ms` has come and it may (after a restart, after a
  // removal), not only every interval.
  void request_round(membership::TimeMs at_ms) {
    requested_at_ms_ = round_requested_ ? std::min(requested_at_ms_, at_ms) : at_ms;
    round_requested_ = true;
  }
  // Rounds whose comparisons and pulls all finished.
  uint64_t rounds_completed() const { return rounds_completed_; }
  // Replies by route id (peer_route.h): to its digest requests
  // (PeerOwner::kRepair) and to its streamer's pulls (kRepairStream); false
  // when it awaits no such reply.
  bool handle_reply(uint64_t id, const std::expected<wire::Message, std::string>& reply, Now now);
  bool handle_stream_reply(uint64_t id, const std::expected<wire::Message, std::string>& reply, Now now) {
    return streamer_.handle_reply(id, reply, now);
  }
  std::vector<PeerRequest> take_peer_requests();

  void add_stats(std::vector<std::pair<std::string, uint64_t>>& values) const;
  // Storage errors computing this node's digests (the range is compared again
  // next round), and their log lines.
  std::vector<std::string> take_notices() { return errors_.take_notices(); }

 private:
  struct Item {
    PositionRange range;
    std::string peer;
  };
  void start_round(Now now);
  void fill(Now now);

  RepairConfig config_;
  const ClusterView& view_;
  ReplicaStore& store_;
  Streamer streamer_;
  membership::TimeMs next_round_ms_ = 0;
  std::vector<Item> items_;  // this round's comparisons still to start
  std::map<uint64_t, Item> in_flight_;  // route id -> comparison
  PeerIds ids_{PeerOwner::kRepair};
  uint64_t rounds_ = 0;
  uint64_t rounds_completed_ = 0;
  bool round_running_ = false;
  bool round_requested_ = false;
  membership::TimeMs requested_at_ms_ = 0;
  uint64_t ranges_compared_ = 0;
  uint64_t ranges_repaired_ = 0;
  std::vector<PeerRequest> peer_requests_;
  ErrorCounter errors_{"anti-entropy"};
};

}  // namespace ringkv::core
