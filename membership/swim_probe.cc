// Swim failure detection: round-robin probing, indirect probes through k helpers, relaying
// other members' indirect probes, and Lifeguard's nacks.
//
// One probe runs at a time. A probe pings its target and waits probe_timeout; without an ack
// it asks up to indirect_checks helpers to ping the target too (each helper answers with the
// target's ack, or a nack if it heard nothing), then waits for the end of the probe period.
// No ack by then makes the target suspect. Missing nacks mean our own links are suspect, so
// they raise the local health score (and stretch our timeouts) instead of being held against
// the target.
//
// An extension of Lifeguard's buddy system: while some member is suspect in our view, every
// other probe goes to a suspect (the one we probed longest ago). The ping carries the
// suspicion, so the suspect can refute, and its ack carries the refutation straight back,
// which gossip alone delivers to each suspecter only with some probability under loss. If the
// suspect is really down, the failed probe is our own confirmation and speeds its removal.
#include <algorithm>
#include <utility>

#include "membership/check.h"
#include "membership/swim.h"

namespace ringkv::membership {

namespace {

// A helper that heard nothing sends its nack a little before the requester's probe timeout
// would expire, so that the nack arrives while the requester is still waiting.
constexpr TimeMs nack_delay_ms(TimeMs probe_timeout_ms) { return probe_timeout_ms * 4 / 5; }

bool is_probe_target(Liveness liveness) {
  return liveness == Liveness::kAlive || liveness == Liveness::kSuspect;
}

}  // namespace

void Swim::tick_probe(TimeMs now) {
  if (leaving_) return;
  if (probe_ && !probe_->indirect_sent && now >= probe_->ping_deadline_ms) {
    send_indirect_probes(now);
  }
  if (probe_ && probe_->indirect_sent && now >= probe_->period_end_ms) finish_failed_probe(now);
  if (!probe_ && now >= next_probe_at_ms_) start_probe(now);
}

std::optional<std::string> Swim::next_probe_target() {
  // Two passes at most: finish the current shuffled list, then start a fresh one.
  for (int pass = 0; pass < 2; ++pass) {
    while (probe_cursor_ < probe_order_.size()) {
      const std::string& id = probe_order_[probe_cursor_++];
      const MemberState* state = find(id);
      if (state != nullptr && is_probe_target(state->record.liveness)) return id;
    }
    probe_order_.clear();
    for (const MemberState& state : members_) {
      if (is_probe_target(state.record.liveness)) probe_order_.push_back(state.record.id);
    }
    shuffle(probe_order_, rng_);
    probe_cursor_ = 0;
    if (probe_order_.empty()) return std::nullopt;
  }
  return std::nullopt;
}

void Swim::add_to_probe_order(const std::string& id) {
  // A random slot in the part of the pass still ahead, as memberlist does, so a new member is
  // probed within one pass without always going first or last. Appending and swapping keeps
  // this O(1), which matters when a push-pull brings a thousand members at once.
  probe_order_.push_back(id);
  const std::size_t slot = probe_cursor_ + uniform_below(rng_, probe_order_.size() - probe_cursor_);
  std::swap(probe_order_[slot], probe_order_.back());
}

std::optional<std::string> Swim::suspect_to_probe() const {
  const MemberState* oldest = nullptr;
  for (const auto& [id, suspicion] : suspicions_) {
    const MemberState* state = find(id);
    if (state == nullptr || state->record.liveness != Liveness::kSuspect) continue;
    if (oldest == nullptr || state->probed_at_ms < oldest->probed_at_ms) oldest = state;
  }
  if (oldest == nullptr) return std::nullopt;
  return oldest->record.id;
}

void Swim::start_probe(TimeMs now) {
  next_probe_at_ms_ = now + awareness_.scale(config_.probe_interval_ms);
  std::optional<std::string> target;
  if (std::exchange(probe_suspect_next_, false)) target = suspect_to_probe();
  if (target) {
    probe_suspect_next_ = false;
  } else {
    target = next_probe_target();
    probe_suspect_next_ = !suspicions_.empty();
  }
  if (!target) return;
  MemberState* state = find(*target);
  MEMBERSHIP_CHECK(state != nullptr, "a probe target is in the table");
  state->probed_at_ms = now;
  Probe probe;
  probe.seq = next_seq_++;
  probe.target_id = *target;
  probe.sent_at_ms = now;
  probe.ping_deadline_ms = now + awareness_.scale(config_.probe_timeout_ms);
  probe.period_end_ms = next_probe_at_ms_;
  // Lifeguard's buddy system: a suspect learns of the suspicion from the probe itself, so it
  // can refute even if gossip about it has not reached it.
  std::optional<std::string> forced;
  if (state->record.liveness == Liveness::kSuspect) {
    forced = encode_update(Update{state->record, self_.id});
  }
  ++stats_.probes_started;
  send_packet(state->record.address, Ping{probe.seq, probe.target_id, wall_us_},
              std::move(forced));
  probe_ = std::move(probe);
}

void Swim::send_indirect_probes(TimeMs now) {
  MEMBERSHIP_CHECK(probe_ && !probe_->indirect_sent, "indirect probes follow one direct ping");
  probe_->indirect_sent = true;
  const MemberState* target = find(probe_->target_id);
  if (target == nullptr || !is_probe_target(target->record.liveness)) {
    probe_.reset();  // someone else's verdict arrived meanwhile; nothing left to find out
    return;
  }
  const std::string target_id = target->record.id;
  const std::string target_address = target->record.address;
  const auto helpers = random_members(config_.indirect_checks, [&](const MemberState& state) {
    return state.record.liveness == Liveness::kAlive && state.record.id != target_id;
  });
  for (const MemberState* helper : helpers) {
    ++stats_.ping_reqs_sent;
    send_packet(helper->record.address, PingReq{probe_->seq, target_id, target_address});
  }
  probe_->nacks_expected = static_cast<uint32_t>(helpers.size());
  // Helpers need a full probe timeout of their own, even when our timer fired late (a paused
  // process, a busy loop); otherwise a slow node would accuse healthy ones.
  probe_->period_end_ms =
      std::max(probe_->period_end_ms, now + awareness_.scale(config_.probe_timeout_ms));
  next_probe_at_ms_ = std::max(next_probe_at_ms_, probe_->period_end_ms);
}

void Swim::finish_failed_probe(TimeMs now) {
  MEMBERSHIP_CHECK(probe_ && probe_->indirect_sent, "a probe fails only after going indirect");
  ++stats_.probes_failed;
  // With helpers, only their missing nacks count against our own health: helpers that did
  // answer prove our links work, so the target is the likely culprit.
  const int delta = probe_->nacks_expected > 0
                        ? static_cast<int>(probe_->nacks_expected - probe_->nacks_received)
                        : 1;
  awareness_.apply_delta(delta);
  const std::string target_id = std::move(probe_->target_id);
  probe_.reset();
  suspect(target_id, now);
}

void Swim::tick_relays(TimeMs now) {
  for (auto it = relays_.begin(); it != relays_.end();) {
    if (it->second.nack_at_ms > now) {
      ++it;
      continue;
    }
    send_packet(it->second.requester_address, Nack{it->second.requester_seq});
    it = relays_.erase(it);
  }
}

void Swim::handle_ping(std::string_view from, const Ping& ping) {
  send_packet(std::string(from), Ack{ping.seq, wall_us_, ping.wall_us});
}

void Swim::handle_ping_req(std::string_view from, const PingReq& request, TimeMs now) {
  if (relays_.size() >= config_.relays_max) {
    ++stats_.relays_refused;
    return;
  }
  const uint64_t seq = next_seq_++;
  relays_.emplace(
      seq, Relay{std::string(from), request.seq, now + nack_delay_ms(config_.probe_timeout_ms)});
  ++stats_.ping_reqs_relayed;
  send_packet(request.target_address, Ping{seq, request.target_id, wall_us_});
}

void Swim::handle_ack(const Ack& ack, std::string_view sender_id, TimeMs now) {
  if (probe_ && ack.seq == probe_->seq) {
    ++stats_.probes_acked;
    // Only the target's own ack times our clock against its (a relayed one has no clocks).
    if (MemberState* target = find(probe_->target_id); target != nullptr && sender_id == target->record.id) {
      take_clock_sample(*target, ack, probe_->sent_at_ms, now);
    }
    awareness_.apply_delta(-1);
    probe_.reset();
    return;
  }
  if (auto relay = relays_.find(ack.seq); relay != relays_.end()) {
    send_packet(relay->second.requester_address, Ack{relay->second.requester_seq, 0, 0});
    relays_.erase(relay);
    return;
  }
  ++stats_.acks_unmatched;
}

void Swim::take_clock_sample(MemberState& state, const Ack& ack, TimeMs sent_ms, TimeMs now) {
  if (!state.clock.add(sent_ms, now, ack.ping_wall_us, ack.wall_us)) return;
  ++stats_.clock_offset_samples;
  const std::optional<ClockOffset> offset = state.clock.estimate();
  MEMBERSHIP_CHECK(offset.has_value(), "an estimator that took a sample has an estimate");
  if (offset->certain_excess_us() <= config_.max_clock_offset_ms * 1000) return;
  if (state.clock_warned_at_ms &&
      now - *state.clock_warned_at_ms < config_.clock_offset_warning_interval_ms) {
    return;
  }
  state.clock_warned_at_ms = now;
  ++stats_.clock_offset_warnings;
  if (clock_warnings_.size() >= config_.outgoing_max) {
    clock_warnings_.erase(clock_warnings_.begin());
    ++stats_.outputs_dropped_undrained;
  }
  clock_warnings_.push_back(ClockWarning{state.record, *offset});
}

void Swim::handle_nack(const Nack& nack) {
  if (probe_ && nack.seq == probe_->seq && probe_->nacks_received < probe_->nacks_expected) {
    ++stats_.nacks_received;
    ++probe_->nacks_received;
  }
}

}  // namespace ringkv::membership
