// A deterministic simulator for membership: N Swim state machines in one process over a
// simulated network and clock, driven by one seed.
//
// The network delivers each datagram after a uniform random delay (so datagrams reorder),
// loses or duplicates it with configured probabilities, and drops it across a partition or a
// one-way cut. Push-pull exchanges travel as reliable messages (TCP) that fail across a
// partition or to a stopped node. Nodes can crash (the state machine is destroyed), restart
// (a fresh state machine with a higher generation and the same node id and address), pause
// (inputs queue up, timers stall, as under SIGSTOP) and leave gracefully.
//
// Everything, from node ids to delays, comes from the simulation's generator, so a seed
// replays exactly. Single-threaded.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <queue>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "membership/config.h"
#include "membership/random.h"
#include "membership/swim.h"

namespace ringkv::membership::sim {

struct NetworkProfile {
  double loss = 0.0;       // probability that a datagram is lost
  double duplicate = 0.0;  // probability that a datagram is delivered twice
  TimeMs delay_min_ms = 1;
  TimeMs delay_max_ms = 20;
};

enum class NodeStatus { kNotStarted, kUp, kPaused, kDown, kLeft };

struct SimCounters {
  uint64_t datagrams_sent = 0;
  uint64_t datagrams_lost = 0;
  uint64_t datagrams_delivered = 0;
  uint64_t push_pulls_sent = 0;
  uint64_t push_pulls_completed = 0;
  uint64_t events_processed = 0;
};

class Simulation {
 public:
  Simulation(uint64_t seed, int node_count, Config config, TimeMs start_ms = 1'000'000);

  TimeMs now() const { return now_; }
  Rng& rng() { return rng_; }
  int size() const { return static_cast<int>(nodes_.size()); }
  const Config& config() const { return config_; }
  NetworkProfile& network() { return network_; }
  const SimCounters& counters() const { return counters_; }

  // Seeds every node joins through (by default the first three nodes).
  void set_seed_nodes(std::vector<int> seed_nodes);

  // Lifecycle. start: first start (generation 1); restart: after a crash or a leave, with the
  // next generation. Crash, pause and leave apply to running nodes only.
  void start(int node);
  void crash(int node);
  void restart(int node);
  void pause(int node);
  void resume(int node);
  void leave(int node);
  void set_ring_status(int node, RingStatus status);

  // Partitions: nodes in different groups cannot talk; a one-way cut drops from -> to only.
  void partition(std::vector<int> group_of_node);
  void cut_one_way(int from, int to);
  void heal();

  // A datagram from outside the cluster (`from_address` is no node's), handled at once by
  // `node` if it is up; what it answers goes out on the simulated network.
  void inject_datagram(int node, const std::string& from_address, const std::string& bytes);

  // Builds a node's table without the join protocol: hands it everyone's record as a
  // push-pull reply would. Used by measurements to skip the bootstrap.
  void teach_everyone(int node);

  // Runs `action` when the clock reaches `when`.
  void at(TimeMs when, std::function<void()> action);
  // Processes every event up to and including `until`; the clock then reads `until`.
  void run_until(TimeMs until);

  NodeStatus status(int node) const { return nodes_[node].status; }
  bool is_running(int node) const;  // up or paused
  const Swim* swim(int node) const;
  const std::string& node_id(int node) const { return nodes_[node].identity.id; }
  const std::string& address(int node) const { return nodes_[node].identity.address; }
  uint32_t generation(int node) const { return nodes_[node].generation; }
  int node_by_id(const std::string& id) const;

  // Called for every membership event any node emits: `on_event` for checkers, `on_trace`
  // for --verbose output.
  std::function<void(int node, const Event& event)> on_event;
  std::function<void(int node, const Event& event)> on_trace;

 private:
  enum class Kind { kDatagram, kPushPullRequest, kPushPullReply, kTick, kAction };
  struct Message {
    Kind kind = Kind::kDatagram;
    int to = -1;
    uint64_t to_epoch = 0;
    int from = -1;
    uint64_t from_epoch = 0;
    std::string bytes;
    uint64_t token = 0;  // ticks: stale unless it matches the node's latest
    std::size_t action = 0;
  };
  struct Queued {
    TimeMs at;
    uint64_t order;  // FIFO among equal times, for determinism
    Message message;
    bool operator>(const Queued& other) const {
      return at != other.at ? at > other.at : order > other.order;
    }
  };
  struct Node {
    Member identity;
    uint32_t generation = 0;
    uint64_t epoch = 0;  // bumped on each start, so messages to an earlier life are dropped
    NodeStatus status = NodeStatus::kNotStarted;
    std::optional<Swim> swim;
    std::vector<Message> backlog;  // inputs that arrived while paused
    uint64_t tick_token = 0;
    TimeMs tick_at = -1;
  };

  void boot(int node);
  void push(TimeMs at, Message message);
  void deliver(Message message);
  void process(Message& message);
  void drain(int node);
  void reschedule_tick(int node);
  bool blocked(int from, int to) const;
  TimeMs delay();
  bool chance(double probability);

  Config config_;
  Rng rng_;
  TimeMs now_;
  uint64_t order_ = 0;
  NetworkProfile network_;
  std::vector<Node> nodes_;
  std::map<std::string, int> by_address_;
  std::map<std::string, int> by_id_;
  std::vector<int> seed_nodes_;
  std::vector<int> group_of_node_;
  std::set<std::pair<int, int>> one_way_cuts_;
  std::priority_queue<Queued, std::vector<Queued>, std::greater<>> queue_;
  std::vector<std::function<void()>> actions_;
  SimCounters counters_;
};

}  // namespace ringkv::membership::sim
