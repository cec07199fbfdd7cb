#include "tests/sim/cluster/network.h"

namespace ringkv::cluster_sim {

Network::Network(World& world, int node_count) : world_(world), group_of_node_(node_count, 0) {}

uint64_t Network::partition(std::vector<int> group_of_node) {
  group_of_node_ = std::move(group_of_node);
  partition_id_ = next_partition_id_++;
  return partition_id_;
}

void Network::heal_partition(uint64_t id) {
  if (id != partition_id_) return;
  group_of_node_.assign(group_of_node_.size(), 0);
  partition_id_ = 0;
}

void Network::cut_one_way(int from, int to) { cuts_.insert({from, to}); }
void Network::restore_one_way(int from, int to) { cuts_.erase({from, to}); }

void Network::heal_all() {
  heal_partition(partition_id_);
  cuts_.clear();
}

bool Network::udp_passes(int from, int to) const {
  if (from == to) return true;
  return group_of_node_[from] == group_of_node_[to] && !cuts_.contains({from, to});
}

SimTimeUs Network::delay() {
  return world_.random().between(profile_.delay_min_us, profile_.delay_max_us);
}

SimTimeUs Network::tcp_timeout() {
  return world_.random().between(profile_.tcp_timeout_min_us, profile_.tcp_timeout_max_us);
}

}  // namespace ringkv::cluster_sim
