// NodeCore: the node's request logic as a pure state machine.
//
// Inputs: client requests (with the id of the connection they came on) and
// the current time. Outputs: replies, queued until the I/O layer drains them
// with take_outgoing(). The node's SWIM membership lives here too: the I/O
// layer feeds it datagrams and timer ticks through membership() and sends
// what it emits; push-pull requests and status queries arrive as requests. It never touches a socket or a clock; storage is
// reached through the Engine interface, so the same core runs over RocksDB in
// kvnode and over MemoryEngine in the simulator.
//
// Today the node serves every request from its own storage (one replica);
// the replication coordinator slots in behind handle_client() without
// changing this interface.
//
// Thread model: single-threaded; the caller serialises all calls.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "membership/swim.h"
#include "node/core/hybrid_clock.h"
#include "node/wire/message.h"
#include "storage/engine.h"

namespace ringkv::core {

using ClientId = uint64_t;

// The two clocks every input carries: wall time orders writes (HLC),
// monotonic time drives membership timers.
struct Now {
  uint64_t wall_us = 0;
  membership::TimeMs monotonic_ms = 0;
};

struct Outgoing {
  ClientId client = 0;
  wire::Message message;
};

// Counters for `kv stats`.
struct NodeCounters {
  uint64_t puts = 0;
  uint64_t gets = 0;
  uint64_t deletes = 0;
  uint64_t invalid_requests = 0;
  uint64_t storage_errors = 0;
};

class NodeCore {
 public:
  // `tiebreak` distinguishes this node's versions from other coordinators'
  // (derived from the node id). `engine` must outlive the core. Requests
  // arrive decoded, so wire limits (key and value sizes) already hold.
  NodeCore(storage::Engine& engine, uint64_t tiebreak, membership::Swim swim);

  // `peer_address` is the connection's remote HOST:PORT (for membership's
  // records and logs).
  void handle_client(ClientId client, std::string_view peer_address, wire::Message request, Now now);

  // Replies produced since the last call, in order.
  std::vector<Outgoing> take_outgoing();

  const NodeCounters& counters() const { return counters_; }
  membership::Swim& membership() { return swim_; }

 private:
  wire::Body put(const wire::PutRequest& request, uint64_t now_us);
  wire::Body remove(const wire::DeleteRequest& request, uint64_t now_us);
  wire::Body get(const wire::GetRequest& request);
  wire::Body write_record(const std::string& key, storage::Record record);
  wire::Body storage_failure(const storage::Error& error);
  wire::Body push_pull(std::string_view peer_address, const wire::PushPullRequest& request, Now now);
  wire::Body status();

  storage::Engine& engine_;
  uint64_t tiebreak_;
  membership::Swim swim_;
  HybridClock clock_;
  NodeCounters counters_;
  std::vector<Outgoing> outgoing_;
};

}  // namespace ringkv::core
