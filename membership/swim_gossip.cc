// Swim: dissemination (gossip rounds), anti-entropy (push-pull), partition healing
// (re-contacting seeds and dead members), join with backoff, and graceful leave.
#include <algorithm>
#include <cmath>
#include <utility>

#include "membership/check.h"
#include "membership/swim.h"

namespace ringkv::membership {

namespace {

// memberlist's pushPullScale: beyond 32 members, slow anti-entropy down logarithmically so
// the cluster-wide rate of full-state exchanges stays bounded.
TimeMs push_pull_scaled_interval_ms(TimeMs interval_ms, std::size_t members) {
  constexpr double kScaleThreshold = 32.0;
  if (static_cast<double>(members) <= kScaleThreshold) return interval_ms;
  const double multiplier =
      std::ceil(std::log2(static_cast<double>(members)) - std::log2(kScaleThreshold)) + 1.0;
  return static_cast<TimeMs>(multiplier) * interval_ms;
}

// The next tick of a ticker with period `interval_ms`, skipping ticks missed while late.
TimeMs advance(TimeMs scheduled_ms, TimeMs interval_ms, TimeMs now) {
  const TimeMs next = scheduled_ms + interval_ms;
  return next > now ? next : now + interval_ms;
}

}  // namespace

uint32_t Swim::transmit_limit() const {
  return retransmit_limit(config_.retransmit_mult, members_.size() + 1);
}

std::vector<const Swim::MemberState*> Swim::random_members(
    std::size_t count, const std::function<bool(const MemberState&)>& eligible) {
  std::vector<const MemberState*> candidates;
  for (const MemberState& state : members_) {
    if (eligible(state)) candidates.push_back(&state);
  }
  // Partial Fisher-Yates: the first `count` slots become a uniform random sample.
  const std::size_t chosen = std::min(count, candidates.size());
  for (std::size_t i = 0; i < chosen; ++i) {
    std::swap(candidates[i], candidates[i + uniform_below(rng_, candidates.size() - i)]);
  }
  candidates.resize(chosen);
  return candidates;
}

bool Swim::is_gossip_target(const MemberState& state, TimeMs now) const {
  switch (state.record.liveness) {
    case Liveness::kAlive:
    case Liveness::kSuspect:
      return true;
    case Liveness::kDead:
      return now - state.changed_at_ms < config_.gossip_to_dead_ms;
    case Liveness::kLeft:
      return false;
  }
  return false;
}

void Swim::tick_gossip(TimeMs now) {
  if (now < next_gossip_at_ms_) return;
  next_gossip_at_ms_ = advance(next_gossip_at_ms_, config_.gossip_interval_ms, now);
  if (broadcasts_.empty()) return;
  const auto targets = random_members(
      config_.gossip_nodes, [&](const MemberState& state) { return is_gossip_target(state, now); });
  for (const MemberState* target : targets) {
    if (broadcasts_.empty()) break;
    send_packet(target->record.address, Gossip{});
  }
}

void Swim::tick_push_pull(TimeMs now) {
  if (!joined_ || leaving_ || now < next_push_pull_at_ms_) return;
  next_push_pull_at_ms_ =
      now + push_pull_scaled_interval_ms(config_.push_pull_interval_ms, members_.size() + 1);
  const auto peers = random_members(
      1, [](const MemberState& state) { return state.record.liveness == Liveness::kAlive; });
  if (!peers.empty()) request_push_pull(peers.front()->record.address, false);
}

void Swim::tick_reconnect(TimeMs now) {
  if (!joined_ || leaving_ || now < next_reconnect_at_ms_) return;
  const TimeMs interval = config_.reconnect_interval_ms;
  next_reconnect_at_ms_ =
      now + uniform_between(rng_, interval - interval / 4, interval + interval / 4);
  // Plain SWIM lets the two sides of a healed partition consider each other dead forever;
  // talking to one of the dead now and then is what merges them back. The same goes for
  // members held left: two live members that were each forged `left` to the other never talk
  // otherwise (found by the `forged` simulator scenario); a member that really left does not
  // answer.
  const auto dead = random_members(1, [](const MemberState& state) {
    return state.record.liveness == Liveness::kDead || state.record.liveness == Liveness::kLeft;
  });
  if (!dead.empty()) request_push_pull(dead.front()->record.address, false);
  // A seed the view does not show alive may be on the other side of a partition, or may have
  // restarted and be waiting for seeds that are all down: ask each of them (seeds are few).
  for (const std::string& seed : seeds_) {
    const bool known_alive = std::any_of(members_.begin(), members_.end(), [&](const auto& state) {
      return state.record.address == seed && state.record.liveness == Liveness::kAlive;
    });
    if (!known_alive) request_push_pull(seed, false);
  }
}

void Swim::join(std::vector<std::string> seed_addresses, TimeMs now) {
  now = observe_time(now);
  seeds_.clear();
  for (std::string& seed : seed_addresses) {
    if (seed == self_.address) continue;
    if (std::find(seeds_.begin(), seeds_.end(), seed) != seeds_.end()) continue;
    seeds_.push_back(std::move(seed));
  }
  join_started_ = true;
  if (seeds_.empty()) {
    joined_ = true;  // the founder of a cluster
    return;
  }
  // Contact every seed now, even if already joined (an operator adding seeds wants them
  // asked); retries continue only until one exchange succeeds.
  for (const std::string& seed : seeds_) request_push_pull(seed, true);
  join_backoff_ms_ = config_.join_retry_initial_ms;
  next_join_at_ms_ = now + uniform_between(rng_, join_backoff_ms_ / 2, join_backoff_ms_);
  join_backoff_ms_ = std::min(join_backoff_ms_ * 2, config_.join_retry_max_ms);
}

void Swim::tick_join(TimeMs now) {
  if (!join_started_ || joined_ || leaving_ || now < next_join_at_ms_) return;
  for (const std::string& seed : seeds_) request_push_pull(seed, true);
  // Jitter keeps nodes that started together from retrying in lockstep.
  next_join_at_ms_ = now + uniform_between(rng_, join_backoff_ms_ / 2, join_backoff_ms_);
  join_backoff_ms_ = std::min(join_backoff_ms_ * 2, config_.join_retry_max_ms);
}

void Swim::leave(TimeMs now) {
  now = observe_time(now);
  if (leaving_) return;
  leaving_ = true;
  probe_.reset();
  self_.liveness = Liveness::kLeft;
  broadcast(self_, self_.id);
  leave_deadline_ms_ = now + config_.leave_propagate_max_ms;
  const bool anyone_to_tell = std::any_of(members_.begin(), members_.end(), [&](const auto& state) {
    return is_gossip_target(state, now);
  });
  if (!anyone_to_tell) leave_complete_ = true;
}

void Swim::tick_leave(TimeMs now) {
  if (!leaving_ || leave_complete_) return;
  if (now >= leave_deadline_ms_ || !broadcasts_.contains(self_.id)) leave_complete_ = true;
}

void Swim::request_push_pull(const std::string& address, bool join) {
  if (push_pull_requests_.size() >= config_.outgoing_max) {
    push_pull_requests_.erase(push_pull_requests_.begin());
    ++stats_.outputs_dropped_undrained;
  }
  ++stats_.push_pull_requests_sent;
  push_pull_requests_.push_back(PushPullRequest{address, encode_state(join)});
}

std::string Swim::encode_state(bool join) const {
  return encode_push_pull(
      PushPull{kProtocolVersion, config_.cluster_name, self_.id, join, members(), config_.settings});
}

std::expected<PushPull, DropReason> Swim::decode_state(std::string_view bytes) {
  auto message = decode_push_pull(bytes, config_.push_pull_bytes_max, config_.members_max);
  if (!message) return std::unexpected(count_drop(message.error()).error());
  if (message->cluster != config_.cluster_name) {
    return std::unexpected(count_drop(DropReason::kForeignCluster).error());
  }
  ++stats_.push_pulls_received;
  return std::move(*message);
}

bool Swim::settings_differ(const PushPull& remote, std::string_view address, bool we_asked) {
  if (remote.settings.empty() || config_.settings.empty() || remote.settings == config_.settings) return false;
  count_drop(DropReason::kSettingsMismatch);
  if (settings_mismatches_.size() >= config_.outgoing_max) {
    settings_mismatches_.erase(settings_mismatches_.begin());
    ++stats_.outputs_dropped_undrained;
  }
  settings_mismatches_.push_back(SettingsMismatch{std::string(address), remote.settings, we_asked});
  return true;
}

void Swim::merge_state(const PushPull& remote, std::string_view reply_from, TimeMs now) {
  std::optional<std::string> sender_address;  // a copy: applying claims may grow the table
  if (const MemberState* sender = find(remote.sender_id)) sender_address = sender->record.address;
  for (const Member& member : remote.members) {
    const bool own = !reply_from.empty() && member.id == remote.sender_id &&
                     reply_from == sender_address.value_or(member.address);
    apply(member, remote.sender_id, own ? Source::kMember : Source::kPushPull, now);
  }
  // Whoever exchanged state with us knows us now: we are part of a cluster.
  joined_ = true;
}

std::expected<std::string, DropReason> Swim::handle_push_pull_request(std::string_view from_address,
                                                                      std::string_view bytes,
                                                                      TimeMs now) {
  now = observe_time(now);
  auto remote = decode_state(bytes);
  if (!remote) return std::unexpected(remote.error());
  std::string reply = encode_state(false);
  // Answered all the same, so the asker learns our settings and can say why it cannot join.
  if (!settings_differ(*remote, from_address, false)) merge_state(*remote, "", now);
  return reply;
}

std::expected<void, DropReason> Swim::handle_push_pull_reply(std::string_view from_address,
                                                             std::string_view bytes, TimeMs now) {
  now = observe_time(now);
  auto remote = decode_state(bytes);
  if (!remote) return std::unexpected(remote.error());
  if (settings_differ(*remote, from_address, true)) return std::unexpected(DropReason::kSettingsMismatch);
  merge_state(*remote, from_address, now);
  return {};
}

}  // namespace ringkv::membership
