#include "tests/sim/cluster/node_host.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace ringkv::cluster_sim {
namespace {

// As kvnode derives it (node/main.cc): the first 8 bytes of the node id.
uint64_t tiebreak_from(const std::string& node_id) {
  uint64_t tiebreak = 0;
  std::memcpy(&tiebreak, node_id.data(), std::min<size_t>(8, node_id.size()));
  return tiebreak;
}

}  // namespace

NodeHost::NodeHost(int index, std::string id, std::string name, std::string address,
                   NodeSettings settings, World& world, Transport& transport)
    : index_(index),
      id_(std::move(id)),
      name_(std::move(name)),
      address_(std::move(address)),
      settings_(std::move(settings)),
      world_(world),
      transport_(transport),
      disk_([this] { return now().wall_us; }, world_, settings_.planted_window_us) {}

core::Now NodeHost::now() const {
  const SimTimeUs sim_us = world_.now_us();
  return core::Now{.wall_us = static_cast<uint64_t>(static_cast<int64_t>(kWallEpochUs) + sim_us +
                                                    settings_.wall_skew_us),
                   .monotonic_ms = sim_us / kUsPerMs + settings_.monotonic_offset_ms};
}

SimTimeUs NodeHost::to_sim_us(membership::TimeMs monotonic_ms) const {
  return (monotonic_ms - settings_.monotonic_offset_ms) * kUsPerMs;
}

bool NodeHost::start() {
  if (up()) throw std::logic_error(name_ + " started twice");
  ++epoch_;
  timer_at_us_.reset();
  finish_reported_ = false;
  // kvnode's start-up order: identity (raises the generation), membership, hints, core.
  auto identity = disk_.open_identity(id_);
  if (!identity) throw std::runtime_error(name_ + ": open_identity: " + identity.error().message);
  if (identity->node_id != id_) throw std::runtime_error(name_ + ": the disk forgot its node id");
  generation_ = identity->generation;
  membership::Member self;
  self.id = id_;
  self.name = name_;
  self.address = address_;
  self.ring_status =
      settings_.founder ? membership::RingStatus::kNormal : membership::RingStatus::kWaiting;
  self.vnode_count = settings_.vnodes;
  self.rack = settings_.rack;
  const core::Now t = now();
  auto swim =
      membership::Swim::create(settings_.membership, self, static_cast<uint32_t>(generation_),
                               world_.random().next(), t.monotonic_ms);
  if (!swim) throw std::runtime_error(name_ + ": Swim::create: " + swim.error());
  storage::Engine* engine = &disk_;
  if (settings_.storage_faults != nullptr) {
    engine = &faulty_.emplace(disk_, world_, *settings_.storage_faults, address_);
  }
  auto store = core::ReplicaStore::open(*engine, settings_.hint_limits);
  if (!store) throw std::runtime_error(name_ + ": ReplicaStore::open: " + store.error().message);
  store_.emplace(std::move(*store));
  core_ = std::make_unique<core::NodeCore>(settings_.node, *store_, tiebreak_from(id_),
                                           std::move(*swim), t);
  if (core_->decommissioned()) {
    // kvnode: "this node was decommissioned; to join again, start it with an empty data
    // directory", and exit.
    core_.reset();
    store_.reset();
    faulty_.reset();
    return false;
  }
  // kvnode's seeds: the configured ones plus the members remembered from before a restart.
  std::vector<std::string> seeds = settings_.seed_addresses;
  for (auto& address : core_->remembered_addresses()) seeds.push_back(std::move(address));
  core_->membership().join(std::move(seeds), t.monotonic_ms);
  pump();
  return true;
}

void NodeHost::stop() {
  // kvnode stops cleanly: the engine closes and flushes.
  if (up()) (void)disk_.flush_wal();
  core_.reset();
  store_.reset();
  faulty_.reset();
  timer_at_us_.reset();
  ++timer_token_;
  (void)disk_.crash();  // nothing unflushed is left to lose
}

CrashLoss NodeHost::crash() {
  // The core refers to the store: drop it first.
  core_.reset();
  store_.reset();
  faulty_.reset();
  timer_at_us_.reset();
  ++timer_token_;  // the pending timer belongs to the dead process
  return disk_.crash();
}

void NodeHost::receive_datagram(const std::string& from_address, const std::string& bytes) {
  // Malformed input is the membership module's to count; the simulator sends none.
  (void)core_->membership().handle_datagram(from_address, bytes, now().monotonic_ms);
  pump();
}

void NodeHost::receive_request(core::ClientId client, const std::string& peer_address,
                               wire::Message request) {
  core_->handle_client(client, peer_address, core::Channel::kPeer, std::move(request), now());
  pump();
}

void NodeHost::pump() {
  // Every transport call only schedules, so nothing re-enters this node while it drains;
  // one pass collects everything, but a second pass is cheap insurance should an output
  // step ever produce more output.
  for (;;) {
    const core::Now t = now();
    bool any = false;
    for (const auto& event : core_->take_membership_events(t)) {
      any = true;
      if (on_event) on_event(*this, event);
    }
    membership::Swim& swim = core_->membership();
    for (auto& datagram : swim.take_outgoing()) {
      any = true;
      transport_.send_datagram(index_, datagram.address, std::move(datagram.bytes));
    }
    for (auto& request : swim.take_push_pull_requests()) {
      any = true;
      const std::string address = request.address;
      transport_.send_request(
          index_, address, wire::PushPullRequest{std::move(request.bytes)},
          [this, address](const Reply& reply) {
            // As GossipDriver: only a PushPullReply is merged; a failure waits for the next
            // exchange.
            const auto* payload = reply ? std::get_if<wire::PushPullReply>(&reply->body) : nullptr;
            if (payload == nullptr) return;
            (void)core_->membership().handle_push_pull_reply(address, payload->payload,
                                                             now().monotonic_ms);
            pump();
          });
    }
    for (auto& request : core_->take_peer_requests()) {
      any = true;
      const core::PeerRoute route = request.route;
      transport_.send_request(index_, request.address, std::move(request.body),
                              [this, route](const Reply& reply) {
                                core_->handle_peer_reply(route, reply, now());
                                pump();
                              });
    }
    for (auto& outgoing : core_->take_outgoing()) {
      any = true;
      transport_.send_reply(index_, std::move(outgoing));
    }
    for (const std::string& notice : core_->take_notices()) {
      if (on_notice) on_notice(*this, notice);
    }
    if (!any) break;
  }
  arm_timer();
  if (core_->finished() && !finish_reported_) {
    // As kvnode: the stop runs from a zero timer, outside this pump.
    finish_reported_ = true;
    const uint64_t epoch = epoch_;
    world_.after(0, [this, epoch] {
      if (up() && epoch_ == epoch && on_finished) on_finished(*this);
    });
  }
}

void NodeHost::arm_timer() {
  const membership::TimeMs deadline_ms =
      std::min(core_->next_deadline(), core_->membership().next_deadline());
  // At least 1 µs ahead: a deadline that has passed fires on the next event, never inside
  // this one.
  const SimTimeUs at_us = std::max(to_sim_us(deadline_ms), world_.now_us() + 1);
  if (timer_at_us_ && *timer_at_us_ <= at_us) return;
  timer_at_us_ = at_us;
  const uint64_t token = ++timer_token_;
  world_.at(at_us, [this, token] { on_timer(token); });
}

void NodeHost::on_timer(uint64_t timer_token) {
  if (timer_token != timer_token_ || !up()) return;
  timer_at_us_.reset();
  const core::Now t = now();
  core_->tick(t);
  core_->membership().tick(t.monotonic_ms);
  pump();
}

}  // namespace ringkv::cluster_sim
