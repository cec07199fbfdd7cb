#include "node/core/scan_coordinator.h"

#include <algorithm>
#include <cassert>
#include <limits>
#include <utility>

#include "node/core/range_keys.h"
#include "storage/storage_key.h"

namespace ringkv::core {
namespace {

constexpr uint64_t kPositionMax = std::numeric_limits<uint64_t>::max();

std::vector<std::string> sorted_ids(const std::vector<const RingNode*>& nodes) {
  std::vector<std::string> ids;
  ids.reserve(nodes.size());
  for (const RingNode* node : nodes) ids.push_back(node->id);
  std::sort(ids.begin(), ids.end());
  return ids;
}

uint32_t required_for(wire::Consistency level, uint32_t replicas) {
  switch (level) {
    case wire::Consistency::kOne:
    case wire::Consistency::kAny:
      return std::min<uint32_t>(1, replicas);
    case wire::Consistency::kQuorum:
      return replicas / 2 + 1;
    case wire::Consistency::kAll:
      return replicas;
  }
  return replicas;
}

wire::ErrorReply error(wire::ErrorCode code, std::string message) { return wire::ErrorReply{code, std::move(message)}; }

}  // namespace

ScanSpan span_at(const Ring& ring, uint64_t cursor, size_t replicas, size_t intervals_max) {
  ScanSpan span{cursor, kPositionMax, {}};
  const auto tokens = ring.tokens();
  if (tokens.empty()) return span;
  // The end of the token interval holding `position`: its token, or the top
  // of the ring for positions past the last token (the cursor never wraps).
  auto interval_end = [&](uint64_t position) {
    auto it = std::lower_bound(tokens.begin(), tokens.end(), position);
    return it == tokens.end() ? kPositionMax : *it;
  };
  span.replicas = ring.preference_list(cursor, replicas);
  const auto ids = sorted_ids(span.replicas);
  uint64_t end = interval_end(cursor);
  for (size_t intervals = 1; intervals < intervals_max && end != kPositionMax; ++intervals) {
    if (sorted_ids(ring.preference_list(end + 1, replicas)) != ids) break;
    end = interval_end(end + 1);
  }
  span.end_inclusive = end;
  return span;
}

std::vector<std::string> merge_page(const std::vector<wire::RangeKeysReply>& answers, uint64_t covered_through,
                                    uint64_t now_wall_us) {
  // Storage key -> the newest version any replica holds.
  std::map<std::string, const wire::KeyVersion*> newest;
  for (const wire::RangeKeysReply& answer : answers) {
    for (const wire::KeyVersion& entry : answer.entries) {
      if (storage::ring_position(entry.key) > covered_through) continue;
      auto [it, fresh] = newest.try_emplace(storage::storage_key(entry.key), &entry);
      const auto version = [](const wire::KeyVersion* e) { return std::pair{e->timestamp_us, e->tiebreak}; };
      if (!fresh && version(&entry) > version(it->second)) it->second = &entry;
    }
  }
  std::vector<std::string> keys;
  keys.reserve(newest.size());
  for (const auto& [storage_key, entry] : newest) {
    storage::Record record;
    record.expires_at_us = entry->expires_at_us;
    if (entry->tombstone || storage::expired(record, now_wall_us)) continue;
    keys.push_back(entry->key);
  }
  return keys;
}

ScanCoordinator::ScanCoordinator(ScanConfig config, const ClusterView& view, ReplicaStore& store)
    : config_(config), view_(view), store_(store) {}

bool ScanCoordinator::busy(ClientId client, uint64_t request_id) {
  if (operations_.size() < config_.scans_in_flight_max) return false;
  replies_.push_back(Outgoing{client, wire::Message{request_id, error(wire::ErrorCode::kBusy,
                                                                     "too many scans in flight on this node (" +
                                                                         std::to_string(config_.scans_in_flight_max) +
                                                                         "); retry later")}});
  return true;
}

void ScanCoordinator::scan(ClientId client, uint64_t request_id, const wire::ScanRequest& request, Now now) {
  if (busy(client, request_id)) return;
  ++pages_;
  const ScanSpan& span = span_for(request.cursor);
  const uint64_t op_id = next_op_id_++;
  Operation& op = operations_[op_id];
  op.client = client;
  op.request_id = request_id;
  op.ring = span_ring_;
  op.range = wire::RangeKeysRequest{request.cursor, span.end_inclusive, request.pattern,
                                    std::clamp<uint32_t>(request.count, 1, wire::kScanCountMax)};
  op.required = required_for(request.consistency, static_cast<uint32_t>(span.replicas.size()));
  op.deadline_ms = now.monotonic_ms + config_.request_timeout_ms;
  // This node first when it holds the span (no round trip), then preference order.
  for (const RingNode* node : span.replicas) {
    if (node->id == view_.self_id) op.replicas.insert(op.replicas.begin(), Replica{node});
    else op.replicas.push_back(Replica{node});
  }
  const auto up = std::count_if(op.replicas.begin(), op.replicas.end(),
                                [&](const Replica& r) { return view_.is_up(r.node->id); });
  if (span.replicas.empty() || static_cast<uint32_t>(up) < op.required) {
    return reply(op_id, error(wire::ErrorCode::kUnavailable,
                              "scan needs " + std::to_string(op.required) + " replicas of the range at position " +
                                  std::to_string(request.cursor) + ", " + std::to_string(up) + " are up"));
  }
  ask_more(op_id, now);
}

const ScanSpan& ScanCoordinator::span_for(uint64_t cursor) {
  const bool inside = span_ring_ == view_.ring && !span_.replicas.empty() && cursor >= span_.begin &&
                      cursor <= span_.end_inclusive;
  if (!inside) {
    span_ring_ = view_.ring;
    span_ = span_at(*span_ring_, cursor, config_.replicas, config_.span_intervals_max);
  }
  return span_;
}

void ScanCoordinator::dbsize(ClientId client, uint64_t request_id, Now now) {
  if (busy(client, request_id)) return;
  const uint64_t op_id = next_op_id_++;
  Operation& op = operations_[op_id];
  op.client = client;
  op.request_id = request_id;
  op.is_dbsize = true;
  op.deadline_ms = now.monotonic_ms + config_.request_timeout_ms;
  op.ring = view_.ring;
  const Ring& ring = *op.ring;
  const auto shares = ring.ownership(config_.replicas);
  const auto nodes = ring.nodes();
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (shares[i] <= 0 || !view_.is_up(nodes[i].id)) continue;
    op.replicas.push_back(Replica{&nodes[i]});
    op.shares.push_back(shares[i]);
  }
  op.required = static_cast<uint32_t>(op.replicas.size());
  ask_more(op_id, now);
}

wire::Body ScanCoordinator::local_answer(const Operation& op) {
  if (!op.is_dbsize) return read_range_keys(store_.engine(), op.range);
  wire::StatusReply status;
  status.keys = store_.engine().stats().data_keys_estimate;
  return status;
}

void ScanCoordinator::ask_more(uint64_t op_id, Now now) {
  auto it = operations_.find(op_id);
  if (it == operations_.end()) return;
  Operation& op = it->second;
  // DBSIZE asks everyone at once; a page keeps `required` replicas working.
  auto working = [&] {
    return static_cast<uint32_t>(std::count_if(op.replicas.begin(), op.replicas.end(), [](const Replica& r) {
      return r.state == Asked::kWaiting || r.state == Asked::kAnswered;
    }));
  };
  for (size_t i = 0; i < op.replicas.size() && working() < op.required; ++i) {
    Replica& replica = op.replicas[i];
    if (replica.state != Asked::kNot || !view_.is_up(replica.node->id)) continue;
    if (replica.node->id == view_.self_id) {
      const wire::Message local{0, local_answer(op)};
      on_answer(op_id, i, &local, "");
      continue;
    }
    send(replica, op.is_dbsize ? wire::Body{wire::StatusRequest{}} : wire::Body{op.range}, now);
    asked_[replica.route_id] = {op_id, i};
  }
  progress(op_id, now);
}

void ScanCoordinator::send(Replica& replica, wire::Body body, Now now) {
  replica.state = Asked::kWaiting;
  const PeerRoute route = ids_.next();
  replica.route_id = route.id;
  replica.deadline_ms = now.monotonic_ms + config_.replica_timeout_ms;
  peer_requests_.push_back(PeerRequest{route, replica.node->address, std::move(body), {}});
}

bool ScanCoordinator::handle_reply(uint64_t id, const std::expected<wire::Message, std::string>& reply, Now now) {
  auto found = asked_.find(id);
  if (found == asked_.end()) return false;  // late: the replica was given up on
  const auto [op_id, index] = found->second;
  asked_.erase(found);
  on_answer(op_id, index, reply ? &*reply : nullptr, reply ? "" : reply.error());
  ask_more(op_id, now);  // replaces a replica that failed, then answers if it can
  return true;
}

void ScanCoordinator::on_answer(uint64_t op_id, size_t index, const wire::Message* reply, std::string failure) {
  auto it = operations_.find(op_id);
  if (it == operations_.end()) return;
  Operation& op = it->second;
  Replica& replica = op.replicas[index];
  const std::string& name = replica.node->name;
  if (reply != nullptr) {
    if (const auto* refused = std::get_if<wire::ErrorReply>(&reply->body)) {
      failure = std::string(wire::error_code_name(refused->code)) + ": " + refused->message;
    } else if (const auto* keys = std::get_if<wire::RangeKeysReply>(&reply->body); keys && !op.is_dbsize) {
      if (keys->covered_through < op.range.begin || keys->covered_through > op.range.end_inclusive) {
        failure = "covered a position outside the range asked";
      } else {
        op.answers.push_back(*keys);
      }
    } else if (const auto* status = std::get_if<wire::StatusReply>(&reply->body); status && op.is_dbsize) {
      op.keys_held += static_cast<double>(status->keys);
      op.shares_answered += op.shares[index];
    } else {
      failure = "a reply of the wrong type";
    }
  }
  if (failure.empty()) {
    replica.state = Asked::kAnswered;
    ++op.answered;
  } else {
    replica.state = Asked::kFailed;
    op.last_failure = name + ": " + failure;
  }
}

void ScanCoordinator::progress(uint64_t op_id, Now now) {
  auto it = operations_.find(op_id);
  if (it == operations_.end()) return;
  Operation& op = it->second;
  const bool waiting = std::any_of(op.replicas.begin(), op.replicas.end(),
                                   [](const Replica& r) { return r.state == Asked::kWaiting; });
  if (op.is_dbsize) {
    if (waiting && now.monotonic_ms < op.deadline_ms) return;
    // Each key is held by members whose shares sum to N over the ring; the
    // members that answered stand for the rest.
    const double keys = op.shares_answered > 0 ? op.keys_held / op.shares_answered : 0;
    wire::DbSizeReply size{static_cast<uint64_t>(keys + 0.5), op.answered,
                           static_cast<uint32_t>(view_.ring->node_count())};
    return reply(op_id, size);
  }
  if (op.answered >= op.required) {
    uint64_t covered = op.range.end_inclusive;
    for (const auto& answer : op.answers) covered = std::min(covered, answer.covered_through);
    wire::ScanReply page;
    page.keys = merge_page(op.answers, covered, now.wall_us);
    page.cursor = covered == kPositionMax ? 0 : covered + 1;
    return reply(op_id, std::move(page));
  }
  if (waiting) return;  // ask_more keeps `required` working while replicas are left
  reply(op_id, error(wire::ErrorCode::kUnavailable, "scan got " + std::to_string(op.answered) + " of " +
                                                        std::to_string(op.required) +
                                                        " replica answers; no other replica left to ask (last: " +
                                                        op.last_failure + ")"));
}

void ScanCoordinator::reply(uint64_t op_id, wire::Body body) {
  auto it = operations_.find(op_id);
  assert(it != operations_.end() && "a reply for an operation in flight");
  for (const Replica& r : it->second.replicas) {
    if (r.state == Asked::kWaiting) asked_.erase(r.route_id);
  }
  replies_.push_back(Outgoing{it->second.client, wire::Message{it->second.request_id, std::move(body)}});
  operations_.erase(it);
}

void ScanCoordinator::tick(Now now) {
  std::vector<uint64_t> ids;
  for (const auto& [id, op] : operations_) ids.push_back(id);
  for (uint64_t op_id : ids) {
    auto it = operations_.find(op_id);
    if (it == operations_.end()) continue;
    Operation& op = it->second;
    if (now.monotonic_ms >= op.deadline_ms) {
      if (op.is_dbsize) {
        progress(op_id, now);
      } else {
        reply(op_id, error(wire::ErrorCode::kTimeout, "scan: " + std::to_string(op.answered) + " of " +
                                                          std::to_string(op.required) +
                                                          " replicas answered in time"));
      }
      continue;
    }
    bool gave_up = false;
    for (Replica& replica : op.replicas) {
      if (replica.state != Asked::kWaiting || now.monotonic_ms < replica.deadline_ms) continue;
      replica.state = Asked::kFailed;
      asked_.erase(replica.route_id);
      op.last_failure = replica.node->name + ": no answer within " + std::to_string(config_.replica_timeout_ms) + " ms";
      gave_up = true;
    }
    if (gave_up) ask_more(op_id, now);
  }
}

std::optional<membership::TimeMs> ScanCoordinator::next_deadline() const {
  std::optional<membership::TimeMs> next;
  for (const auto& [id, op] : operations_) {
    membership::TimeMs soonest = op.deadline_ms;
    for (const Replica& r : op.replicas) {
      if (r.state == Asked::kWaiting) soonest = std::min(soonest, r.deadline_ms);
    }
    next = next ? std::min(*next, soonest) : soonest;
  }
  return next;
}

std::vector<Outgoing> ScanCoordinator::take_replies() { return std::exchange(replies_, {}); }
std::vector<PeerRequest> ScanCoordinator::take_peer_requests() { return std::exchange(peer_requests_, {}); }

}  // namespace ringkv::core
