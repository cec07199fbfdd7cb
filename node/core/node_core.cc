#include "node/core/node_core.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "node/core/expiry.h"
#include "node/core/planted_bug.h"
#include "storage/storage_key.h"

namespace ringkv::core {
namespace {

constexpr membership::TimeMs kRepairAfterRestartMs = 5000;
// A remembered member that membership still has not reported this long after
// a restart is added to it as dead (Swim::remember_dead): it died while every
// node that saw it die was down, and only so can removenode reach it
// (cluster_sim remove seeds 302 and 462).
constexpr membership::TimeMs kRememberDeadAfterMs = 20 * 1000;
// Hints whose target neither membership nor either ring has known for this
// long after a start are dropped as for a member that left: a node that died
// while joining, when every node that saw it has restarted since (a joiner is
// in no remembered ring), would otherwise keep them until their TTL (issue 12
// item 4; cluster_sim join-dies seed 49). A target membership reports again
// is no longer treated so (apply_membership).
constexpr membership::TimeMs kForgetUnknownHintTargetsAfterMs = 60 * 1000;
// How long writes also reach the replicas of the ring before a change: other
// nodes learn of the change by gossip within a few seconds (longer under loss).
constexpr membership::TimeMs kPreviousRingGraceMs = 30 * 1000;

// A peer with other cluster settings is noted at most this often, and for at
// most this many peers at once (the table is cleared beyond that).
constexpr membership::TimeMs kNoticeIntervalMs = 60 * 1000;
constexpr size_t kSettingsNoticePeersMax = 1024;

// The module configurations with the cluster settings copied in (the one place they are).
NodeConfig with_settings(NodeConfig config) {
  const ClusterSettings& s = config.settings;
  config.coordinator.replicas = s.replicas;
  config.scan.replicas = s.replicas;
  config.coordinator.hint_window_ms = static_cast<membership::TimeMs>(s.hint_window_s) * 1000;
  config.topology.replicas = s.replicas;
  config.repair.replicas = s.replicas;
  config.repair.tombstone_grace_us = s.tombstone_grace_s * 1'000'000;
  return config;
}

wire::ErrorReply storage_failure(const storage::Error& failure) {
  return wire::ErrorReply{wire::ErrorCode::kInternal, describe(failure)};
}

}  // namespace

NodeCore::NodeCore(NodeConfig config, ReplicaStore& store, uint64_t tiebreak, membership::Swim swim,
                   Now now)
    : config_(with_settings(std::move(config))),
      store_(store),
      tiebreak_(tiebreak),
      swim_(std::move(swim)),
      view_{.self_id = swim_.self().id},
      coordinator_(config_.coordinator, view_, store_, clock_),
      scans_(config_.scan, view_, store_),
      replayer_(config_.hint_replay, view_, store_),
      topology_(config_.topology, view_, store_, swim_, now),
      repair_(config_.repair, view_, store_),
      admission_(config_.admission),
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
  remember_dead_at_ms_ = now.monotonic_ms + kRememberDeadAfterMs;
  forget_unknown_at_ms_ = now.monotonic_ms + kForgetUnknownHintTargetsAfterMs;
}

void NodeCore::forget_unknown_hint_targets() {
  for (const auto& [target, count] : store_.hint_counts()) {
    if (count == 0 || target == view_.self_id || view_.left.contains(target)) continue;
    if (swim_.member(target) || view_.find(target) != nullptr) continue;
    const bool remembered = std::any_of(remembered_.begin(), remembered_.end(),
                                        [&](const RingNode& node) { return node.id == target; });
    if (remembered) continue;
    view_.left.insert(target);
    topology_notice("hints for " + membership::id_to_hex(target) + " (" + std::to_string(count) +
                    "): no member or ring knows that node; dropped as for a member that left");
  }
}

std::vector<std::string> NodeCore::remembered_addresses() const {
  std::vector<std::string> addresses;
  for (const RingNode& node : remembered_) addresses.push_back(node.address);
  return addresses;
}

void NodeCore::handle_peer_reply(PeerRoute route, const std::expected<wire::Message, std::string>& reply,
                                 Now now) {
  last_wall_us_ = now.wall_us;
  bool awaited = false;
  switch (route.owner) {
    case PeerOwner::kCoordinator:
      awaited = coordinator_reply(route.id, reply, now);
      break;
    case PeerOwner::kHintReplayer:
      awaited = replayer_.handle_reply(route.id, reply, now);
      break;
    case PeerOwner::kTopology:
      awaited = topology_.handle_reply(route.id, reply, now);
      break;
    case PeerOwner::kTopologyStream:
      awaited = topology_.handle_stream_reply(route.id, reply, now);
      break;
    case PeerOwner::kRepair:
      awaited = repair_.handle_reply(route.id, reply, now);
      break;
    case PeerOwner::kRepairStream:
      awaited = repair_.handle_stream_reply(route.id, reply, now);
      break;
    case PeerOwner::kKeyringAdmin:
      awaited = keyring_admin_.handle_reply(route.id, reply, now);
      break;
    case PeerOwner::kScan:
      awaited = scans_.handle_reply(route.id, reply, now);
      if (awaited) collect_replies(now);
      break;
  }
  if (!awaited) {
    ++peer_replies_dropped_;
    return;
  }
  flush_quietly();
}

bool NodeCore::coordinator_reply(uint64_t id, const std::expected<wire::Message, std::string>& reply, Now now) {
  if (!coordinator_.handle_reply(id, reply, now)) return false;
  if (reply) {
    // Replica replies carry no timestamps of their own; reads do.
    if (const auto* read = std::get_if<wire::ReplicaReadReply>(&reply->body); read && read->found) {
      clock_.observe(read->record.timestamp_us, now.wall_us);
    }
  }
  collect_replies(now);
  return true;
}

void NodeCore::tick(Now now) {
  last_now_ms_ = now.monotonic_ms;
  last_wall_us_ = now.wall_us;
  coordinator_.tick(now);
  scans_.tick(now);
  collect_replies(now);
  if (!remembered_.empty() && now.monotonic_ms >= remember_dead_at_ms_) {
    for (const RingNode& node : remembered_) {
      membership::Member member{.id = node.id, .name = node.name, .address = node.address,
                                .ring_status = membership::RingStatus::kNormal,
                                .vnode_count = node.vnodes};
      if (swim_.remember_dead(std::move(member), now.monotonic_ms)) {
        topology_notice("membership never reported remembered member " + node.name +
                        " since the restart: it is taken as dead (removenode can remove it)");
      }
    }
    remember_dead_at_ms_ = std::numeric_limits<membership::TimeMs>::max();
  }
  if (now.monotonic_ms >= next_hint_scan_ms_) {
    if (now.monotonic_ms >= forget_unknown_at_ms_) forget_unknown_hint_targets();
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
  membership::TimeMs next = next_hint_scan_ms_;
  for (const auto deadline : {coordinator_.next_deadline(), scans_.next_deadline()}) {
    if (deadline) next = std::min(next, *deadline);
  }
  return next;
}

void NodeCore::collect_replies(Now now) {
  // The coordinator's requests to this node's own copy join the iteration's
  // group commit in the order they were made, among the peers' requests.
  coordinator_.take_local_requests(local_requests_);
  for (PeerRequest& request : local_requests_) {
    const ReplyTo to{.coordinator = true, .route_id = request.route.id};
    if (auto* write = std::get_if<wire::ReplicaWriteRequest>(&request.body)) {
      store_.stage(to, std::move(*write), now.wall_us);
    } else {
      store_.stage(to, std::move(std::get<wire::ReplicaReadRequest>(request.body)));
    }
  }
  local_requests_.clear();
  coordinator_.take_replies(outgoing_);
  for (auto& reply : scans_.take_replies()) outgoing_.push_back(std::move(reply));
}

void NodeCore::serve_replica_requests() {
  const Now now{last_wall_us_, last_now_ms_};
  // A local write that meets a newer version is re-stamped at once, and its
  // new request is served in another round. Sealed first: requests arriving
  // from now on join nothing this round serves.
  for (;;) {
    coordinator_.seal();
    collect_replies(now);
    if (!store_.has_staged()) break;
    for (auto& [to, body] : store_.commit()) {
      if (const auto* failed = std::get_if<wire::ErrorReply>(&body); failed && failed->code == wire::ErrorCode::kInternal) {
        ++storage_errors_;
      }
      if (to.coordinator) {
        coordinator_.handle_reply(to.route_id, wire::Message{0, std::move(body)}, now);
      } else if (const auto* read = std::get_if<wire::ReplicaReadReply>(&body); read && to.own_copy_read) {
        outgoing_.push_back(Outgoing{to.client, wire::Message{to.request_id, read->found ? get_reply(from_wire(read->record), now.wall_us)
                                                                                         : wire::Body{wire::GetReply{}}}});
      } else {
        outgoing_.push_back(Outgoing{to.client, wire::Message{to.request_id, std::move(body)}});
      }
    }
  }
}

std::vector<Outgoing> NodeCore::take_outgoing() {
  serve_replica_requests();
  for (auto& reply : keyring_admin_.take_replies()) outgoing_.push_back(std::move(reply));
  auto replies = std::exchange(outgoing_, {});
  if (replies.empty()) return replies;
  for (const auto& reply : replies) admission_.release(reply.client, reply.message.request_id);
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
  for (auto& request : scans_.take_peer_requests()) requests.push_back(std::move(request));
  for (auto& request : replayer_.take_peer_requests()) requests.push_back(std::move(request));
  for (auto& request : topology_.take_peer_requests()) requests.push_back(std::move(request));
  for (auto& request : repair_.take_peer_requests()) requests.push_back(std::move(request));
  for (auto& request : keyring_admin_.take_peer_requests()) requests.push_back(std::move(request));
  return requests;
}

std::vector<membership::Event> NodeCore::take_membership_events(Now now) {
  last_now_ms_ = now.monotonic_ms;
  check_settings_mismatches(now);
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

void NodeCore::check_settings_mismatches(Now now) {
  for (const membership::SettingsMismatch& mismatch : swim_.take_settings_mismatches()) {
    const std::string difference = first_difference(config_.settings, mismatch.theirs);
    if (mismatch.we_asked && topology_.phase() == Phase::kWaiting) {
      // Not a member yet: joining would place data by other rules. Stop and say why.
      if (!refusal_to_run_) {
        refusal_to_run_ = "cannot join the cluster through " + mismatch.address +
                          ": cluster settings differ (" + difference +
                          "); start this node with the cluster's settings";
      }
      continue;
    }
    ++settings_mismatches_;
    auto [noted, first] = settings_noted_ms_.try_emplace(mismatch.address, now.monotonic_ms);
    if (!first && now.monotonic_ms - noted->second < kNoticeIntervalMs) continue;
    noted->second = now.monotonic_ms;
    if (settings_noted_ms_.size() > kSettingsNoticePeersMax) settings_noted_ms_.clear();
    notices_.push_back("refused the state of " + mismatch.address + ": it runs with other cluster settings (" +
                       difference + ")");
  }
}

void NodeCore::remember_members() {
  std::vector<RingNode> others;
  for (const RingNode& node : view_.ring->nodes()) {
    if (node.id != view_.self_id) others.push_back(node);
  }
  std::string text = encode_known_members(others);
  if (text == remembered_text_) return;
  // Best effort: a failure only means a slower, more cautious restart; it is
  // counted and tried again at the next ring change.
  if (auto put = store_.engine().meta_put(kKnownMembersMeta, text); put) {
    remembered_text_ = std::move(text);
  } else {
    ++storage_errors_;
  }
}

std::vector<std::string> NodeCore::take_notices() {
  std::vector<std::string> notices = std::exchange(notices_, {});
  for (std::string& notice : topology_.take_notices()) notices.push_back(std::move(notice));
  for (std::string& notice : replayer_.take_notices()) notices.push_back(std::move(notice));
  for (std::string& notice : repair_.take_notices()) notices.push_back(std::move(notice));
  for (std::string& notice : keyring_admin_.take_notices()) notices.push_back(std::move(notice));
  return notices;
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

wire::Body NodeCore::range_digest_of(const wire::RangeDigestRequest& request, Now now) {
  const uint64_t grace = config_.settings.tombstone_grace_s * 1'000'000;
  auto computed = range_digest(store_.engine(), PositionRange{request.begin, request.end},
                               now.wall_us > grace ? now.wall_us - grace : 0);
  if (!computed) {
    ++storage_errors_;
    return storage_failure(computed.error());
  }
  return *computed;
}

wire::Body NodeCore::push_pull(std::string_view peer_address, const wire::PushPullRequest& request,
                               Now now) {
  auto reply = swim_.handle_push_pull_request(peer_address, request.payload, now.monotonic_ms);
  if (!reply) {
    return wire::ErrorReply{wire::ErrorCode::kInvalid,
                            "push-pull refused: " + std::string(membership::to_string(reply.error()))};
  }
  return wire::PushPullReply{std::move(*reply)};
}

std::optional<int64_t> NodeCore::clock_offset_ms(const std::string& id) const {
  const auto offset = swim_.clock_offset(id);
  if (!offset) return std::nullopt;
  // Rounded to the nearest millisecond, halves away from zero.
  return (offset->offset_us + (offset->offset_us < 0 ? -500 : 500)) / 1000;
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
        member.incarnation, member.vnode_count, clock_offset_ms(member.id), member.rack});
  }
  // Members remembered from before a restart that membership has not heard
  // from yet: still in the ring (counted down), so listed, as dead.
  for (const RingNode& node : remembered_) {
    reply.members.push_back(wire::MemberStatus{node.name, node.id, node.address, "dead", "normal", 0,
                                               node.vnodes, std::nullopt, node.rack});
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
    reply.endpoints.push_back(wire::Endpoint{node->name, node->address, node->rack});
  }
  return reply;
}

wire::Body NodeCore::ring_summary() const {
  wire::RingReply reply;
  reply.replicas = config_.settings.replicas;
  const auto& [ring, replicated, primary] = ownership();
  const auto nodes = ring->nodes();
  for (size_t i = 0; i < nodes.size(); ++i) {
    reply.members.push_back(wire::RingMember{nodes[i].name, nodes[i].address, nodes[i].vnodes,
                                             static_cast<uint64_t>(replicated[i] * 1e6),
                                             static_cast<uint64_t>(primary[i] * 1e6), nodes[i].rack});
  }
  return reply;
}

const NodeCore::Ownership& NodeCore::ownership() const {
  if (ownership_.ring != view_.ring) {
    ownership_ = Ownership{view_.ring, view_.ring->ownership(config_.settings.replicas), view_.ring->ownership(1)};
  }
  return ownership_;
}

std::string NodeCore::name_of(const std::string& id) const {
  const RingNode* node = view_.find(id);
  return node ? node->name : std::string("unknown");
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
  add("reads_coalesced", counters.reads_coalesced);
  add("writes_coalesced", counters.writes_coalesced);
  add("read_repairs", counters.read_repairs);
  add("read_repair_failures", counters.read_repair_failures);
  add("scan_pages", scans_.pages());
  add("storage_errors", storage_errors_);
  const storage::Stats storage = store_.engine().stats();
  add("row_cache_hits", storage.row_cache_hits);
  add("row_cache_misses", storage.row_cache_misses);
  add("row_cache_evictions", storage.row_cache_evictions);
  add("row_cache_bytes", storage.row_cache_bytes);
  add("row_cache_entries", storage.row_cache_entries);
  add("peer_replies_dropped", peer_replies_dropped_);
  add("hint_storage_errors", replayer_.storage_errors());
  add("auth_failures", auth_failures_);
  add("client_refused_noauth", client_refused_noauth_);
  add("client_refused_forbidden", client_refused_forbidden_);
  add("internode_on_client_refused", internode_on_client_refused_);
  admission_.add_stats(reply.values);
  add("client_refused_not_ready", client_refused_not_ready_);
  add("clock_offset_warnings", swim_.stats().clock_offset_warnings);
  add("membership_claims_refused_rack", swim_.stats().claims_refused_rack);
  add("settings_mismatches", settings_mismatches_);
  const RequestLatencies& latencies = coordinator_.latencies();
  for (auto [name, histogram] : {std::pair{"write", &latencies.writes}, std::pair{"read", &latencies.reads}}) {
    add(std::string(name) + "_latency_p50_us", histogram->percentile(0.50));
    add(std::string(name) + "_latency_p99_us", histogram->percentile(0.99));
    add(std::string(name) + "_latency_p999_us", histogram->percentile(0.999));
  }
  add("hints_written", counters.hints_written);
  add("hints_refused", store_.hints_refused());
  add("hints_in_flight", replayer_.in_flight());
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
