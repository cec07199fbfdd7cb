// Swim: merging claims about members into the table (the merge rule of member.h), suspicion
// timers, refutation of claims about ourselves, and telling an accused member directly.
#include <algorithm>
#include <cstdint>
#include <utility>

#include "membership/check.h"
#include "membership/swim.h"

namespace ringkv::membership {

namespace {

EventKind event_for(Liveness liveness) {
  switch (liveness) {
    case Liveness::kAlive:
      return EventKind::kAlive;
    case Liveness::kSuspect:
      return EventKind::kSuspect;
    case Liveness::kDead:
      return EventKind::kDead;
    case Liveness::kLeft:
      return EventKind::kLeft;
  }
  return EventKind::kUpdated;
}

}  // namespace

bool Swim::plausible(const Member& claim, const MemberState* state, Source source) {
  if (source == Source::kLocal || source == Source::kMember) return true;
  const uint64_t jump_max =
      claim.liveness == Liveness::kAlive ? kIncarnationJumpMax : kAccusationJumpMax;
  const bool too_far = claim.incarnation >= kIncarnationMax ||
                       (state != nullptr &&
                        claim.incarnation - std::min(claim.incarnation, state->record.incarnation) >
                            jump_max);
  if (too_far) {
    ++stats_.claims_refused_incarnation;
    return false;
  }
  const bool held_live = state != nullptr && (state->record.liveness == Liveness::kAlive ||
                                              state->record.liveness == Liveness::kSuspect);
  // A known member relaying a leave is believed (a node's own announcement may
  // reach some members only through others: refusing it left them waiting
  // forever for a leave that had completed, cluster_sim leave seed 486); a
  // false one is refuted, as the member hears it. Anyone else is not.
  if (claim.liveness == Liveness::kLeft && held_live && source != Source::kRelay) {
    ++stats_.claims_refused_left;
    return false;
  }
  return true;
}

bool Swim::apply(const Member& claim, std::string_view origin_id, Source source, TimeMs now) {
  if (claim.id == self_.id) return apply_about_self(claim, now);
  MemberState* state = find(claim.id);
  if (!plausible(claim, state, source)) return false;
  if (state == nullptr) return add_member(claim, origin_id, now);

  Member effective = claim;
  // A full-state exchange repeats old verdicts wholesale; like memberlist, take a remote
  // "dead" about a member we know as a suspicion, which it gets a chance to refute.
  if (source == Source::kPushPull && claim.liveness == Liveness::kDead) {
    effective.liveness = Liveness::kSuspect;
  }
  if (claim.rack != state->record.rack) {
    // Only newer knowledge is worth a warning; an old record repeated is ignored as usual.
    if (supersedes(effective, state->record)) {
      ++stats_.claims_refused_rack;
      if (rack_conflicts_.size() >= config_.outgoing_max) rack_conflicts_.erase(rack_conflicts_.begin());
      rack_conflicts_.push_back(RackConflict{state->record, claim.rack});
    } else {
      ++stats_.updates_ignored;
    }
    return false;
  }
  if (!supersedes(effective, state->record)) {
    const bool confirms = effective.liveness == Liveness::kSuspect &&
                          state->record.liveness == Liveness::kSuspect &&
                          effective.incarnation == state->record.incarnation;
    if (auto it = suspicions_.find(claim.id);
        confirms && it != suspicions_.end() && it->second.confirm(origin_id)) {
      // Pass the confirmation on, so other suspecters shorten their timers too.
      ++stats_.suspicion_confirmations;
      broadcast(state->record, origin_id);
    }
    ++stats_.updates_ignored;
    return false;
  }

  const Member previous = std::exchange(state->record, effective);
  ++stats_.updates_applied;
  suspicions_.erase(claim.id);
  if (previous.liveness != effective.liveness) {
    state->changed_at_ms = now;
    state->told = false;
    if (effective.liveness == Liveness::kAlive || effective.liveness == Liveness::kSuspect) {
      if (previous.liveness == Liveness::kDead || previous.liveness == Liveness::kLeft) {
        add_to_probe_order(claim.id);
      }
    }
  }
  if (effective.liveness == Liveness::kSuspect) {
    start_suspicion(effective, origin_id, now);
    probe_suspect_next_ = true;
  }
  broadcast(effective, origin_id);
  if (previous.liveness != effective.liveness) {
    emit(event_for(effective.liveness), effective);
  } else if (attributes_differ(previous, effective)) {
    emit(EventKind::kUpdated, effective);
  }
  return true;
}

bool Swim::add_member(const Member& claim, std::string_view origin_id, TimeMs now) {
  if (members_.size() + 1 >= config_.members_max) {
    ++stats_.members_refused_table_full;
    return false;
  }
  index_.emplace(claim.id, members_.size());
  members_.push_back(MemberState{claim, now, 0, false});
  MEMBERSHIP_CHECK(index_.size() == members_.size(), "the index covers the table");
  ++stats_.updates_applied;
  if (claim.liveness == Liveness::kAlive || claim.liveness == Liveness::kSuspect) {
    add_to_probe_order(claim.id);
  }
  if (claim.liveness == Liveness::kSuspect) start_suspicion(claim, origin_id, now);
  broadcast(claim, origin_id);
  emit(EventKind::kJoined, claim);
  return true;
}

bool Swim::apply_about_self(const Member& claim, TimeMs now) {
  (void)now;
  // A leaving node lets verdicts about it stand: it is going away.
  if (leaving_) {
    ++stats_.updates_ignored;
    return false;
  }
  if (claim.incarnation >= kIncarnationMax) {
    // No node accepts a claim about another this high (see "Trust" in swim.h), so nobody holds
    // it; and it could not be outranked.
    ++stats_.claims_refused_incarnation;
    return false;
  }
  if (claim.incarnation < self_.incarnation) {
    if (claim.liveness != Liveness::kAlive) {
      // Someone still repeats an accusation we already refuted (its copy of the refutation
      // was lost). Spread our record again, and answer the sender directly.
      stale_accusation_heard_ = true;
      broadcast(self_, self_.id);
    }
    ++stats_.updates_ignored;
    return false;
  }
  if (claim.liveness == Liveness::kAlive && claim.incarnation == self_.incarnation &&
      !attributes_differ(claim, self_)) {
    ++stats_.updates_ignored;
    return false;
  }
  // Accused, or someone spreads a record of us that is not ours (an earlier life that was not
  // given a higher generation, or another process with our id): outrank it.
  refute(claim.incarnation, claim.liveness != Liveness::kAlive);
  return true;
}

void Swim::refute(uint64_t accused_incarnation, bool accused) {
  self_.incarnation = next_incarnation(std::max(self_.incarnation, accused_incarnation));
  if (accused) {
    // Lifeguard: having to refute is a sign we are the slow one.
    awareness_.apply_delta(1);
    ++stats_.refutations;
  }
  broadcast(self_, self_.id);
}

void Swim::start_suspicion(const Member& member, std::string_view origin_id, TimeMs now) {
  const std::size_t members = members_.size() + 1;
  const std::size_t live = live_member_count();
  // Lifeguard expects suspicion_mult - 2 independent confirmations, but never more than the
  // members that could give them (everyone but the suspect and the accuser).
  uint32_t wanted = config_.suspicion_mult > 2 ? config_.suspicion_mult - 2 : 0;
  if (live < wanted + 2) wanted = 0;
  const TimeMs min_ms =
      suspicion_min_timeout_ms(config_.suspicion_mult, members, config_.probe_interval_ms);
  const TimeMs max_ms = min_ms * config_.suspicion_max_timeout_mult;
  suspicions_.insert_or_assign(member.id, Suspicion(std::string(origin_id), member.incarnation,
                                                    wanted, min_ms, max_ms, now));
  ++stats_.suspicions_started;
}

void Swim::suspect(const std::string& id, TimeMs now) {
  MemberState* state = find(id);
  if (state == nullptr) return;
  if (state->record.liveness != Liveness::kAlive && state->record.liveness != Liveness::kSuspect) {
    return;
  }
  Member claim = state->record;
  claim.liveness = Liveness::kSuspect;
  // Our own failed probe of a member already suspected counts as a confirmation.
  apply(claim, self_.id, Source::kLocal, now);
  state = find(id);
  MEMBERSHIP_CHECK(state != nullptr, "a suspected member stays in the table");
  // Tell the accused directly: gossip may take a while to reach it, and until it hears it
  // cannot refute.
  state->told = true;
  state->told_at_ms = now;
  ++stats_.members_told_directly;
  send_packet(state->record.address, Gossip{}, encode_update(Update{claim, self_.id}));
}

void Swim::tick_suspicions(TimeMs now) {
  std::vector<std::pair<std::string, uint64_t>> expired;
  for (const auto& [id, suspicion] : suspicions_) {
    if (suspicion.deadline_ms() <= now) expired.emplace_back(id, suspicion.incarnation());
  }
  for (const auto& [id, incarnation] : expired) {
    suspicions_.erase(id);
    const MemberState* state = find(id);
    if (state == nullptr || state->record.liveness != Liveness::kSuspect ||
        state->record.incarnation != incarnation) {
      continue;
    }
    Member claim = state->record;
    claim.liveness = Liveness::kDead;
    ++stats_.members_declared_dead;
    apply(claim, self_.id, Source::kLocal, now);
  }
}

void Swim::broadcast(const Member& member, std::string_view origin_id) {
  // An alive claim needs no accuser; leaving it out saves 16 bytes of every datagram it rides.
  const std::string_view origin = member.liveness == Liveness::kAlive ? "" : origin_id;
  broadcasts_.push(member.id, encode_update(Update{member, std::string(origin)}));
}

void Swim::tell_if_accused(std::string_view from, const PacketHeader& header, TimeMs now) {
  MemberState* state = find(header.sender_id);
  if (state == nullptr) return;
  if (state->record.liveness == Liveness::kAlive) return;
  if (state->told && now - state->told_at_ms < config_.probe_interval_ms) return;
  // A member that talks to us while we hold it suspect, dead or left has either not heard
  // (after a partition heals this is how each side learns to refute quickly; a `left` it never
  // announced is how a forged one is undone) or has refuted already and we missed it (its
  // incarnation is past our record): either way it answers with its current record.
  state->told = true;
  state->told_at_ms = now;
  ++stats_.members_told_directly;
  send_packet(std::string(from), Gossip{}, encode_update(Update{state->record, self_.id}));
}

}  // namespace ringkv::membership
