// Admission: load shedding for client data requests (issue 13 item 3).
//
// A node admits a client's put, delete or coordinated get only while the
// requests it holds stay within four bounds: requests and their bytes in
// flight on the whole node, and on the one connection the request came on.
// A request over any bound is refused at once (ErrorCode::kBusy, RESP
// "-BUSY ...", `kv` exit 3) and counted; nothing of it was done. (A RESP
// connection stops parsing at its request cap instead, so a pipelining
// client waits rather than being refused: resp_server.h.) "In flight"
// runs from admit() until the reply leaves the core (release()): with one
// replica, a write completes inside the call that admitted it, but its reply
// still waits for the node's next drain with every other request of that
// loop iteration, and that wait is what an unbounded node lets grow.
//
// Bytes of a request: key + value (a get counts its key; its reply is bounded
// by the connection's unsent-bytes backpressure, listener.h). A request alone
// in its scope is always admitted, whatever its size, so a value larger than
// a bytes bound still gets through when nothing else waits.
//
// Internode traffic (replica writes and reads, hints, streams) never passes
// here: a write this node or another one admitted keeps flowing to its
// replicas, so shedding loses no acknowledged write.
//
// Memory: a slot table for the admitted requests in flight (open addressing,
// at most half full, so at most 2 x requests_inflight_max slots; it grows by
// doubling and never shrinks, so admitting allocates nothing once it has
// grown) plus one entry per connection with requests in flight.
// Pure bookkeeping; single-threaded.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace ringkv::core {

using ClientId = uint64_t;

struct AdmissionConfig {
  size_t requests_inflight_max = 1024;                     // --max-inflight-requests
  uint64_t bytes_inflight_max = 32ull << 20;               // --max-inflight-bytes-mib
  size_t connection_requests_inflight_max = 1024;          // --max-connection-inflight-requests
  uint64_t connection_bytes_inflight_max = 8ull << 20;     // --max-connection-inflight-bytes-mib
  // Empty when consistent, else what is wrong.
  std::string validate() const;
};

// Which bound a refused request would have crossed.
enum class Bound : uint8_t { kNodeRequests, kNodeBytes, kConnectionRequests, kConnectionBytes };

class Admission {
 public:
  explicit Admission(AdmissionConfig config) : config_(config) {}

  // Admits request `request_id` of `client` carrying `bytes`, or returns the
  // bound it would cross (counted; nothing is tracked for it).
  std::optional<Bound> admit(ClientId client, uint64_t request_id, uint64_t bytes);
  // The reply to (client, request_id) left the core; no-op for a request
  // that was not admitted here (a refusal, a status request).
  void release(ClientId client, uint64_t request_id);

  // The refusal's text, naming the bound and its flag.
  std::string describe(Bound bound) const;

  // At a node-wide bound: the next request will be refused unless a reply
  // leaves first.
  bool saturated() const {
    return requests_inflight_ >= config_.requests_inflight_max || bytes_inflight_ >= config_.bytes_inflight_max;
  }
  size_t requests_inflight() const { return requests_inflight_; }
  uint64_t bytes_inflight() const { return bytes_inflight_; }
  uint64_t refused() const { return refused_; }
  uint64_t refused_by(Bound bound) const { return refused_by_[static_cast<size_t>(bound)]; }
  const AdmissionConfig& config() const { return config_; }
  // requests_shed_busy (and per bound), client_requests_inflight, client_bytes_inflight.
  void add_stats(std::vector<std::pair<std::string, uint64_t>>& values) const;

 private:
  // An admitted request in flight, in a slot of entries_.
  struct Entry {
    ClientId client = 0;
    uint64_t request_id = 0;
    uint64_t bytes = 0;
    bool used = false;
  };
  struct Usage {
    size_t requests = 0;
    uint64_t bytes = 0;
  };

  AdmissionConfig config_;
  // The slot where (client, request_id) hashes to, before probing.
  size_t home_slot(ClientId client, uint64_t request_id) const;
  void insert(const Entry& entry);
  // Empties slot `slot`, moving later entries of its probe run back.
  void erase_slot(size_t slot);

  // Linear probing over a power-of-two table. A msgpack client may reuse a
  // request id while the first is in flight: each admission is its own
  // entry, each reply releases one.
  std::vector<Entry> entries_;
  size_t requests_inflight_ = 0;
  std::unordered_map<ClientId, Usage> connections_;
  uint64_t bytes_inflight_ = 0;
  uint64_t refused_ = 0;
  uint64_t refused_by_[4] = {};
};

}  // namespace ringkv::core
