#include "tests/sim/simulation.h"

#include <algorithm>
#include <initializer_list>
#include <string_view>
#include <stdexcept>

#include "membership/check.h"
#include "membership/codec.h"

namespace ringkv::membership::sim {

namespace {

// A paused process's socket buffer holds this many datagrams; later ones are lost, as they
// would be in the kernel.
constexpr std::size_t kBacklogMax = 512;

// Appends rather than `"literal" + std::string`, which trips GCC 12's false -Wrestrict.
std::string concat(std::initializer_list<std::string_view> parts) {
  std::string text;
  for (std::string_view part : parts) text.append(part);
  return text;
}

}  // namespace

Simulation::Simulation(uint64_t seed, int node_count, Config config, TimeMs start_ms)
    : config_(std::move(config)), rng_(seed), now_(start_ms) {
  MEMBERSHIP_CHECK(node_count >= 1, "a simulation has nodes");
  MEMBERSHIP_CHECK(config_.validate().has_value(), "the simulated config is valid");
  nodes_.resize(node_count);
  group_of_node_.assign(node_count, 0);
  for (int i = 0; i < node_count; ++i) {
    Member& identity = nodes_[i].identity;
    identity.id.resize(kNodeIdBytes);
    for (char& byte : identity.id) byte = static_cast<char>(rng_());
    identity.name = concat({"n", std::to_string(i)});
    identity.address =
        concat({"10.0.", std::to_string(i / 250), ".", std::to_string(i % 250 + 1), ":7000"});
    identity.ring_status = RingStatus::kNormal;
    identity.vnode_count = 16;
    by_address_[identity.address] = i;
    by_id_[identity.id] = i;
  }
  for (int i = 0; i < std::min(node_count, 3); ++i) seed_nodes_.push_back(i);
}

void Simulation::set_seed_nodes(std::vector<int> seed_nodes) {
  seed_nodes_ = std::move(seed_nodes);
}

bool Simulation::is_running(int node) const {
  return nodes_[node].status == NodeStatus::kUp || nodes_[node].status == NodeStatus::kPaused;
}

const Swim* Simulation::swim(int node) const {
  return nodes_[node].swim ? &*nodes_[node].swim : nullptr;
}

int Simulation::node_by_id(const std::string& id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? -1 : it->second;
}

void Simulation::boot(int node) {
  Node& n = nodes_[node];
  ++n.generation;
  ++n.epoch;
  n.backlog.clear();
  auto swim = Swim::create(config_, n.identity, n.generation, rng_(), now_);
  MEMBERSHIP_CHECK(swim.has_value(), "simulated nodes are valid");
  n.swim.emplace(std::move(*swim));
  n.status = NodeStatus::kUp;
  std::vector<std::string> seeds;
  for (int seed : seed_nodes_) seeds.push_back(nodes_[seed].identity.address);
  n.swim->join(std::move(seeds), now_);
  drain(node);
}

void Simulation::start(int node) {
  MEMBERSHIP_CHECK(nodes_[node].status == NodeStatus::kNotStarted, "start is for a new node");
  boot(node);
}

void Simulation::restart(int node) {
  const NodeStatus status = nodes_[node].status;
  MEMBERSHIP_CHECK(status == NodeStatus::kDown || status == NodeStatus::kLeft,
                   "restart is for a stopped node");
  boot(node);
}

void Simulation::crash(int node) {
  MEMBERSHIP_CHECK(is_running(node), "crash is for a running node");
  Node& n = nodes_[node];
  n.swim.reset();
  n.backlog.clear();
  n.status = NodeStatus::kDown;
}

void Simulation::pause(int node) {
  MEMBERSHIP_CHECK(nodes_[node].status == NodeStatus::kUp, "pause is for a running node");
  nodes_[node].status = NodeStatus::kPaused;
}

void Simulation::resume(int node) {
  Node& n = nodes_[node];
  if (n.status != NodeStatus::kPaused) return;
  n.status = NodeStatus::kUp;
  // What queued up in the socket buffers is read first, then the overdue timers fire, as a
  // process continued after SIGSTOP would see it.
  std::vector<Message> backlog = std::exchange(n.backlog, {});
  for (Message& message : backlog) {
    if (nodes_[node].status != NodeStatus::kUp) break;
    process(message);
  }
  if (nodes_[node].status == NodeStatus::kUp) {
    nodes_[node].swim->tick(now_);
    drain(node);
  }
}

void Simulation::leave(int node) {
  MEMBERSHIP_CHECK(nodes_[node].status == NodeStatus::kUp, "leave is for a running node");
  nodes_[node].swim->leave(now_);
  drain(node);
}

void Simulation::set_ring_status(int node, RingStatus status) {
  MEMBERSHIP_CHECK(nodes_[node].status == NodeStatus::kUp, "only a running node changes status");
  nodes_[node].swim->set_ring_status(status, now_);
  drain(node);
}

void Simulation::partition(std::vector<int> group_of_node) {
  MEMBERSHIP_CHECK(group_of_node.size() == nodes_.size(), "a partition names every node's side");
  group_of_node_ = std::move(group_of_node);
}

void Simulation::cut_one_way(int from, int to) { one_way_cuts_.emplace(from, to); }

void Simulation::heal() {
  std::fill(group_of_node_.begin(), group_of_node_.end(), 0);
  one_way_cuts_.clear();
}

void Simulation::inject_datagram(int node, const std::string& from_address,
                                 const std::string& bytes) {
  Node& n = nodes_[node];
  if (n.status != NodeStatus::kUp) return;
  (void)n.swim->handle_datagram(from_address, bytes, now_);
  drain(node);
}

void Simulation::teach_everyone(int node) {
  Node& n = nodes_[node];
  MEMBERSHIP_CHECK(n.status == NodeStatus::kUp, "only a running node learns");
  PushPull state{kProtocolVersion, config_.cluster_name, n.identity.id, false, {}};
  for (const Node& other : nodes_) {
    Member record = other.identity;
    record.incarnation = initial_incarnation(std::max<uint32_t>(other.generation, 1));
    record.liveness = Liveness::kAlive;
    state.members.push_back(std::move(record));
  }
  auto result = n.swim->handle_push_pull_reply(n.identity.address, encode_push_pull(state), now_);
  MEMBERSHIP_CHECK(result.has_value(), "the crafted state decodes");
  drain(node);
}

void Simulation::at(TimeMs when, std::function<void()> action) {
  actions_.push_back(std::move(action));
  Message message;
  message.kind = Kind::kAction;
  message.action = actions_.size() - 1;
  push(std::max(when, now_), std::move(message));
}

void Simulation::push(TimeMs at, Message message) {
  queue_.push(Queued{at, order_++, std::move(message)});
}

bool Simulation::blocked(int from, int to) const {
  return group_of_node_[from] != group_of_node_[to] || one_way_cuts_.contains({from, to});
}

TimeMs Simulation::delay() {
  return uniform_between(rng_, network_.delay_min_ms, network_.delay_max_ms);
}

bool Simulation::chance(double probability) {
  if (probability <= 0.0) return false;
  return static_cast<double>(rng_() >> 11) * 0x1.0p-53 < probability;
}

void Simulation::drain(int node) {
  Node& n = nodes_[node];
  if (!n.swim) return;
  for (OutgoingDatagram& datagram : n.swim->take_outgoing()) {
    ++counters_.datagrams_sent;
    auto target = by_address_.find(datagram.address);
    if (target == by_address_.end() || blocked(node, target->second) || chance(network_.loss)) {
      ++counters_.datagrams_lost;
      continue;
    }
    Message message{Kind::kDatagram, target->second, 0, node, n.epoch, std::move(datagram.bytes)};
    if (chance(network_.duplicate)) push(now_ + delay(), message);
    push(now_ + delay(), std::move(message));
  }
  for (PushPullRequest& request : n.swim->take_push_pull_requests()) {
    ++counters_.push_pulls_sent;
    auto target = by_address_.find(request.address);
    if (target == by_address_.end() || blocked(node, target->second)) continue;
    push(now_ + delay(), Message{Kind::kPushPullRequest, target->second, 0, node, n.epoch,
                                 std::move(request.bytes)});
  }
  for (const Event& event : n.swim->take_events()) {
    if (on_trace) on_trace(node, event);
    if (on_event) on_event(node, event);
  }
  if (n.status == NodeStatus::kUp && n.swim->leave_complete()) {
    // A node that finished leaving stops, as kvnode exits.
    n.swim.reset();
    n.backlog.clear();
    n.status = NodeStatus::kLeft;
    return;
  }
  reschedule_tick(node);
}

void Simulation::reschedule_tick(int node) {
  Node& n = nodes_[node];
  const TimeMs deadline = std::max(n.swim->next_deadline(), now_);
  if (deadline == n.tick_at) return;
  n.tick_at = deadline;
  Message tick;
  tick.kind = Kind::kTick;
  tick.to = node;
  tick.to_epoch = n.epoch;
  tick.token = ++n.tick_token;
  push(deadline, std::move(tick));
}

void Simulation::run_until(TimeMs until) {
  while (!queue_.empty() && queue_.top().at <= until) {
    Queued next = queue_.top();
    queue_.pop();
    MEMBERSHIP_CHECK(next.at >= now_, "simulated time never goes backwards");
    now_ = next.at;
    ++counters_.events_processed;
    deliver(std::move(next.message));
  }
  now_ = std::max(now_, until);
}

void Simulation::deliver(Message message) {
  if (message.kind == Kind::kAction) {
    // Copy out: the action may schedule more actions and grow the vector.
    std::function<void()> action = actions_[message.action];
    action();
    return;
  }
  Node& n = nodes_[message.to];
  if (message.kind == Kind::kTick) {
    if (message.to_epoch != n.epoch || message.token != n.tick_token) return;
    n.tick_at = -1;
    if (n.status != NodeStatus::kUp) return;  // a paused node ticks when resumed
    n.swim->tick(now_);
    drain(message.to);
    return;
  }
  if (!is_running(message.to)) return;
  // Replies belong to the connection of one life of the requester.
  if (message.kind == Kind::kPushPullReply && message.to_epoch != n.epoch) return;
  if (message.kind != Kind::kDatagram && blocked(message.from, message.to)) return;
  if (n.status == NodeStatus::kPaused) {
    if (n.backlog.size() < kBacklogMax) n.backlog.push_back(std::move(message));
    return;
  }
  process(message);
}

void Simulation::process(Message& message) {
  Node& n = nodes_[message.to];
  const std::string& from_address = nodes_[message.from].identity.address;
  switch (message.kind) {
    case Kind::kDatagram:
      ++counters_.datagrams_delivered;
      (void)n.swim->handle_datagram(from_address, message.bytes, now_);
      break;
    case Kind::kPushPullRequest: {
      auto reply = n.swim->handle_push_pull_request(from_address, message.bytes, now_);
      if (reply && !blocked(message.to, message.from)) {
        push(now_ + delay(), Message{Kind::kPushPullReply, message.from, message.from_epoch,
                                     message.to, n.epoch, std::move(*reply)});
      }
      break;
    }
    case Kind::kPushPullReply:
      ++counters_.push_pulls_completed;
      (void)n.swim->handle_push_pull_reply(from_address, message.bytes, now_);
      break;
    case Kind::kTick:
    case Kind::kAction:
      MEMBERSHIP_CHECK(false, "ticks and actions are not inputs");
  }
  drain(message.to);
}

}  // namespace ringkv::membership::sim
