// Coordinator: runs client reads and writes across the key's replicas.
//
// Any node coordinates any request. A write goes to the key's N natural
// replicas (the ring's preference list) in parallel; a natural replica that
// is down gets a stand-in (the next up node clockwise beyond the N) which
// stores the write as a hint for it. The client is answered once `required`
// natural replicas acknowledged (ONE 1, QUORUM N/2+1, ALL N); with ANY a
// stand-in's or the coordinator's own hint counts too (Dynamo's sloppy
// quorum). Too few up replicas to even try -> UNAVAILABLE, nothing sent.
// Tried but too few answered before the deadline -> TIMEOUT (the write may
// still land); a replica (or stand-in) that failed or never answered gets a
// hint stored on this node, so it converges once back.
//
// While a topology change is in progress (ClusterView::changing()), a write
// also goes to its pending owners: replicas under the future ring that the
// current ring lacks. Each pending owner raises `required` by one, up or
// down (Cassandra's rule: the level plus one ack per pending owner), so a
// write acknowledged during a join is on the joining node or on one more
// natural replica; a pending owner that is down also gets a hint kept by the
// coordinator.
//
// For a grace period after a change completed (ClusterView::previous_ring)
// a write must also meet its level among the replicas of the previous ring
// (a joint quorum), since other nodes may still read from those.
//
// Joint quorum rule: the write's acknowledgements must intersect every
// read quorum a node still on the previous ring could use, so among the
// previous ring's P replicas it needs P - R + 1 of them, where R is what a
// read at the complementary level asks (QUORUM writes pair with QUORUM
// reads, ALL with ONE, ONE with ALL). For QUORUM that is P - (P/2 + 1) + 1:
// 2 of 3, and 1 of 2, which is why a two-node ring growing to three stays
// writable with any one node down, while a QUORUM read of the old two-node
// ring (which needs both) still meets the write.
//
// A write is acknowledged only as the newest version on the replicas that
// acknowledged it. A replica that already holds a newer version (a clock
// behind another coordinator's, or a racing writer) says so; the
// coordinator then re-stamps the write above it and sends it again (at most
// max_restamps times, then SUPERSEDED), so last-write-wins never hides an
// acknowledged write from a sequential writer, whatever the clocks say.
//
// Errors: UNAVAILABLE when too few replicas are up to even try (nothing is
// sent); FAILED when replicas refused or were unreachable before the
// deadline; TIMEOUT only when the deadline passed.
//
// A read asks `required` up natural replicas (this node first when it is
// one; a failed one is replaced by the next), answers with the newest
// version once `required` replied, and then writes the newest version back
// to the replicas it asked that were stale (read repair).
//
// N is capped by the number of nodes in the ring (a 1-node cluster with
// N = 3 keeps one copy), as Riak does.
//
// Pure state machine: inputs are requests, replica replies and ticks with
// the current time; outputs (client replies, peer requests) are drained by
// the caller.
//
// Request coalescing: a hot key read or written by many pipelined clients
// costs one replica round per batch, not one per request. The newest
// operation stays open until another operation starts or the caller drains
// requests (seal(); take_peer_requests seals too):
// - a read of the same key at the same level joins an open read: it is
//   answered with its result, and it arrived before the read's requests
//   left, so it still sees every write acknowledged before it arrived;
// - a newer write of the same key at the same level takes an open write
//   over. A write's requests are built when it closes, so the replicas get
//   only the newest record; every write of the operation is answered when
//   it is acknowledged, each with its own version (an older one is ordered
//   just before the newer that hides it; all were concurrent). Not a write
//   that stored hints of its record as it started (a ring change's owners
//   that are down).
// Requests leave in the order they arrived and joined ones are answered
// together, in arrival order: a client that pipelines a write and a read of
// a key reads its write, and one node answers a pipeline in order.
//
// Replica work for this node itself is a request like any other
// (take_local_requests), which the caller serves through the ReplicaStore's
// group commit and answers with handle_reply: this node's own copy counts
// toward the level only once its batch was written, like a peer's. Read
// repair and hints kept for others are applied to the store at once (best
// effort, nobody waits on them). Single-threaded.
#pragma once

#include <cstdint>
#include <deque>
#include <expected>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "node/core/cluster_view.h"
#include "node/core/hybrid_clock.h"
#include "node/core/id_window.h"
#include "node/core/latency_histogram.h"
#include "node/core/peer_request.h"
#include "node/core/replica_store.h"
#include "node/wire/message.h"
#include "storage/record.h"

namespace ringkv::core {

using ClientId = uint64_t;

struct Outgoing {
  ClientId client = 0;
  wire::Message message;
};

struct CoordinatorConfig {
  uint32_t replicas = 3;
  membership::TimeMs request_timeout_ms = 2000;
  // A replica down longer than this gets no new hints (it needs repair).
  membership::TimeMs hint_window_ms = 3 * 3600 * 1000;
  // Re-stamps of one write that met newer versions before it gives up.
  uint32_t max_restamps = 3;
};

enum class ClientOp : uint8_t { kGet, kPut, kDelete };

// What the coordinator times (kv stats, /metrics): client requests from
// arrival to reply, and the replica requests it sent, from sending to the
// replica's answer. Bounded: fixed-size histograms, at most 3 x 4 by_op.
struct RequestLatencies {
  LatencyHistogram writes;
  LatencyHistogram reads;
  std::map<std::pair<ClientOp, wire::Consistency>, LatencyHistogram> by_op;
  LatencyHistogram replica_writes;
  LatencyHistogram replica_reads;
};

struct CoordinatorCounters {
  uint64_t writes = 0;
  uint64_t reads = 0;
  uint64_t unavailable = 0;
  uint64_t timeouts = 0;
  uint64_t reads_coalesced = 0;   // reads answered by another read's operation
  uint64_t writes_coalesced = 0;  // writes a newer write of the same key took over before sending
  uint64_t read_repairs = 0;
  uint64_t read_repair_failures = 0;  // this node's own copy could not be repaired
  uint64_t hints_written = 0;
  uint64_t failed = 0;              // FAILED: replicas refused before the deadline
  uint64_t writes_restamped = 0;    // writes re-sent above a newer version a replica held
  uint64_t writes_superseded = 0;   // writes refused after max_restamps re-stamps
};

class Coordinator {
 public:
  // `view`, `store` and `clock` must outlive the coordinator; `clock` is the
  // node's write clock, used for re-stamps.
  Coordinator(CoordinatorConfig config, const ClusterView& view, ReplicaStore& store,
              HybridClock& clock);

  void write(ClientId client, uint64_t request_id, std::string key, storage::Record record,
             wire::Consistency level, Now now);
  void read(ClientId client, uint64_t request_id, std::string key, wire::Consistency level, Now now);
  // The outcome of a PeerRequest this coordinator emitted, by its route id
  // (peer_route.h); false when it awaits no such reply.
  bool handle_reply(uint64_t id, const std::expected<wire::Message, std::string>& reply, Now now);
  // Expires requests past their deadline.
  void tick(Now now);
  std::optional<membership::TimeMs> next_deadline() const;

  // Appends the client replies to `into` (the coordinator's buffer keeps its
  // capacity: no allocation per drain).
  void take_replies(std::vector<Outgoing>& into);
  // Drains the requests to peers; reads no longer join the operations that sent them.
  std::vector<PeerRequest> take_peer_requests();
  // Closes the open operation (above), building its requests if it is a
  // write: call before serving requests taken with take_local_requests.
  void seal();
  // Replica requests for this node itself (ReplicaWriteRequest,
  // ReplicaReadRequest; the address is unused): serve them and answer each
  // with handle_reply, as for a peer. Appended to `into`, as take_replies.
  void take_local_requests(std::vector<PeerRequest>& into);
  const CoordinatorCounters& counters() const { return counters_; }
  const RequestLatencies& latencies() const { return latencies_; }
  // Replica requests sent and not answered yet (read repairs included).
  size_t replica_requests_in_flight() const { return sent_.size(); }
  // Replicas this node would contact for `key` (for `kv endpoints`).
  std::vector<const RingNode*> natural_replicas(const std::string& key) const;

 private:
  // A replica of an operation: a node of one of the rings the operation
  // holds (so the pointers stay valid while it runs), or self_node_.
  struct Replica {
    const RingNode* node = nullptr;
    bool natural = true;       // false: a stand-in holding a hint, or a pending owner
    bool pending = false;      // a pending owner (counts toward `required`, see above)
    bool previous = false;     // a replica under the previous ring (joint quorum, see above)
    bool contacted = false;
    bool answered = false;
    bool succeeded = false;
    const RingNode* hint_target = nullptr;  // stand-ins: the natural replica it covers
    std::string storage_failure;  // set when the replica's storage refused the write
    std::string failure;          // why the replica failed (connection, error reply)
    // Reads: the version the replica holds (none: it has no record); the
    // newest record itself is kept in the operation.
    std::optional<storage::Version> read_version;
  };
  // A client request an operation answers.
  struct Requester {
    ClientId client = 0;
    uint64_t request_id = 0;
    uint64_t started_wall_us = 0;  // latency figures only; a clock step skews one sample
    storage::Version version;      // joined writes: the version its own write had
  };
  struct Operation {
    bool is_write = true;
    // The request it answers first: the one that started it, or the newest
    // write that took it over (coalescing, above).
    Requester requester;
    std::string key;
    wire::Consistency level = wire::Consistency::kQuorum;
    uint32_t required = 0;
    uint32_t required_previous = 0;  // acks needed among `previous` replicas (writes)
    bool replied = false;
    membership::TimeMs deadline_ms = 0;
    storage::Record record;  // the write, or the newest read so far
    bool have_record = false;
    // Writes: the newest version a replica reported holding above the write's.
    std::optional<storage::Version> newer;
    uint32_t restamps = 0;
    // Hints of its record were stored as it started (owners of a ring change
    // that are down): it takes no newer write over (coalescing, above).
    bool hinted = false;
    std::vector<Replica> replicas;
    std::vector<Requester> joined;  // others answered with this one (coalescing)
    // The rings its replicas come from, kept while it runs (a ring rebuilt
    // meanwhile replaces the view's, not these).
    std::shared_ptr<const Ring> ring;
    std::shared_ptr<const Ring> future_ring;
    std::shared_ptr<const Ring> previous_ring;
  };
  // A replica request in flight.
  struct Sent {
    uint64_t op_id = 0;  // 0: a read repair, which no operation waits for
    uint64_t sent_wall_us = 0;
    uint32_t replica_index = 0;
    bool is_write = false;
    bool local = false;  // to this node itself (take_local_requests)
  };

  uint32_t required_for(wire::Consistency level, uint32_t replicas) const;
  // Acks needed among a previous ring's `replicas` (joint quorum rule above).
  uint32_t intersecting_previous(wire::Consistency level, uint32_t replicas) const;
  // What one replica answered.
  struct Result {
    bool ok = false;
    std::optional<storage::Record> read;   // reads: the replica's record
    std::optional<storage::Version> newer; // writes: a newer version it holds
    std::string storage_failure;           // its storage refused
    std::string failure;                   // any failure, for the error message
  };

  // A pooled operation set to `fresh` (whose replica list is ignored: the
  // pooled one keeps its capacity), and its slot in pool_; release() gives
  // the slot back.
  std::pair<uint32_t, Operation&> acquire(Operation fresh);
  void release(uint32_t slot);
  Operation& operation(uint64_t op_id) { return pool_[*operations_.find(op_id)]; }
  // Places the write in pool slot `slot` (natural replicas, stand-ins,
  // pending and previous owners) and returns its operation id, whose
  // requests send_write() builds; 0 when too few replicas are up
  // (UNAVAILABLE replied, the slot released).
  uint64_t start_write(uint32_t slot, Now now);
  void restamp(uint64_t op_id, Now now);
  // To replica `replica_index` of the operation (this node's own copy
  // included), timed from `sent_wall_us` (replica latency figures).
  void send(uint64_t op_id, size_t replica_index, wire::Body body, uint64_t sent_wall_us);
  // `local`: to this node itself (take_local_requests); op_id 0: a read repair.
  void send_to(uint64_t op_id, uint32_t replica_index, const std::string& address, bool local, wire::Body body,
               uint64_t sent_wall_us);
  void contact_for_read(uint64_t op_id, size_t replica_index, Now now);
  void on_replica_result(uint64_t op_id, size_t replica_index, Result result, Now now);
  void progress(uint64_t op_id, Now now);
  void finish(uint64_t op_id, Now now);
  // Answers the requester and those that joined, in arrival order, and times each (latencies()).
  void reply(Operation& op, wire::Body body, Now now);
  void reply_to(const Operation& op, const Requester& requester, wire::Body body, Now now);
  // Adds the request to the open operation when it may join it (above).
  bool join_open_read(ClientId client, uint64_t request_id, const std::string& key, wire::Consistency level,
                      Now now);
  bool join_open_write(ClientId client, uint64_t request_id, const std::string& key, storage::Record& record,
                       wire::Consistency level, Now now);
  // Every replica of the write is sent its request (this node too: take_local_requests).
  void send_write(uint64_t op_id, uint64_t sent_wall_us);
  void hint_locally(const Operation& op, const Replica& replica, Now now);
  // Adds the up pending owners of a change in progress and raises
  // `required` for each pending owner; returns the down ones (hinted later).
  // The down ones are left in pending_down_.
  void add_pending_owners(Operation& op, uint64_t position);
  void add_previous_owners(Operation& op, uint64_t position, Now now);
  // The replica of `op` that stores `id`'s own copy, or nullptr.
  static Replica* listed(Operation& op, const std::string& id);
  // Stores a hint of the write for `node` (marks the operation hinted).
  void hint_owner(Operation& op, const RingNode& node, Now now);
  // The first up node beyond the natural replicas and those `op` has, or nullptr.
  const RingNode* stand_in_for(uint64_t position, const Operation& op) const;
  // This node as a replica keeping a hint itself (no stand-in was up).
  const RingNode* self_node();

  CoordinatorConfig config_;
  const ClusterView& view_;
  ReplicaStore& store_;
  HybridClock& clock_;
  uint64_t next_op_id_ = 1;
  PeerIds ids_{PeerOwner::kCoordinator};
  // Operation ids -> slots of pool_. Ids grow with time and every operation
  // gets the same timeout, so this is also deadline order (but for a
  // re-stamp, which keeps its first deadline under a newer id and expires
  // once the older ones have); the window spans the operations started
  // within about one request timeout (id_window.h).
  IdWindow<uint32_t> operations_;
  // The operations, reused: a finished one's slot goes to free_slots_, and
  // its replica list keeps its capacity. Never shrinks: it holds as many as
  // were ever in flight at once. A deque, so references stay valid as it grows.
  std::deque<Operation> pool_;
  std::vector<uint32_t> free_slots_;
  // The operation requests may still join (0: none), and whether it is a
  // write whose requests are not built yet.
  uint64_t open_op_ = 0;
  bool open_write_unsent_ = false;
  // By route id; each leaves when its reply comes, which the I/O layer
  // delivers within its peer request timeout (peer_client.h).
  IdWindow<Sent> sent_;
  // Scratch lists of start_write and read (never reentered), kept for their capacity.
  std::vector<const RingNode*> natural_;
  std::vector<const RingNode*> down_;
  std::vector<const RingNode*> pending_down_;
  std::vector<const RingNode*> owners_;  // a future or previous ring's replicas
  RingNode self_node_;
  RequestLatencies latencies_;
  std::vector<Outgoing> replies_;
  std::vector<PeerRequest> peer_requests_;
  std::vector<PeerRequest> local_requests_;
  CoordinatorCounters counters_;
};

}  // namespace ringkv::core
