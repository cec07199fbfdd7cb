// NodeCore: the node's request logic as a pure state machine.
//
// Inputs: client requests (with the id of the connection they came on) and
// the current time. Outputs: replies, queued until the I/O layer drains them
// with take_outgoing(). It never touches a socket or a clock; storage is
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

#include "node/core/hybrid_clock.h"
#include "node/wire/message.h"
#include "storage/engine.h"

namespace ringkv::core {

using ClientId = uint64_t;

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
  NodeCore(storage::Engine& engine, uint64_t tiebreak);

  void handle_client(ClientId client, wire::Message request, uint64_t now_us);

  // Replies produced since the last call, in order.
  std::vector<Outgoing> take_outgoing();

  const NodeCounters& counters() const { return counters_; }

 private:
  wire::Body put(const wire::PutRequest& request, uint64_t now_us);
  wire::Body remove(const wire::DeleteRequest& request, uint64_t now_us);
  wire::Body get(const wire::GetRequest& request);
  wire::Body write_record(const std::string& key, storage::Record record);
  wire::Body storage_failure(const storage::Error& error);

  storage::Engine& engine_;
  uint64_t tiebreak_;
  HybridClock clock_;
  NodeCounters counters_;
  std::vector<Outgoing> outgoing_;
};

}  // namespace ringkv::core
