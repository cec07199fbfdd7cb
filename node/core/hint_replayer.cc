#include "node/core/hint_replayer.h"

#include <algorithm>

namespace ringkv::core {

HintReplayer::HintReplayer(HintReplayConfig config, const ClusterView& view, ReplicaStore& store)
    : config_(config), view_(view), store_(store) {}

void HintReplayer::tick(Now now) {
  // Copy: fill() may drop expired hints and so change the counts.
  const auto targets = store_.hint_counts();
  for (const auto& [target, count] : targets) {
    if (backing_off(target, now)) continue;
    if (count > 0 && view_.left.contains(target)) {
      drop_all(target, now);
      continue;
    }
    if (count == 0 || target == view_.self_id || !view_.is_up(target)) continue;
    const RingNode* node = view_.find(target);
    if (node == nullptr) continue;  // not in the ring (yet, or any more): keep the hints
    fill(target, node->address, now);
  }
}

void HintReplayer::drop_all(const std::string& target, Now now) {
  // A window at a time: the next tick takes the rest.
  auto hints = store_.hints_for(target, config_.window, 0);
  if (!hints) {
    errors_.record("reading the hints for departed " + target, hints.error());
    back_off(target, now);
    return;
  }
  for (const storage::Hint& hint : *hints) {
    if (!drop(hint, now)) return;
    ++stats_[target].dropped_left;
  }
}

void HintReplayer::back_off(const std::string& target, Now now) {
  Backoff& backoff = backoff_[target];
  if (now.monotonic_ms < backoff.until_ms) return;  // one failure of a burst already counted
  backoff.delay_ms = backoff.delay_ms == 0
                         ? config_.retry_delay_initial_ms
                         : std::min(2 * backoff.delay_ms, config_.retry_delay_max_ms);
  backoff.until_ms = now.monotonic_ms + backoff.delay_ms;
  ++stats_[target].backoffs;
}

bool HintReplayer::backing_off(const std::string& target, Now now) const {
  auto it = backoff_.find(target);
  return it != backoff_.end() && now.monotonic_ms < it->second.until_ms;
}

bool HintReplayer::drop(const storage::Hint& hint, Now now) {
  auto dropped = store_.drop_hint(hint);
  if (!dropped) {
    errors_.record("deleting a hint for " + hint.target, dropped.error());
    back_off(hint.target, now);
    // The read cursor is past this hint already: read (and deliver) it again next time, or it
    // would stay until a restart (cluster_sim --storage-faults seed 4).
    cursor_[hint.target] = 0;
  }
  return dropped.has_value();
}

void HintReplayer::fill(const std::string& target, const std::string& address, Now now) {
  auto& sent = sent_[target];
  if (sent.size() >= config_.window) return;
  uint64_t& cursor = cursor_[target];
  auto hints = store_.hints_for(target, config_.window - sent.size(), cursor);
  if (!hints) {
    errors_.record("reading the hints for " + target, hints.error());
    back_off(target, now);
    return;
  }
  for (auto& hint : *hints) {
    cursor = std::max(cursor, hint.sequence);
    if (sent.contains(hint.sequence)) continue;  // re-read after a reset; still in flight
    if (store_.expired(hint, now.wall_us)) {
      if (!drop(hint, now)) return;
      ++stats_[target].expired;
      continue;
    }
    const PeerRoute route = ids_.next();
    sent.insert(hint.sequence);
    peer_requests_.push_back(PeerRequest{
        route, address, wire::ReplicaWriteRequest{hint.user_key, to_wire(hint.record), ""}});
    in_flight_.emplace(route.id, std::move(hint));
  }
}

bool HintReplayer::handle_reply(uint64_t id, const std::expected<wire::Message, std::string>& reply,
                                Now now) {
  auto it = in_flight_.find(id);
  if (it == in_flight_.end()) return false;
  storage::Hint hint = std::move(it->second);
  in_flight_.erase(it);
  sent_[hint.target].erase(hint.sequence);
  if (reply && std::holds_alternative<wire::ReplicaWriteReply>(reply->body)) {
    if (!drop(hint, now)) return true;
    ++stats_[hint.target].replayed;
    backoff_.erase(hint.target);
    const RingNode* node = view_.find(hint.target);
    if (node != nullptr && view_.is_up(hint.target) && sent_[hint.target].size() <= config_.window / 2) {
      fill(hint.target, node->address, now);
    }
  } else {
    ++stats_[hint.target].failed_deliveries;
    cursor_[hint.target] = 0;  // read it (and anything after) again next time
    const auto* refused = reply ? std::get_if<wire::ErrorReply>(&reply->body) : nullptr;
    if (refused != nullptr && refused->code == wire::ErrorCode::kInternal) back_off(hint.target, now);
  }
  return true;
}

std::vector<PeerRequest> HintReplayer::take_peer_requests() {
  return std::exchange(peer_requests_, {});
}

}  // namespace ringkv::core
