// PeerRoute: who the reply to a peer request belongs to.
//
// Every PeerRequest (peer_request.h) carries a route: the unit of NodeCore
// that sent it (PeerOwner) and the id that unit gave it. Each unit numbers
// its own requests with a PeerIds (1, 2, 3, ... never reused, so a late reply
// can never match a newer request) and keeps its own table from id to what
// the request was for. The I/O layer hands the route back untouched with the
// outcome; NodeCore::handle_peer_reply switches on the owner and gives the id
// to that unit, whose handle_reply says whether it was still waiting for it.
// A reply nobody waits for (late: the unit gave up on it, or a change was
// abandoned; or forged) is dropped and counted (stats
// peer_replies_dropped); it never reaches another unit's table.
//
// Adding an owner: a value below, a PeerIds in the unit, and a case in
// NodeCore::handle_peer_reply.
#pragma once

#include <cstdint>

namespace ringkv::core {

enum class PeerOwner : uint8_t {
  kCoordinator,      // replica reads and writes, read repairs (coordinator.h)
  kHintReplayer,     // hints delivered to their targets (hint_replayer.h)
  kTopology,         // join/leave/removal confirmations, hint handover (topology.h)
  kTopologyStream,   // the ranges a topology change moves (topology's streamer.h)
  kRepair,           // anti-entropy digest comparisons (anti_entropy.h)
  kRepairStream,     // the ranges anti-entropy pulls (its streamer.h)
  kKeyringAdmin,     // key rotation fan-out, sync and confirmations (keyring_admin.h)
  kScan,             // scan pages and DBSIZE estimates (scan_coordinator.h)
};

struct PeerRoute {
  PeerOwner owner = PeerOwner::kCoordinator;
  uint64_t id = 0;  // unique among `owner`'s requests; 0 is never issued
  bool operator==(const PeerRoute&) const = default;
};

// One owner's request ids.
class PeerIds {
 public:
  explicit PeerIds(PeerOwner owner) : owner_(owner) {}
  PeerRoute next() { return PeerRoute{owner_, next_id_++}; }
  PeerOwner owner() const { return owner_; }

 private:
  PeerOwner owner_;
  uint64_t next_id_ = 1;
};

}  // namespace ringkv::core
