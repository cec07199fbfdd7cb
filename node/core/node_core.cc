#include "node/core/node_core.h"

#include <algorithm>
#include <utility>

#include "node/core/planted_bug.h"
#include "storage/storage_key.h"

namespace ringkv::core {
namespace {

wire::ErrorReply error(wire::ErrorCode code, std::string message) {
  return wire::ErrorReply{code, std::move(message)};
}

constexpr membership::TimeMs kRepairAfterRestartMs = 5000;
// How long writes also reach the replicas of the ring before a change: other
// nodes learn of the change by gossip within a few seconds (longer under loss).
constexpr membership::TimeMs kPreviousRingGraceMs = 30 * 1000;

wire::ErrorReply storage_failure(const storage::Error& failure) {
  return error(wire::ErrorCode::kInternal, describe(failure));
}

}  // namespace

NodeCore::NodeCore(NodeConfig config, ReplicaStore& store, uint64_t tiebreak, membership::Swim swim,
                   Now now)
    : config_(config),
      store_(store),
      tiebreak_(tiebreak),
      swim_(std::move(swim)),
      view_{.self_id = swim_.self().id},
      coordinator_(config.coordinator, view_, store_, clock_),
      replayer_(config.hint_replay, view_, store_),
      topology_(config.topology, view_, store_, swim_, now),
      repair_(config.repair, view_, store_),
      keyring_admin_(KeyringAdminConfig{}, view_, swim_, nullptr, store_.engine()),
      last_now_ms_(now.monotonic_ms) {
  topology_.take_ring_status_changed();  // the ring is built below
  if (auto text = store_.engine().meta_get(kKnownMembersMeta); text && *text) {
    remembered_text_ = **text;
    for (RingNode& node : decode_known_members(remembered_text_).value_or(std::vector<RingNode>{})) {
      if (node.id == view_.self_id) continue;
      view_.down_since_ms.emplace(node.id, now.monotonic_ms);
      remembered_.push_back(std::move(node));
    }
  }
  fresh_ = remembered_.empty();
  rebuild_ring();
  // A restarted node may have missed writes beyond its hints, or a removal
  // while it was down: compare its ranges with the other replicas soon.
  // (Once membership had a few seconds to confirm its peers up.)
  if (!fresh_) repair_.request_round(now.monotonic_ms + kRepairAfterRestartMs);
}

std::vector<std::string> NodeCore::remembered_addresses() const {
  std::vector<std::string> addresses;
  for (const RingNode& node : remembered_) addresses.push_back(node.address);
  return addresses;
}

void NodeCore::handle_client(ClientId client, std::string_view peer_address, Channel channel,
                             wire::Message request, Now now) {
  last_now_ms_ = now.monotonic_ms;
  const uint64_t id = request.request_id;
  auto answer = [&](wire::Body body) {
    outgoing_.push_back(Outgoing{client, wire::Message{id, std::move(body)}});
  };
  const bool client_request = std::holds_alternative<wire::PutRequest>(request.body) ||
                              std::holds_alternative<wire::DeleteRequest>(request.body) ||
                              std::holds_alternative<wire::GetRequest>(request.body);
  if (client_request && fresh_ && !swim_.joined()) {
    answer(error(wire::ErrorCode::kUnavailable, "this node is still joining the cluster (no seed answered yet)"));
    return;
  }
  // A node that is not yet an owner may know only part of the cluster (its
  // member table fills in by gossip), so it does not coordinate: a write
  // acknowledged by "all the replicas it knows" could miss the real ones.
  const bool own_copy_read = client_request && std::holds_alternative<wire::GetRequest>(request.body) &&
                          std::get<wire::GetRequest>(request.body).local;
  const Phase phase = topology_.phase();
  if (client_request && !own_copy_read && phase != Phase::kNormal && phase != Phase::kLeaving) {
    answer(error(wire::ErrorCode::kUnavailable, "this node is " + std::string(to_string(phase)) +
                                                    " the ring, not an owner yet; send requests to another node"));
    return;
  }
  if (auto* put = std::get_if<wire::PutRequest>(&request.body)) {
    pending_[{client, id}] = Pending{now.wall_us, true};
    storage::Record record{{clock_.next(now.wall_us), tiebreak_}, false, std::move(put->value)};
    coordinator_.write(client, id, put->key, std::move(record), put->consistency, now);
  } else if (auto* del = std::get_if<wire::DeleteRequest>(&request.body)) {
    pending_[{client, id}] = Pending{now.wall_us, true};
    storage::Record record{{clock_.next(now.wall_us), tiebreak_}, true, ""};
    coordinator_.write(client, id, del->key, std::move(record), del->consistency, now);
  } else if (auto* get = std::get_if<wire::GetRequest>(&request.body)) {
    if (get->local) {
      answer(local_read(*get));
    } else {
      pending_[{client, id}] = Pending{now.wall_us, false};
      coordinator_.read(client, id, get->key, get->consistency, now);
    }
  } else if (auto* write = std::get_if<wire::ReplicaWriteRequest>(&request.body)) {
    answer(replica_write(*write, now));
  } else if (auto* read = std::get_if<wire::ReplicaReadRequest>(&request.body)) {
    answer(replica_read(*read));
  } else if (auto* push_pull_request = std::get_if<wire::PushPullRequest>(&request.body)) {
    answer(push_pull(peer_address, *push_pull_request, now));
  } else if (std::holds_alternative<wire::StatusRequest>(request.body)) {
    answer(status());
  } else if (auto* endpoints_request = std::get_if<wire::EndpointsRequest>(&request.body)) {
    answer(endpoints(*endpoints_request));
  } else if (std::holds_alternative<wire::RingRequest>(request.body)) {
    answer(ring_summary());
  } else if (std::holds_alternative<wire::StatsRequest>(request.body)) {
    answer(stats(now));
  } else if (auto* stream = std::get_if<wire::StreamReadRequest>(&request.body)) {
    answer(stream_read(*stream));
  } else if (auto* batch = std::get_if<wire::StreamWriteRequest>(&request.body)) {
    answer(stream_write(*batch));
  } else if (auto* digest = std::get_if<wire::RangeDigestRequest>(&request.body)) {
    const uint64_t grace = config_.repair.tombstone_grace_us;
    auto computed = range_digest(store_.engine(), PositionRange{digest->begin, digest->end},
                                 now.wall_us > grace ? now.wall_us - grace : 0);
    if (!computed) ++storage_errors_;
    answer(computed ? wire::Body(*computed) : wire::Body(storage_failure(computed.error())));
  } else if (auto* keys = std::get_if<wire::KeysRequest>(&request.body)) {
    keyring_admin_.handle_keys(client, id, *keys, now);
  } else if (auto* keyring = std::get_if<wire::KeyringRequest>(&request.body)) {
    // Internode only (the TCP server refuses it on client connections too).
    answer(channel == Channel::kPeer ? keyring_admin_.handle_keyring(*keyring, now)
                                     : wire::Body(error(wire::ErrorCode::kInvalid,
                                                        "internode request refused on a client connection")));
  } else if (auto* change = std::get_if<wire::TopologyRequest>(&request.body)) {
    answer(topology_.handle_request(*change, now));
    after_topology_step();
  } else {
    answer(error(wire::ErrorCode::kInvalid, "not a request"));
  }
  collect_replies(now);
}

void NodeCore::handle_peer_reply(uint64_t token, const std::expected<wire::Message, std::string>& reply,
                                 Now now) {
  if ((token & KeyringAdmin::kTokenBit) && !(token & (HintReplayer::kTokenBit | Topology::kTokenBit |
                                                        AntiEntropy::kTokenBit | Streamer::kTokenBit))) {
    keyring_admin_.handle_reply(token, reply, now);
  } else if (token & HintReplayer::kTokenBit) {
    replayer_.handle_reply(token, reply, now);
  } else if (token & Topology::kTokenBit) {
    topology_.handle_reply(token, reply, now);
  } else if (token & AntiEntropy::kTokenBit) {
    repair_.handle_reply(token, reply, now);
  } else {
    if (reply) {
      // Replica replies carry no timestamps of their own; reads do.
      if (const auto* read = std::get_if<wire::ReplicaReadReply>(&reply->body); read && read->found) {
        clock_.observe(read->record.timestamp_us, now.wall_us);
      }
    }
    coordinator_.handle_reply(token, reply, now);
    collect_replies(now);
  }
  flush_quietly();
}

void NodeCore::tick(Now now) {
  last_now_ms_ = now.monotonic_ms;
  coordinator_.tick(now);
  collect_replies(now);
  if (now.monotonic_ms >= next_hint_scan_ms_) {
    replayer_.tick(now);
    topology_.tick(now);
    after_topology_step();
    repair_.tick(now, topology_.phase() == Phase::kNormal && !view_.changing());
    next_hint_scan_ms_ = now.monotonic_ms + config_.hint_scan_interval_ms;
  }
  flush_quietly();
}

void NodeCore::after_topology_step() {
  if (!topology_.take_ring_status_changed()) return;
  rebuild_ring();
  remember_members();
}

void NodeCore::flush_quietly() {
  // Hints stored without a reply (a replica failed or timed out after the
  // client was answered) and delivered hints deleted: make them durable too.
  if (!store_.engine().flush_wal()) ++storage_errors_;
}

membership::TimeMs NodeCore::next_deadline() const {
  const auto requests = coordinator_.next_deadline();
  return requests ? std::min(*requests, next_hint_scan_ms_) : next_hint_scan_ms_;
}

void NodeCore::collect_replies(Now now) {
  for (auto& reply : coordinator_.take_replies()) {
    auto it = pending_.find({reply.client, reply.message.request_id});
    if (it != pending_.end()) {
      const uint64_t started = it->second.started_wall_us;
      const uint64_t micros = now.wall_us > started ? now.wall_us - started : 0;
      (it->second.is_write ? write_latency_ : read_latency_).record(micros);
      pending_.erase(it);
    }
    outgoing_.push_back(std::move(reply));
  }
}

std::vector<std::string> NodeCore::take_notices() {
  auto notices = topology_.take_notices();
  for (auto& notice : keyring_admin_.take_notices()) notices.push_back(std::move(notice));
  return notices;
}

std::vector<Outgoing> NodeCore::take_outgoing() {
  for (auto& reply : keyring_admin_.take_replies()) outgoing_.push_back(std::move(reply));
  auto replies = std::exchange(outgoing_, {});
  if (replies.empty()) return replies;
  // Nothing is acknowledged before it is in the WAL: one flush covers every
  // write behind this batch of replies.
  if (auto flushed = store_.engine().flush_wal(); !flushed) {
    ++storage_errors_;
    for (auto& reply : replies) {
      const bool acknowledges_a_write = std::holds_alternative<wire::WriteReply>(reply.message.body) ||
                                        std::holds_alternative<wire::ReplicaWriteReply>(reply.message.body);
      if (acknowledges_a_write) reply.message.body = storage_failure(flushed.error());
    }
  }
  return replies;
}

std::vector<PeerRequest> NodeCore::take_peer_requests() {
  auto requests = coordinator_.take_peer_requests();
  for (auto& request : replayer_.take_peer_requests()) requests.push_back(std::move(request));
  for (auto& request : topology_.take_peer_requests()) requests.push_back(std::move(request));
  for (auto& request : repair_.take_peer_requests()) requests.push_back(std::move(request));
  for (auto& request : keyring_admin_.take_peer_requests()) requests.push_back(std::move(request));
  return requests;
}

std::vector<membership::Event> NodeCore::take_membership_events(Now now) {
  last_now_ms_ = now.monotonic_ms;
  auto events = swim_.take_events();
  for (const auto& event : events) apply_membership(event, now);
  if (!events.empty()) {
    const auto ring_before = view_.ring;
    rebuild_ring();
    remember_members();
    topology_.on_membership(events, *ring_before, now);
    if (topology_.take_repair_wanted()) repair_.request_round(now.monotonic_ms);
  }
  return events;
}

void NodeCore::remember_members() {
  std::vector<RingNode> others;
  for (const RingNode& node : view_.ring->nodes()) {
    if (node.id != view_.self_id) others.push_back(node);
  }
  std::string text = encode_known_members(others);
  if (text == remembered_text_) return;
  // Best effort: a failure only means a slower, more cautious restart.
  if (store_.engine().meta_put(kKnownMembersMeta, text)) remembered_text_ = std::move(text);
}

void NodeCore::apply_membership(const membership::Event& event, Now now) {
  const membership::Member& member = event.member;
  if (member.id == view_.self_id) return;
  if (member.liveness == membership::Liveness::kLeft) {
    view_.left.insert(member.id);
  } else {
    view_.left.erase(member.id);
  }
  switch (member.liveness) {
    case membership::Liveness::kAlive:
    case membership::Liveness::kSuspect:
    case membership::Liveness::kLeft:
      view_.down_since_ms.erase(member.id);
      break;
    case membership::Liveness::kDead:
      view_.down_since_ms.try_emplace(member.id, now.monotonic_ms);
      break;
  }
}

void NodeCore::rebuild_ring() {
  // A down node stays in the rings (failure is not removal); one that left
  // is out. The current ring holds owners (normal, leaving); the future one
  // the owners once the change in progress completes (normal, joining).
  std::vector<RingNode> current;
  std::vector<RingNode> future;
  for (const membership::Member& member : swim_.members()) {
    if (member.liveness == membership::Liveness::kLeft) continue;
    const auto status = member.ring_status;
    if (status == membership::RingStatus::kNormal || status == membership::RingStatus::kLeaving) {
      current.push_back(to_ring_node(member));
    }
    const bool removing = topology_.removing().contains(member.id);
    if ((status == membership::RingStatus::kNormal || status == membership::RingStatus::kJoining) &&
        !removing) {
      future.push_back(to_ring_node(member));
    }
  }
  // Remembered members stay until membership reports them (alive, dead or left).
  std::erase_if(remembered_, [&](const RingNode& node) { return swim_.member(node.id).has_value(); });
  for (const RingNode& node : remembered_) {
    current.push_back(node);
    future.push_back(node);
  }
  auto by_id = [](const RingNode& a, const RingNode& b) { return a.id < b.id; };
  std::sort(current.begin(), current.end(), by_id);
  std::sort(future.begin(), future.end(), by_id);
  auto same = [](const std::vector<RingNode>& nodes, const Ring& ring) {
    return std::equal(nodes.begin(), nodes.end(), ring.nodes().begin(), ring.nodes().end());
  };
  const bool future_is_current = current == future;
  if (!same(current, *view_.ring)) {
    if (view_.ring->node_count() > 0) {
      // Without members that left: they are gone, nobody reads from them.
      std::vector<RingNode> kept;
      for (const RingNode& node : view_.ring->nodes()) {
        if (!view_.left.contains(node.id)) kept.push_back(node);
      }
      view_.previous_ring = kept.size() == view_.ring->node_count()
                                ? view_.ring
                                : std::make_shared<const Ring>(Ring::build(std::move(kept)));
      view_.previous_until_ms = last_now_ms_ + kPreviousRingGraceMs;
    }
    view_.ring = std::make_shared<const Ring>(Ring::build(std::move(current)));
  }
  if (future_is_current) {
    view_.future_ring = view_.ring;
  } else if (view_.future_ring == view_.ring || !same(future, *view_.future_ring)) {
    view_.future_ring = std::make_shared<const Ring>(Ring::build(std::move(future)));
  }
}

wire::Body NodeCore::stream_read(const wire::StreamReadRequest& request) {
  auto batch = read_stream_batch(store_.engine(), PositionRange{request.begin, request.end}, request.after,
                                 request.max_bytes);
  if (!batch) {
    ++storage_errors_;
    return storage_failure(batch.error());
  }
  return std::move(*batch);
}

wire::Body NodeCore::stream_write(const wire::StreamWriteRequest& request) {
  if (auto applied = apply_stream_batch(store_.engine(), request.entries); !applied) {
    ++storage_errors_;
    return storage_failure(applied.error());
  }
  return wire::StreamWriteReply{};
}

wire::Body NodeCore::replica_write(const wire::ReplicaWriteRequest& request, Now now) {
  clock_.observe(request.record.timestamp_us, now.wall_us);
  const storage::Record record = from_wire(request.record);
  // A hint meant for this very node is simply its data.
  if (!request.hint_target.empty() && request.hint_target != view_.self_id) {
    if constexpr (kPlantedBug == PlantedBug::kDropHints) return wire::ReplicaWriteReply{};
    auto stored = store_.store_hint(request.hint_target, request.key, record, now.wall_us);
    if (!stored) {
      ++storage_errors_;
      return storage_failure(stored.error());
    }
    if (!*stored) return error(wire::ErrorCode::kUnavailable, "hint refused: target's hint cap or TTL reached");
    return wire::ReplicaWriteReply{};
  }
  auto applied = store_.apply_reporting_newer(request.key, record);
  if (!applied) {
    ++storage_errors_;
    return storage_failure(applied.error());
  }
  if (!*applied) return wire::ReplicaWriteReply{};
  return wire::ReplicaWriteReply{(*applied)->timestamp_us, (*applied)->tiebreak};
}

wire::Body NodeCore::replica_read(const wire::ReplicaReadRequest& request) {
  auto stored = store_.read(request.key);
  if (!stored) {
    ++storage_errors_;
    return storage_failure(stored.error());
  }
  if (!stored->has_value()) return wire::ReplicaReadReply{};
  return wire::ReplicaReadReply{true, to_wire(**stored)};
}

wire::Body NodeCore::local_read(const wire::GetRequest& request) {
  auto stored = store_.read(request.key);
  if (!stored) {
    ++storage_errors_;
    return storage_failure(stored.error());
  }
  if (!stored->has_value() || (*stored)->tombstone) return wire::GetReply{};
  const storage::Record& record = **stored;
  return wire::GetReply{true, record.value, record.version.timestamp_us, record.version.tiebreak};
}

wire::Body NodeCore::push_pull(std::string_view peer_address, const wire::PushPullRequest& request,
                               Now now) {
  auto reply = swim_.handle_push_pull_request(peer_address, request.payload, now.monotonic_ms);
  if (!reply) {
    return error(wire::ErrorCode::kInvalid,
                 "push-pull refused: " + std::string(membership::to_string(reply.error())));
  }
  return wire::PushPullReply{std::move(*reply)};
}

wire::Body NodeCore::status() {
  wire::StatusReply reply;
  reply.node_name = swim_.self().name;
  for (const membership::Member& member : swim_.members()) {
    reply.members.push_back(wire::MemberStatus{
        member.name, member.id, member.address, std::string(membership::to_string(member.liveness)),
        // A member waiting to join shows as joining (the status contract
        // knows joining|normal|leaving).
        std::string(membership::to_string(member.ring_status == membership::RingStatus::kWaiting
                                              ? membership::RingStatus::kJoining
                                              : member.ring_status)),
        member.incarnation, member.vnode_count});
  }
  // Members remembered from before a restart that membership has not heard
  // from yet: still in the ring (counted down), so listed, as dead.
  for (const RingNode& node : remembered_) {
    reply.members.push_back(wire::MemberStatus{node.name, node.id, node.address, "dead", "normal", 0, node.vnodes});
  }
  const storage::Stats stats = store_.engine().stats();
  reply.keys = stats.data_keys_estimate;
  reply.bytes = stats.data_bytes_estimate;
  if (trust_problem_) reply.trust_problem = trust_problem_();
  return reply;
}

wire::Body NodeCore::endpoints(const wire::EndpointsRequest& request) const {
  wire::EndpointsReply reply;
  reply.position = storage::ring_position(request.key);
  for (const RingNode* node : coordinator_.natural_replicas(request.key)) {
    reply.endpoints.push_back(wire::Endpoint{node->name, node->address});
  }
  return reply;
}

wire::Body NodeCore::ring_summary() const {
  wire::RingReply reply;
  reply.replicas = config_.coordinator.replicas;
  const auto replicated = view_.ring->ownership(config_.coordinator.replicas);
  const auto primary = view_.ring->ownership(1);
  const auto nodes = view_.ring->nodes();
  for (size_t i = 0; i < nodes.size(); ++i) {
    reply.members.push_back(wire::RingMember{nodes[i].name, nodes[i].address, nodes[i].vnodes,
                                             static_cast<uint64_t>(replicated[i] * 1e6),
                                             static_cast<uint64_t>(primary[i] * 1e6)});
  }
  return reply;
}

wire::Body NodeCore::stats(Now now) const {
  wire::StatsReply reply;
  auto add = [&](std::string name, uint64_t value) { reply.values.emplace_back(std::move(name), value); };
  const CoordinatorCounters& counters = coordinator_.counters();
  add("writes", counters.writes);
  add("reads", counters.reads);
  add("unavailable", counters.unavailable);
  add("timeouts", counters.timeouts);
  add("failed", counters.failed);
  add("writes_restamped", counters.writes_restamped);
  add("writes_superseded", counters.writes_superseded);
  add("read_repairs", counters.read_repairs);
  add("storage_errors", storage_errors_);
  for (auto [name, histogram] : {std::pair{"write", &write_latency_}, std::pair{"read", &read_latency_}}) {
    add(std::string(name) + "_latency_p50_us", histogram->percentile(0.50));
    add(std::string(name) + "_latency_p99_us", histogram->percentile(0.99));
    add(std::string(name) + "_latency_p999_us", histogram->percentile(0.999));
  }
  add("hints_written", counters.hints_written);
  add("hints_refused", store_.hints_refused());
  add("hints_in_flight", replayer_.in_flight());
  auto name_of = [&](const std::string& id) {
    const RingNode* node = view_.find(id);
    return node ? node->name : std::string("unknown");
  };
  for (const auto& [target, count] : store_.hint_counts()) add("hints_stored:" + name_of(target), count);
  for (const auto& [target, target_stats] : replayer_.stats()) {
    add("hints_replayed:" + name_of(target), target_stats.replayed);
    add("hints_expired:" + name_of(target), target_stats.expired);
  }
  topology_.add_stats(reply.values, now);
  repair_.add_stats(reply.values);
  if (extra_stats_) extra_stats_(reply.values);
  return reply;
}

}  // namespace ringkv::core
