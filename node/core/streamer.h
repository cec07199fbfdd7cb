// Streamer: moves the data of token ranges between nodes for topology
// changes (bootstrap, decommission, removenode), in batches, with progress.
//
// A task is one position range and the peers to move it with:
//   pull  ask the first reachable source for the range's records, batch by
//         batch (StreamReadRequest), and apply each batch here (last write
//         wins, so a record written meanwhile by a coordinator is never
//         overwritten by an older streamed one);
//   push  scan the range here and send it, batch by batch, to the target
//         (StreamWriteRequest).
// Flow control: at most `window` tasks have a batch in flight, one batch per
// task. A failed batch (peer down, timeout, storage error) is retried after
// `retry_ms` from the task's cursor, so an interrupted range resumes where it
// stopped; a pull moves on to the next source. A task never completes partly:
// done() is true only once every task's last batch was applied/acknowledged.
//
// Pure state machine: inputs are tasks, ticks and replies with the current
// time; outputs are PeerRequests (routed to the owner it was made for,
// peer_route.h). Storage through
// the ReplicaStore's engine only. Single-threaded.
#pragma once

#include <cstdint>
#include <expected>
#include <map>
#include <string>
#include <vector>

#include "node/core/cluster_view.h"
#include "node/core/peer_request.h"
#include "node/core/replica_store.h"

namespace ringkv::core {

struct StreamConfig {
  size_t window = 8;                        // tasks with a batch in flight
  uint32_t batch_bytes = 1024 * 1024;       // records per batch, about
  membership::TimeMs retry_ms = 500;        // after a failed batch
  // A task whose batches failed this many times in a row is abandoned
  // (counted, and done() no longer waits for it); 0 retries forever.
  uint32_t attempts_max = 0;
};

struct StreamTask {
  enum class Kind { kPull, kPush };
  Kind kind = Kind::kPull;
  PositionRange range;
  std::vector<std::string> peers;  // pull: sources in preference order; push: {target}
  // Pull: the range is complete once pulled whole from this many distinct
  // sources (N - W + 1 of its N replicas meet every QUORUM write); a source
  // that fails is set aside for the next, and retried later if needed.
  size_t sources_needed = 1;
};

struct StreamStats {
  uint64_t tasks_total = 0;
  uint64_t tasks_done = 0;
  uint64_t keys_received = 0;
  uint64_t bytes_received = 0;
  uint64_t keys_sent = 0;
  uint64_t bytes_sent = 0;
  uint64_t failed_batches = 0;
  uint64_t tasks_abandoned = 0;
  membership::TimeMs started_ms = 0;   // when the first of the current tasks started
  membership::TimeMs finished_ms = 0;  // when the last one finished (0 while running)
};

// The records of `range` after `cursor`, about max_bytes of them (at least
// one when the range has any, and never more than fits a frame): what a
// source answers to a StreamReadRequest and what a push sends.
storage::Result<wire::StreamReadReply> read_stream_batch(storage::Engine& engine, PositionRange range,
                                                         const std::string& cursor, uint32_t max_bytes);
// Applies streamed records (last write wins) as one batch.
storage::Status apply_stream_batch(storage::Engine& engine, const std::vector<wire::StreamEntry>& entries);

class Streamer {
 public:
  // `owner`: whom this streamer's requests are routed to (the unit holding
  // it: topology or anti-entropy), which hands their replies back here.
  Streamer(StreamConfig config, const ClusterView& view, ReplicaStore& store, PeerOwner owner);

  // Adds tasks; they start on the next tick.
  void add(std::vector<StreamTask> tasks, Now now);
  // Drops every task (a change abandoned); replies still in flight are ignored.
  void clear();
  bool done() const { return remaining_ == 0; }

  void tick(Now now);
  // `id`: the route id of a batch this streamer sent; false when it awaits
  // no such reply (sent before clear(), or never).
  bool handle_reply(uint64_t id, const std::expected<wire::Message, std::string>& reply, Now now);
  std::vector<PeerRequest> take_peer_requests();

  const StreamStats& stats() const { return stats_; }
  // Bytes per second moved by the current (or last) set of tasks.
  uint64_t rate_bytes_per_s(Now now) const;

 private:
  struct Task {
    StreamTask spec;
    size_t peer = 0;          // index into spec.peers
    std::string cursor;       // resume strictly after this storage key (current peer)
    std::vector<std::string> cursors;  // per peer, kept while another is tried
    std::vector<bool> finished;        // per peer: pulled whole
    bool done = false;
    bool in_flight = false;
    membership::TimeMs retry_at_ms = 0;
    uint32_t failures = 0;  // in a row
    // Push: the cursor and completeness of the batch in flight.
    std::string batch_end;
    bool batch_last = false;
  };

  void send(size_t index, Now now);
  void fail(size_t index, Now now);
  void complete(size_t index, Now now);
  // Moves a pull to its next source not yet pulled whole, keeping cursors.
  void next_source(Task& task);

  StreamConfig config_;
  const ClusterView& view_;
  ReplicaStore& store_;
  std::vector<Task> tasks_;
  size_t remaining_ = 0;
  size_t in_flight_ = 0;
  PeerIds ids_;
  // Batches in flight: route id -> task index (emptied by clear(), so older
  // replies are ignored).
  std::map<uint64_t, size_t> in_flight_tasks_;
  std::vector<PeerRequest> peer_requests_;
  StreamStats stats_;
};

}  // namespace ringkv::core
