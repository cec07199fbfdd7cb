// Network: the state of the simulated links between nodes, and the draws that decide what
// happens to each message. It only decides; Cluster (cluster.h) moves the messages.
//
// UDP (gossip datagrams): each datagram is delayed by a uniform random delay (so datagrams
// reorder), may be lost or duplicated, and is dropped when a partition or a one-way cut lies
// between sender and receiver.
//
// TCP (client requests, replica traffic, push-pull): a request either arrives or its
// connection fails, and the requester then learns of the failure after a delay: quickly for a
// refused or reset connection, after a timeout when a partition swallows the packets. A TCP
// exchange needs both directions, so a one-way cut blocks it as a partition does (packets
// dropped in the receiver's INPUT chain, as the process-level tests do it). With
// `tcp_failure` > 0 a connection may also break on its own, before or after the request was
// processed: the requester cannot tell which, as with a real reset.
//
// Clients sit outside the cluster: partitions never cut them off.
#pragma once

#include <cstdint>
#include <set>
#include <utility>
#include <vector>

#include "tests/sim/cluster/world.h"

namespace ringkv::cluster_sim {

struct NetworkProfile {
  double loss = 0.0;         // probability that a datagram is lost
  double duplicate = 0.0;    // probability that a datagram is delivered twice
  double tcp_failure = 0.0;  // probability that a TCP exchange breaks
  SimTimeUs delay_min_us = 100;
  SimTimeUs delay_max_us = 5 * kUsPerMs;
  // A partitioned requester gives up after this long (PeerClient's request timeout is 5 s).
  SimTimeUs tcp_timeout_min_us = 500 * kUsPerMs;
  SimTimeUs tcp_timeout_max_us = 5 * kUsPerS;
};

struct NetworkCounters {
  uint64_t datagrams_sent = 0;
  uint64_t datagrams_lost = 0;
  uint64_t datagrams_duplicated = 0;
  uint64_t datagrams_blocked = 0;
  uint64_t requests_sent = 0;
  uint64_t requests_failed = 0;
};

class Network {
 public:
  Network(World& world, int node_count);

  NetworkProfile& profile() { return profile_; }
  NetworkCounters& counters() { return counters_; }

  // Partitions: nodes in different groups cannot talk; a one-way cut drops from -> to only.
  // Returns an id for heal_partition, so a late heal does not undo a newer partition.
  uint64_t partition(std::vector<int> group_of_node);
  void heal_partition(uint64_t id);
  void cut_one_way(int from, int to);
  void restore_one_way(int from, int to);
  // Removes every partition and cut.
  void heal_all();
  bool partitioned() const { return partition_id_ != 0 || !cuts_.empty(); }

  bool udp_passes(int from, int to) const;
  bool tcp_link_up(int a, int b) const { return udp_passes(a, b) && udp_passes(b, a); }

  SimTimeUs delay();
  SimTimeUs tcp_timeout();

 private:
  World& world_;
  NetworkProfile profile_;
  NetworkCounters counters_;
  std::vector<int> group_of_node_;
  uint64_t partition_id_ = 0;
  uint64_t next_partition_id_ = 1;
  std::set<std::pair<int, int>> cuts_;
};

}  // namespace ringkv::cluster_sim
