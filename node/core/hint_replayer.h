// HintReplayer: delivers the hints this node holds once their target is up.
//
// Hints for a target that left the ring are dropped. Every tick it looks at
// each target that has hints and is up (per the ClusterView) and keeps at most `window` hints in flight to it, as ordinary
// replica writes. A hint is deleted once the target acknowledged it; a
// failed delivery leaves it for a later tick. After a storage failure (the
// target answered that its storage refused the write, or reading or deleting
// hints failed here) the target's replay pauses: retry_delay_initial_ms,
// doubled with each further failure up to retry_delay_max_ms, back to none
// after a delivery. So a full disk on either side costs a few windows a
// minute, not a window of writes every tick (counted in
// HintTargetStats::backoffs). A target that does not answer is retried at the
// next tick, as before: membership tells when it is down. Hints older than their TTL are
// dropped instead of delivered. The window bounds the load on a node that
// just came back; at the defaults a target drains tens of thousands of hints
// a second on a LAN (Cassandra's default throttle is 1 MiB/s).
//
// Pure state machine: inputs ticks and delivery outcomes, outputs
// PeerRequests. Single-threaded.
#pragma once

#include <cstdint>
#include <expected>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "node/core/cluster_view.h"
#include "node/core/error_counter.h"
#include "node/core/peer_request.h"
#include "node/core/replica_store.h"

namespace ringkv::core {

struct HintReplayConfig {
  size_t window = 256;  // hints in flight per target
  membership::TimeMs retry_delay_initial_ms = 250;
  membership::TimeMs retry_delay_max_ms = 8000;
};

struct HintTargetStats {
  uint64_t replayed = 0;
  uint64_t expired = 0;
  uint64_t failed_deliveries = 0;
  uint64_t dropped_left = 0;  // the target left the ring: nobody will take them
  uint64_t backoffs = 0;      // pauses after a failure (see the top of this file)
};

class HintReplayer {
 public:
  HintReplayer(HintReplayConfig config, const ClusterView& view, ReplicaStore& store);

  void tick(Now now);
  // Deletes a delivered hint; refills the target's window once half of it
  // has drained.
  // `id`: the route id of a request this replayer emitted (peer_route.h);
  // false when it awaits no such reply (the reply is ignored).
  bool handle_reply(uint64_t id, const std::expected<wire::Message, std::string>& reply, Now now);
  std::vector<PeerRequest> take_peer_requests();

  const std::map<std::string, HintTargetStats>& stats() const { return stats_; }
  size_t in_flight() const { return in_flight_.size(); }
  // Storage errors reading or deleting hints (each retried on a later tick),
  // and their log lines.
  uint64_t storage_errors() const { return errors_.count(); }
  std::vector<std::string> take_notices() { return errors_.take_notices(); }

 private:
  void fill(const std::string& target, const std::string& address, Now now);
  void drop_all(const std::string& target, Now now);
  // Deletes a hint; a failure is counted (the hint stays and comes back) and
  // pauses the target.
  bool drop(const storage::Hint& hint, Now now);
  // Pauses replay to `target` after a storage failure, unless it is paused
  // already.
  void back_off(const std::string& target, Now now);
  bool backing_off(const std::string& target, Now now) const;

  struct Backoff {
    membership::TimeMs delay_ms = 0;
    membership::TimeMs until_ms = 0;
  };

  HintReplayConfig config_;
  const ClusterView& view_;
  ReplicaStore& store_;
  PeerIds ids_{PeerOwner::kHintReplayer};
  std::map<uint64_t, storage::Hint> in_flight_;          // route id -> hint
  std::map<std::string, std::set<uint64_t>> sent_;  // target -> sequences in flight
  // target -> highest sequence read so far: the next read starts after it
  // (reset to 0 after a failed delivery, so that hint is read again).
  std::map<std::string, uint64_t> cursor_;
  std::map<std::string, HintTargetStats> stats_;
  // Targets whose replay failed since their last delivery.
  std::map<std::string, Backoff> backoff_;
  std::vector<PeerRequest> peer_requests_;
  ErrorCounter errors_{"hint replay"};
};

}  // namespace ringkv::core
