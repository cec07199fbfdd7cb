#include "tests/sim/cluster/faults.h"

#include <cstdio>

namespace ringkv::cluster_sim {

FaultInjector::FaultInjector(World& world, Network& network, Cluster& cluster,
                             FaultSettings settings, bool verbose)
    : world_(world), network_(network), cluster_(cluster), settings_(settings), verbose_(verbose) {}

void FaultInjector::trace(const std::string& line) const {
  if (!verbose_) return;
  std::printf("  [%9.3f s] fault: %s\n", static_cast<double>(world_.now_us()) / kUsPerS,
              line.c_str());
}

SimTimeUs FaultInjector::duration() {
  return world_.random().between(settings_.duration_min_us, settings_.duration_max_us);
}

void FaultInjector::start() {
  running_ = true;
  world_.after(world_.random().between(settings_.interval_min_us, settings_.interval_max_us),
               [this] { inject(); });
}

void FaultInjector::inject() {
  if (!running_) return;
  const uint64_t kind = world_.random().below(10);
  if (kind < 4) {
    if (!crash_one()) partition_halves();
  } else if (kind < 6) {
    partition_halves();
  } else if (kind < 8) {
    isolate_one();
  } else {
    cut_one_way();
  }
  world_.after(world_.random().between(settings_.interval_min_us, settings_.interval_max_us),
               [this] { inject(); });
}

bool FaultInjector::crash_one() {
  const std::vector<int> up = cluster_.up_nodes();
  if (cluster_.members_down() >= settings_.max_down || up.empty()) {
    return false;
  }
  crash_and_restart(up[world_.random().below(up.size())]);
  return true;
}

void FaultInjector::crash_for_storage(int index) {
  const uint64_t epoch = cluster_.node(index).epoch();
  world_.after(0, [this, index, epoch] {
    NodeHost& node = cluster_.node(index);
    if (!running_ || !node.up() || node.epoch() != epoch ||
        cluster_.members_down() >= settings_.max_down) {
      return;
    }
    trace("n" + std::to_string(index) + " dies between a write and its flush");
    crash_and_restart(index);
  });
}

void FaultInjector::crash_and_restart(int victim) {
  ++counters_.crashes;
  const SimTimeUs down_for = duration();
  trace("crash n" + std::to_string(victim) + " for " + std::to_string(down_for / kUsPerMs) + " ms");
  cluster_.crash(victim);
  const uint64_t epoch = cluster_.node(victim).epoch();
  world_.after(down_for, [this, victim, epoch] {
    // After stop() the heal restarts everyone; a node already restarted has a newer epoch.
    if (!running_ || cluster_.node(victim).up() || cluster_.node(victim).epoch() != epoch ||
        cluster_.role(victim) != Role::kMember) {
      return;
    }
    trace("restart n" + std::to_string(victim));
    cluster_.start(victim);
  });
}

void FaultInjector::partition_halves() {
  const int n = cluster_.size();
  std::vector<int> groups(n, 0);
  // A random non-trivial split: shuffle, then cut at 1..n-1.
  std::vector<int> order(n);
  for (int i = 0; i < n; ++i) order[i] = i;
  for (int i = n - 1; i > 0; --i) std::swap(order[i], order[world_.random().below(i + 1)]);
  const int cut = static_cast<int>(world_.random().between(1, n - 1));
  std::string side;
  for (int i = 0; i < cut; ++i) {
    groups[order[i]] = 1;
    side += " n" + std::to_string(order[i]);
  }
  ++counters_.partitions;
  const SimTimeUs lasting = duration();
  trace("partition {" + side + " } from the rest for " + std::to_string(lasting / kUsPerMs) +
        " ms");
  const uint64_t id = network_.partition(std::move(groups));
  world_.after(lasting, [this, id] {
    if (running_) network_.heal_partition(id);
  });
}

void FaultInjector::isolate_one() {
  const int n = cluster_.size();
  const int victim = static_cast<int>(world_.random().below(n));
  std::vector<int> groups(n, 0);
  groups[victim] = 1;
  ++counters_.isolations;
  const SimTimeUs lasting = duration();
  trace("isolate n" + std::to_string(victim) + " for " + std::to_string(lasting / kUsPerMs) +
        " ms");
  const uint64_t id = network_.partition(std::move(groups));
  world_.after(lasting, [this, id] {
    if (running_) network_.heal_partition(id);
  });
}

void FaultInjector::cut_one_way() {
  const int n = cluster_.size();
  const int from = static_cast<int>(world_.random().below(n));
  int to = static_cast<int>(world_.random().below(n - 1));
  if (to >= from) ++to;
  ++counters_.one_way_cuts;
  const SimTimeUs lasting = duration();
  trace("cut n" + std::to_string(from) + " -> n" + std::to_string(to) + " for " +
        std::to_string(lasting / kUsPerMs) + " ms");
  network_.cut_one_way(from, to);
  world_.after(lasting, [this, from, to] {
    if (running_) network_.restore_one_way(from, to);
  });
}

}  // namespace ringkv::cluster_sim
