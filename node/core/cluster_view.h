// ClusterView: what the node core knows of the cluster right now, shared by
// the coordinator, hinted handoff and topology changes: the ring, the ring
// after the topology change in progress, which nodes are down (and since
// when), and how to reach every node.
//
// Owned and updated by NodeCore from membership events; read-only to
// everyone else. A node absent from down_since_ms is up (alive or suspect:
// a suspect still gets requests, as in Cassandra, until it is convicted).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "membership/config.h"
#include "node/core/ring.h"

namespace ringkv::core {

// Wall time and monotonic time; every input of the core carries both:
// wall time orders writes (HLC), monotonic time drives timers.
struct Now {
  uint64_t wall_us = 0;
  membership::TimeMs monotonic_ms = 0;
};

struct ClusterView {
  std::string self_id;
  // The current ring: members in ring status normal or leaving. Reads and the
  // natural replicas of writes come from it.
  std::shared_ptr<const Ring> ring = std::make_shared<const Ring>(Ring::build({}));
  // The ring once the change in progress completes (joining members in,
  // leaving ones out): writes also go to its replicas that `ring` lacks (the
  // pending owners). The same object as `ring` when nothing is changing.
  std::shared_ptr<const Ring> future_ring = ring;
  // The current ring before the last change completed, kept for a grace
  // period (until previous_until_ms) while other nodes may still use it:
  // writes also go to its replicas, so a QUORUM read on either ring meets them.
  std::shared_ptr<const Ring> previous_ring;
  membership::TimeMs previous_until_ms = 0;
  // Members that left the ring (decommissioned or removed): their hints are
  // dropped, and no write waits for them.
  std::unordered_set<std::string> left;
  // Node id -> monotonic time at which it was first seen down.
  std::unordered_map<std::string, membership::TimeMs> down_since_ms;

  bool is_up(const std::string& id) const { return id == self_id || !down_since_ms.contains(id); }
  bool changing() const { return future_ring != ring; }
  // The node in either ring, or nullptr.
  const RingNode* find(std::string_view id) const {
    const RingNode* node = ring->find(id);
    return node != nullptr ? node : future_ring->find(id);
  }
};

}  // namespace ringkv::core
