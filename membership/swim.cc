// Swim: construction, the input and output API, timers and the member table's accessors.
// Failure detection is in swim_probe.cc, merging in swim_state.cc, dissemination and
// anti-entropy in swim_gossip.cc.
#include "membership/swim.h"

#include <algorithm>
#include <utility>

#include "membership/check.h"

namespace ringkv::membership {

std::string_view to_string(EventKind kind) {
  switch (kind) {
    case EventKind::kJoined:
      return "joined";
    case EventKind::kAlive:
      return "alive";
    case EventKind::kSuspect:
      return "suspect";
    case EventKind::kDead:
      return "dead";
    case EventKind::kLeft:
      return "left";
    case EventKind::kUpdated:
      return "updated";
  }
  return "unknown";
}

std::string_view to_string(DropReason reason) {
  switch (reason) {
    case DropReason::kTruncated:
      return "truncated";
    case DropReason::kMalformed:
      return "malformed";
    case DropReason::kLimitExceeded:
      return "limit exceeded";
    case DropReason::kUnknownVersion:
      return "unknown protocol version";
    case DropReason::kUnknownKind:
      return "unknown message kind";
    case DropReason::kForeignCluster:
      return "foreign cluster";
    case DropReason::kWrongTarget:
      return "ping for another node id";
    case DropReason::kOutOfRange:
      return "incarnation or vnode count out of range";
    case DropReason::kSettingsMismatch:
      return "cluster settings differ";
  }
  return "unknown drop reason";
}

uint64_t Stats::dropped_total() const {
  return dropped_truncated + dropped_malformed + dropped_limit_exceeded + dropped_unknown_version +
         dropped_unknown_kind + dropped_foreign_cluster + dropped_wrong_target +
         dropped_out_of_range + dropped_settings_mismatch;
}

std::expected<Swim, std::string> Swim::create(Config config, Member self, uint32_t generation,
                                              uint64_t rng_seed, TimeMs now) {
  if (auto valid = config.validate(); !valid) return std::unexpected(valid.error());
  if (generation > kGenerationMax) return std::unexpected("generation above 2^31 - 1");
  self.incarnation = initial_incarnation(generation);
  self.liveness = Liveness::kAlive;
  self.protocol_version = kProtocolVersion;
  if (auto valid = validate_member(self); !valid) return std::unexpected(valid.error());
  return Swim(std::move(config), std::move(self), rng_seed, now);
}

Swim::Swim(Config config, Member self, uint64_t rng_seed, TimeMs now)
    : config_(std::move(config)),
      rng_(rng_seed),
      self_(std::move(self)),
      awareness_(config_.awareness_max_multiplier),
      broadcasts_(config_.members_max + 1),
      now_ms_(now),
      next_seq_(rng_()),
      join_backoff_ms_(config_.join_retry_initial_ms) {
  // Random phases keep a cluster of nodes started together from probing and gossiping in
  // lockstep.
  next_probe_at_ms_ = now + uniform_between(rng_, 0, config_.probe_interval_ms - 1);
  next_gossip_at_ms_ = now + uniform_between(rng_, 0, config_.gossip_interval_ms - 1);
  next_push_pull_at_ms_ =
      now + uniform_between(rng_, config_.push_pull_interval_ms / 2, config_.push_pull_interval_ms);
  next_reconnect_at_ms_ =
      now + uniform_between(rng_, config_.reconnect_interval_ms / 2, config_.reconnect_interval_ms);
  broadcast(self_, self_.id);
}

TimeMs Swim::observe_time(TimeMs now) {
  if (now < now_ms_) {
    ++stats_.time_went_backwards;
    return now_ms_;
  }
  now_ms_ = now;
  return now;
}

PacketHeader Swim::header() const {
  return PacketHeader{kProtocolVersion, config_.cluster_name, self_.id, self_.incarnation};
}

void Swim::send(std::string address, std::string bytes) {
  MEMBERSHIP_CHECK(bytes.size() <= config_.datagram_bytes_max, "datagrams fit the budget");
  if (outgoing_.size() >= config_.outgoing_max) {
    // The owner is not draining; dropping the oldest is what a full socket buffer would do.
    outgoing_.erase(outgoing_.begin());
    ++stats_.outputs_dropped_undrained;
  }
  ++stats_.datagrams_sent;
  stats_.datagram_bytes_sent += bytes.size();
  outgoing_.push_back(OutgoingDatagram{std::move(address), std::move(bytes)});
}

void Swim::send_packet(const std::string& address, const Body& body,
                       std::optional<std::string> forced_update) {
  PacketWriter writer(header(), body, config_.datagram_bytes_max);
  if (forced_update) {
    const bool added = writer.try_add(*forced_update);
    MEMBERSHIP_CHECK(added, "one update always fits an empty datagram");
  }
  for (const std::string& update : broadcasts_.take(writer.room(), transmit_limit())) {
    const bool added = writer.try_add(update);
    MEMBERSHIP_CHECK(added, "the queue hands out only what fits");
  }
  send(address, std::move(writer).finish());
}

void Swim::emit(EventKind kind, const Member& member) {
  // One push-pull can introduce every member at once, so the bound leaves room for that.
  if (events_.size() >= config_.outgoing_max + config_.members_max) {
    events_.erase(events_.begin());
    ++stats_.outputs_dropped_undrained;
  }
  events_.push_back(Event{kind, member});
}

Swim::MemberState* Swim::find(std::string_view id) {
  auto it = index_.find(id);
  return it == index_.end() ? nullptr : &members_[it->second];
}

const Swim::MemberState* Swim::find(std::string_view id) const {
  auto it = index_.find(id);
  return it == index_.end() ? nullptr : &members_[it->second];
}

std::expected<void, DropReason> Swim::count_drop(DecodeError error) {
  switch (error) {
    case DecodeError::kTruncated:
      return count_drop(DropReason::kTruncated);
    case DecodeError::kMalformed:
      return count_drop(DropReason::kMalformed);
    case DecodeError::kLimitExceeded:
      return count_drop(DropReason::kLimitExceeded);
    case DecodeError::kUnknownVersion:
      return count_drop(DropReason::kUnknownVersion);
    case DecodeError::kUnknownKind:
      return count_drop(DropReason::kUnknownKind);
    case DecodeError::kOutOfRange:
      return count_drop(DropReason::kOutOfRange);
  }
  return count_drop(DropReason::kMalformed);
}

std::expected<void, DropReason> Swim::count_drop(DropReason reason) {
  switch (reason) {
    case DropReason::kTruncated:
      ++stats_.dropped_truncated;
      break;
    case DropReason::kMalformed:
      ++stats_.dropped_malformed;
      break;
    case DropReason::kLimitExceeded:
      ++stats_.dropped_limit_exceeded;
      break;
    case DropReason::kUnknownVersion:
      ++stats_.dropped_unknown_version;
      break;
    case DropReason::kUnknownKind:
      ++stats_.dropped_unknown_kind;
      break;
    case DropReason::kForeignCluster:
      ++stats_.dropped_foreign_cluster;
      break;
    case DropReason::kWrongTarget:
      ++stats_.dropped_wrong_target;
      break;
    case DropReason::kOutOfRange:
      ++stats_.dropped_out_of_range;
      break;
    case DropReason::kSettingsMismatch:
      ++stats_.dropped_settings_mismatch;
      break;
  }
  return std::unexpected(reason);
}

std::expected<void, DropReason> Swim::handle_datagram(std::string_view from_address,
                                                      std::string_view bytes, TimeMs now,
                                                      uint64_t wall_us) {
  now = observe_time(now);
  wall_us_ = wall_us;
  auto packet = decode_packet(bytes, config_.datagram_bytes_max);
  if (!packet) return count_drop(packet.error());
  if (packet->header.cluster != config_.cluster_name) {
    return count_drop(DropReason::kForeignCluster);
  }
  if (const Ping* ping = std::get_if<Ping>(&packet->body); ping && ping->target_id != self_.id) {
    // Someone probes the node that used to live at this address; answering would vouch for it.
    return count_drop(DropReason::kWrongTarget);
  }
  ++stats_.datagrams_received;
  stats_.datagram_bytes_received += bytes.size();
  // Claims first, so a refutation riding on an ack is known before the ack is judged.
  stale_accusation_heard_ = false;
  const std::string_view sender_id = packet->header.sender_id;
  std::optional<std::string> sender_address;  // a copy: applying claims may grow the table
  if (const MemberState* sender = find(sender_id)) sender_address = sender->record.address;
  for (const Update& update : packet->updates) {
    // The sender speaking for itself, from the address we know it by (or, if we do not know
    // it yet, from the address it claims).
    const bool own = update.member.id == sender_id &&
                     from_address == sender_address.value_or(update.member.address);
    const bool relay = sender_address.has_value() && from_address == *sender_address;
    apply(update.member, update.origin_id, own ? Source::kMember : relay ? Source::kRelay : Source::kGossip, now);
  }
  if (std::exchange(stale_accusation_heard_, false) &&
      !std::holds_alternative<Ping>(packet->body)) {
    // (A ping's ack carries the record anyway: it is the newest entry in the queue.)
    send_packet(std::string(from_address), Gossip{}, encode_update(Update{self_, ""}));
  }
  tell_if_accused(from_address, packet->header, now);
  std::visit(
      [&](const auto& body) {
        using T = std::decay_t<decltype(body)>;
        if constexpr (std::is_same_v<T, Ping>) {
          handle_ping(from_address, body);
        } else if constexpr (std::is_same_v<T, PingReq>) {
          handle_ping_req(from_address, body, now);
        } else if constexpr (std::is_same_v<T, Ack>) {
          handle_ack(body, packet->header.sender_id, now);
        } else if constexpr (std::is_same_v<T, Nack>) {
          handle_nack(body);
        }
      },
      packet->body);
  return {};
}

void Swim::tick(TimeMs now, uint64_t wall_us) {
  now = observe_time(now);
  wall_us_ = wall_us;
  tick_relays(now);
  tick_suspicions(now);
  tick_probe(now);
  tick_gossip(now);
  tick_push_pull(now);
  tick_reconnect(now);
  tick_join(now);
  tick_leave(now);
}

TimeMs Swim::next_deadline() const {
  TimeMs next = next_gossip_at_ms_;
  if (!leaving_) {
    next = std::min(
        next, probe_ ? (probe_->indirect_sent ? probe_->period_end_ms : probe_->ping_deadline_ms)
                     : next_probe_at_ms_);
    if (joined_) next = std::min({next, next_push_pull_at_ms_, next_reconnect_at_ms_});
    if (join_started_ && !joined_) next = std::min(next, next_join_at_ms_);
  } else if (!leave_complete_) {
    next = std::min(next, leave_deadline_ms_);
  }
  for (const auto& [seq, relay] : relays_) next = std::min(next, relay.nack_at_ms);
  for (const auto& [id, suspicion] : suspicions_) next = std::min(next, suspicion.deadline_ms());
  // A timer that was dormant (say, push-pull before the join succeeded) may be overdue.
  return std::max(next, now_ms_);
}

std::vector<OutgoingDatagram> Swim::take_outgoing() { return std::exchange(outgoing_, {}); }

std::vector<PushPullRequest> Swim::take_push_pull_requests() {
  return std::exchange(push_pull_requests_, {});
}

std::vector<Event> Swim::take_events() { return std::exchange(events_, {}); }

std::vector<ClockWarning> Swim::take_clock_warnings() {
  return std::exchange(clock_warnings_, {});
}

std::vector<RackConflict> Swim::take_rack_conflicts() {
  return std::exchange(rack_conflicts_, {});
}

std::vector<SettingsMismatch> Swim::take_settings_mismatches() {
  return std::exchange(settings_mismatches_, {});
}

void Swim::set_ring_status(RingStatus status, TimeMs now) {
  now = observe_time(now);
  if (leaving_ || self_.ring_status == status) return;
  self_.ring_status = status;
  self_.incarnation = next_incarnation(self_.incarnation);
  broadcast(self_, self_.id);
}

bool Swim::declare_left(std::string_view id, TimeMs now) {
  now = observe_time(now);
  MemberState* state = find(id);
  if (state == nullptr || state->record.liveness == Liveness::kLeft) return false;
  Member claim = state->record;
  claim.liveness = Liveness::kLeft;
  return apply(claim, self_.id, Source::kLocal, now);
}

bool Swim::remember_dead(Member member, TimeMs now) {
  now = observe_time(now);
  if (member.id == self_.id || find(member.id) != nullptr) return false;
  member.incarnation = 0;
  member.liveness = Liveness::kDead;
  return add_member(member, self_.id, now);
}

std::vector<Member> Swim::members() const {
  std::vector<Member> all;
  all.reserve(members_.size() + 1);
  all.push_back(self_);
  for (const MemberState& state : members_) all.push_back(state.record);
  std::sort(all.begin(), all.end(), [](const Member& a, const Member& b) { return a.id < b.id; });
  return all;
}

std::optional<Member> Swim::member(std::string_view id) const {
  if (id == self_.id) return self_;
  const MemberState* state = find(id);
  if (state == nullptr) return std::nullopt;
  return state->record;
}

std::optional<ClockOffset> Swim::clock_offset(std::string_view id) const {
  const MemberState* state = find(id);
  if (state == nullptr) return std::nullopt;
  return state->clock.estimate();
}

std::size_t Swim::live_member_count() const {
  std::size_t live = self_.liveness == Liveness::kAlive ? 1 : 0;
  for (const MemberState& state : members_) {
    if (state.record.liveness == Liveness::kAlive || state.record.liveness == Liveness::kSuspect) {
      ++live;
    }
  }
  return live;
}

}  // namespace ringkv::membership
