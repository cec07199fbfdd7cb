// ScanCoordinator: iterates the keyspace across the cluster (kv scan, RESP
// SCAN and KEYS) and estimates its size (RESP DBSIZE).
//
// Cursor. Storage keys are the 8-byte big-endian ring position + the user
// key, so storage order is ring order. A cursor is the next ring position to
// scan (0 starts; 0 in a reply means done). A page always ends on a whole
// position: every key at the last position it covered is in it (range_keys.h),
// so the next cursor is that position + 1, and 2^64 - 1 wraps to 0, done. No
// key is needed inside the cursor: a position holds more than one key only
// when 64-bit hashes collide, and those keys always travel in one page. The
// cursor names no node and no ring, so the scan resumes on any node, under
// any ring.
//
// One page. The span starts at the cursor and covers the token interval that
// holds it plus the following intervals with the same replica set (the ring's
// preference list, as a set), never wrapping past 2^64 - 1: one round trip
// per replica covers all of it (a 3-node N=3 ring is one span). The page
// asks R replicas of the span (ONE 1, QUORUM N/2+1, ALL N; ANY as ONE), this
// node first when it is one (answered at once from its own store), for up to
// `count` records from the cursor (keys + versions + tombstone + expiry, no
// values, MATCH applied at the replica). It keeps what every answer covered
// (the lowest covered_through), merges by storage key with last write wins,
// drops tombstones and records expired by now, and answers keys in ring
// order with the next cursor. A replica that fails or does not answer within
// replica_timeout_ms is replaced by another up replica of the span;
// UNAVAILABLE when fewer than R are up to begin with or left to ask, TIMEOUT
// when the page's deadline passes first.
//
// Guarantee (Redis's SCAN): a key that lived through the whole scan, written
// at a level W with R + W > N, is returned (one of the R replicas holds it);
// a key may come back twice only when a client restarts from an older
// cursor. Keys written or deleted during the scan may or may not appear.
//
// DBSIZE: asks every up ring member for its storage estimate of the keys it
// holds (StatusReply.keys; this node's own at once) and divides their sum by
// the sum of their shares, a member's share being the fraction of ring
// positions it replicates (the shares of all members sum to N, so each key
// is counted once; members that did not answer are stood for by those that
// did). An estimate: RocksDB's key estimate counts overwritten and deleted
// keys until compaction merges them away.
//
// Pure state machine: inputs are requests, peer outcomes and ticks with the
// time; outputs (client replies, peer requests) are drained by the caller.
// Bounds: scans_in_flight_max pages (beyond: BUSY), one request per replica
// at a time. Single-threaded.
#pragma once

#include <cstdint>
#include <expected>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "node/core/cluster_view.h"
#include "node/core/coordinator.h"
#include "node/core/peer_request.h"
#include "node/core/replica_store.h"
#include "node/wire/message.h"

namespace ringkv::core {

struct ScanConfig {
  uint32_t replicas = 3;
  // A replica that has not answered by then is replaced by another.
  membership::TimeMs replica_timeout_ms = 1000;
  // The whole page (or DBSIZE) answers TIMEOUT by then.
  membership::TimeMs request_timeout_ms = 4000;
  size_t scans_in_flight_max = 256;
  // Token intervals one span may extend over (each costs a preference list).
  size_t span_intervals_max = 8192;
};

// Positions [begin, end_inclusive] and the replicas that hold them all.
struct ScanSpan {
  uint64_t begin = 0;
  uint64_t end_inclusive = 0;
  std::vector<const RingNode*> replicas;  // preference order
};

// The span a page starting at `cursor` reads (see the header comment);
// no replicas on a ring without tokens.
ScanSpan span_at(const Ring& ring, uint64_t cursor, size_t replicas, size_t intervals_max);

// The merged page: live keys at positions <= covered_through, in ring order,
// each once, newest version deciding (a tombstone hides the key; a record
// expired at `now_wall_us` too).
std::vector<std::string> merge_page(const std::vector<wire::RangeKeysReply>& answers, uint64_t covered_through,
                                    uint64_t now_wall_us);

class ScanCoordinator {
 public:
  // `view` and `store` outlive the coordinator.
  ScanCoordinator(ScanConfig config, const ClusterView& view, ReplicaStore& store);

  void scan(ClientId client, uint64_t request_id, const wire::ScanRequest& request, Now now);
  void dbsize(ClientId client, uint64_t request_id, Now now);
  // The reply to one of this module's peer requests (route id); false when
  // none was waited for (late: the replica was given up on).
  bool handle_reply(uint64_t id, const std::expected<wire::Message, std::string>& reply, Now now);
  void tick(Now now);
  std::optional<membership::TimeMs> next_deadline() const;

  std::vector<Outgoing> take_replies();
  std::vector<PeerRequest> take_peer_requests();
  uint64_t pages() const { return pages_; }

 private:
  enum class Asked : uint8_t { kNot, kWaiting, kAnswered, kFailed };
  struct Replica {
    const RingNode* node;  // in Operation::ring
    Asked state = Asked::kNot;
    uint64_t route_id = 0;  // of the request it was asked with
    membership::TimeMs deadline_ms = 0;
  };
  struct Operation {
    ClientId client = 0;
    uint64_t request_id = 0;
    bool is_dbsize = false;
    std::shared_ptr<const Ring> ring;  // the ring the replicas were taken from, kept alive
    wire::RangeKeysRequest range;  // pages
    uint32_t required = 0;         // pages: answers needed
    std::vector<Replica> replicas;
    std::vector<wire::RangeKeysReply> answers;  // pages
    std::vector<double> shares;                 // dbsize: per replica, its share of the ring
    double keys_held = 0;                       // dbsize: keys the answers reported
    double shares_answered = 0;                 // dbsize: their shares summed
    uint32_t answered = 0;
    membership::TimeMs deadline_ms = 0;
    std::string last_failure;
  };

  // span_at, remembered: consecutive pages of a scan fall in the span the
  // last page computed (one span is the whole ring of a 3-node cluster, whose
  // computation walks all its 3,072 intervals: ~2 ms).
  const ScanSpan& span_for(uint64_t cursor);
  void ask_more(uint64_t op_id, Now now);
  void send(Replica& replica, wire::Body body, Now now);
  // Records one replica's outcome (reply, or a failure when reply is null).
  void on_answer(uint64_t op_id, size_t index, const wire::Message* reply, std::string failure);
  void progress(uint64_t op_id, Now now);
  void reply(uint64_t op_id, wire::Body body);
  wire::Body local_answer(const Operation& op);
  bool busy(ClientId client, uint64_t request_id);

  ScanConfig config_;
  const ClusterView& view_;
  ReplicaStore& store_;
  uint64_t next_op_id_ = 1;
  PeerIds ids_{PeerOwner::kScan};
  std::map<uint64_t, Operation> operations_;
  std::map<uint64_t, std::pair<uint64_t, size_t>> asked_;  // route id -> (operation, replica index)
  std::vector<Outgoing> replies_;
  std::vector<PeerRequest> peer_requests_;
  uint64_t pages_ = 0;
  // The last span computed and the ring it was computed on (kept alive, as
  // the span points into it). Any cursor inside it has the same replicas.
  std::shared_ptr<const Ring> span_ring_;
  ScanSpan span_;
};

}  // namespace ringkv::core
