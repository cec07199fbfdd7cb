#include "node/core/coordinator.h"

#include <algorithm>
#include <cassert>

#include "node/core/expiry.h"
#include "node/core/planted_bug.h"
#include "storage/storage_key.h"

namespace ringkv::core {
namespace {

wire::ErrorReply error(wire::ErrorCode code, std::string message) {
  return wire::ErrorReply{code, std::move(message)};
}

std::string level_name(wire::Consistency level) {
  std::string name(wire::consistency_name(level));
  std::transform(name.begin(), name.end(), name.begin(), ::toupper);
  return name;
}

}  // namespace

Coordinator::Coordinator(CoordinatorConfig config, const ClusterView& view, ReplicaStore& store,
                         HybridClock& clock)
    : config_(config), view_(view), store_(store), clock_(clock) {}

uint32_t Coordinator::required_for(wire::Consistency level, uint32_t replicas) const {
  if constexpr (kPlantedBug == PlantedBug::kAckOne) return 1;
  switch (level) {
    case wire::Consistency::kOne:
    case wire::Consistency::kAny:
      return 1;
    case wire::Consistency::kQuorum:
      return replicas / 2 + 1;
    case wire::Consistency::kAll:
      return replicas;
  }
  return replicas;
}

uint32_t Coordinator::intersecting_previous(wire::Consistency level, uint32_t replicas) const {
  // A read at the complementary level asks `asked` of the previous ring's
  // replicas; the write must be on at least one of any such set.
  const wire::Consistency read_level = level == wire::Consistency::kAll   ? wire::Consistency::kOne
                                       : level == wire::Consistency::kOne ? wire::Consistency::kAll
                                                                          : level;
  const uint32_t asked = std::min(required_for(read_level, replicas), replicas);
  return replicas - asked + 1;
}

std::vector<const RingNode*> Coordinator::natural_replicas(const std::string& key) const {
  return view_.ring->preference_list(storage::ring_position(key), config_.replicas);
}

const RingNode* Coordinator::stand_in_for(uint64_t position, const Operation& op) const {
  const RingNode* found = nullptr;
  view_.ring->walk(position, [&](const RingNode& node) {
    const bool used =
        std::any_of(op.replicas.begin(), op.replicas.end(), [&](const Replica& r) { return r.node->id == node.id; }) ||
        std::any_of(natural_.begin(), natural_.end(), [&](const RingNode* other) { return other->id == node.id; });
    if (!used && view_.is_up(node.id)) {
      found = &node;
      return false;
    }
    return true;
  });
  return found;
}

const RingNode* Coordinator::self_node() {
  if (self_node_.id != view_.self_id) self_node_ = RingNode{.id = view_.self_id};
  return &self_node_;
}

std::pair<uint32_t, Coordinator::Operation&> Coordinator::acquire(Operation fresh) {
  uint32_t slot;
  if (free_slots_.empty()) {
    slot = static_cast<uint32_t>(pool_.size());
    pool_.emplace_back();
  } else {
    slot = free_slots_.back();
    free_slots_.pop_back();
  }
  Operation& op = pool_[slot];
  std::vector<Replica> replicas = std::move(op.replicas);
  std::vector<Requester> joined = std::move(op.joined);
  replicas.clear();
  joined.clear();
  op = std::move(fresh);
  op.replicas = std::move(replicas);
  op.joined = std::move(joined);
  return {slot, op};
}

void Coordinator::release(uint32_t slot) {
  Operation& op = pool_[slot];
  // Let go of the rings now (an old ring may be large), and of the value.
  op.ring.reset();
  op.future_ring.reset();
  op.previous_ring.reset();
  op.record = storage::Record{};
  free_slots_.push_back(slot);
}

void Coordinator::write(ClientId client, uint64_t request_id, std::string key, storage::Record record,
                        wire::Consistency level, Now now) {
  ++counters_.writes;
  if (join_open_write(client, request_id, key, record, level, now)) return;
  seal();
  const uint32_t slot = acquire(Operation{.is_write = true, .requester = {client, request_id, now.wall_us},
                                          .key = std::move(key), .level = level,
                                          .deadline_ms = now.monotonic_ms + config_.request_timeout_ms,
                                          .record = std::move(record), .have_record = true}).first;
  const uint64_t op_id = start_write(slot, now);
  if (op_id == 0) return;
  if (pool_[slot].hinted) return send_write(op_id, now.wall_us);  // the hints hold this record
  open_op_ = op_id;
  open_write_unsent_ = true;
}

bool Coordinator::join_open_write(ClientId client, uint64_t request_id, const std::string& key,
                                  storage::Record& record, wire::Consistency level, Now now) {
  if (!open_write_unsent_) return false;
  Operation& op = operation(open_op_);
  if (op.key != key || op.level != level || !(op.record.version < record.version)) return false;
  // The newer write takes the operation over; the one it hides is answered with it.
  op.joined.push_back(op.requester);
  op.joined.back().version = op.record.version;
  op.requester = Requester{client, request_id, now.wall_us};
  op.record = std::move(record);
  ++counters_.writes_coalesced;
  return true;
}

void Coordinator::send_write(uint64_t op_id, uint64_t sent_wall_us) {
  Operation& op = operation(op_id);
  for (uint32_t i = 0; i < op.replicas.size(); ++i) {
    op.replicas[i].contacted = true;
    const RingNode* target = op.replicas[i].hint_target;
    send(op_id, i, wire::ReplicaWriteRequest{op.key, to_wire(op.record), target ? target->id : std::string()},
         sent_wall_us);
  }
}

uint64_t Coordinator::start_write(uint32_t slot, Now now) {
  Operation& op = pool_[slot];
  const uint64_t position = storage::ring_position(op.key);
  op.ring = view_.ring;
  op.ring->preference_list(position, config_.replicas, natural_);
  const auto& natural = natural_;
  op.required = required_for(op.level, static_cast<uint32_t>(natural.size()));
  op.replicas.clear();
  down_.clear();
  for (const RingNode* node : natural) {
    if (view_.is_up(node->id)) {
      op.replicas.push_back(Replica{.node = node});
    } else {
      down_.push_back(node);
    }
  }
  add_pending_owners(op, position);
  const uint32_t up = static_cast<uint32_t>(op.replicas.size());  // natural and pending owners
  if (natural.empty() || (op.level != wire::Consistency::kAny && up < op.required)) {
    ++counters_.unavailable;
    reply(op, error(wire::ErrorCode::kUnavailable,
        level_name(op.level) + " needs " + std::to_string(op.required) + " of " +
        std::to_string(natural.size()) + " replicas" +
        (op.required > required_for(op.level, static_cast<uint32_t>(natural.size()))
             ? " (and one per owner the ring change in progress adds)"
             : "") +
        " alive, " + std::to_string(up) +
        " are; nothing was written" +
        (op.restamps > 0 ? " (this time: the write landed before its re-stamp)" : "")), now);
    release(slot);
    return 0;
  }
  // Every natural replica that is down gets a stand-in holding a hint for
  // it, unless it has been down past the hint window (it needs repair).
  for (const RingNode* node : down_) {
    auto since = view_.down_since_ms.find(node->id);
    if (since != view_.down_since_ms.end() &&
        now.monotonic_ms - since->second > config_.hint_window_ms) {
      continue;
    }
    const RingNode* stand_in = stand_in_for(position, op);
    // With no node to stand in, the coordinator keeps the hint itself.
    op.replicas.push_back(Replica{.node = stand_in ? stand_in : self_node(), .natural = false, .hint_target = node});
  }

  for (const RingNode* node : pending_down_) hint_owner(op, *node, now);
  add_previous_owners(op, position, now);

  const uint64_t op_id = next_op_id_++;
  operations_.add(op_id, slot);
  return op_id;
}

void Coordinator::restamp(uint64_t op_id, Now now) {
  // The write met a newer version: send it again above that one, as a new
  // operation (replies to the old one are then ignored). The old version may
  // stay where it landed; last write wins makes it harmless.
  const uint32_t old_slot = *operations_.find(op_id);
  Operation& old = pool_[old_slot];
  const uint64_t above = old.newer->timestamp_us + 1;
  // Acquired before the old slot is released, so it is another one.
  auto [slot, next] = acquire(Operation{.is_write = true, .requester = old.requester,
                                        .key = std::move(old.key), .level = old.level, .deadline_ms = old.deadline_ms,
                                        .record = std::move(old.record), .have_record = true,
                                        .restamps = old.restamps + 1});
  next.joined.swap(old.joined);  // the writes it took over are answered with it
  operations_.erase(op_id);
  release(old_slot);
  clock_.observe(above, now.wall_us);  // ignored when wildly ahead; the re-stamp is not
  next.record.version.timestamp_us = std::max(clock_.next(now.wall_us), above);
  ++counters_.writes_restamped;
  if (const uint64_t restamped = start_write(slot, now)) send_write(restamped, now.wall_us);
}

Coordinator::Replica* Coordinator::listed(Operation& op, const std::string& id) {
  for (Replica& r : op.replicas) {
    if ((r.natural || r.pending || r.previous) && r.node->id == id) return &r;
  }
  return nullptr;
}

void Coordinator::hint_owner(Operation& op, const RingNode& node, Now now) {
  if (node.id == view_.self_id) return;
  op.hinted = true;
  auto stored = store_.store_hint(node.id, op.key, op.record, now.wall_us);
  if (stored && *stored) ++counters_.hints_written;
}

void Coordinator::add_pending_owners(Operation& op, uint64_t position) {
  pending_down_.clear();
  if (!view_.changing()) return;
  op.future_ring = view_.future_ring;
  op.future_ring->preference_list(position, config_.replicas, owners_);
  for (const RingNode* node : owners_) {
    if (std::any_of(natural_.begin(), natural_.end(), [&](const RingNode* n) { return n->id == node->id; })) continue;
    // Every pending owner raises `required`, down ones too (Cassandra's
    // blockFor): otherwise a write acknowledged by a bare quorum of the old
    // owners, with the new one down, can miss a QUORUM read of the new ring
    // (new owner + an old owner that did not acknowledge). ANY promises no
    // quorum, so only the owners it can reach count there.
    if (!view_.is_up(node->id)) {
      pending_down_.push_back(node);
      if (op.level != wire::Consistency::kAny) ++op.required;
      continue;
    }
    op.replicas.push_back(Replica{.node = node, .natural = false, .pending = true});
    ++op.required;
  }
}

void Coordinator::add_previous_owners(Operation& op, uint64_t position, Now now) {
  // ANY promises no quorum at all: no joint quorum either.
  if (op.level == wire::Consistency::kAny) return;
  if (!view_.previous_ring || now.monotonic_ms >= view_.previous_until_ms) return;
  // Joint quorum: the write must also meet every read quorum among the
  // replicas of the previous ring, which other nodes may still read from.
  op.previous_ring = view_.previous_ring;
  op.previous_ring->preference_list(position, config_.replicas, owners_);
  const auto& previous = owners_;
  // Previous replicas known to be down do not count against it (their hints
  // carry the write), or every write would fail for the grace period after
  // a change while a node is down.
  const auto up_previous = static_cast<uint32_t>(
      std::count_if(previous.begin(), previous.end(), [&](const RingNode* n) { return view_.is_up(n->id); }));
  op.required_previous = std::min(intersecting_previous(op.level, static_cast<uint32_t>(previous.size())),
                                  up_previous);
  for (const RingNode* node : previous) {
    if (Replica* replica = listed(op, node->id)) {
      replica->previous = true;
    } else if (view_.is_up(node->id)) {
      op.replicas.push_back(Replica{.node = node, .natural = false, .previous = true});
    } else if (std::none_of(natural_.begin(), natural_.end(), [&](const RingNode* n) { return n->id == node->id; })) {
      hint_owner(op, *node, now);  // (a natural replica that is down has its stand-in already)
    }
  }
}

bool Coordinator::join_open_read(ClientId client, uint64_t request_id, const std::string& key,
                                 wire::Consistency level, Now now) {
  if (open_op_ == 0 || open_write_unsent_) return false;
  Operation& op = operation(open_op_);
  if (op.key != key || op.level != level) return false;
  op.joined.push_back(Requester{client, request_id, now.wall_us});
  ++counters_.reads_coalesced;
  return true;
}

void Coordinator::read(ClientId client, uint64_t request_id, std::string key, wire::Consistency level,
                       Now now) {
  ++counters_.reads;
  if (join_open_read(client, request_id, key, level, now)) return;
  seal();
  view_.ring->preference_list(storage::ring_position(key), config_.replicas, natural_);
  const auto& natural = natural_;
  auto [slot, op] = acquire(Operation{.is_write = false, .requester = {client, request_id, now.wall_us},
                                      .key = std::move(key), .level = level,
                                      .required = required_for(level, static_cast<uint32_t>(natural.size())),
                                      .deadline_ms = now.monotonic_ms + config_.request_timeout_ms,
                                      .ring = view_.ring});
  for (const RingNode* node : natural) {
    if (view_.is_up(node->id)) op.replicas.push_back(Replica{.node = node});
  }
  const uint32_t up = static_cast<uint32_t>(op.replicas.size());
  if (natural.empty() || up < op.required) {
    ++counters_.unavailable;
    reply(op, error(wire::ErrorCode::kUnavailable,
        level_name(level) + " needs " + std::to_string(op.required) + " of " +
        std::to_string(natural.size()) + " replicas alive, " + std::to_string(up) + " are"), now);
    release(slot);
    return;
  }
  // Ask only as many replicas as the level needs, this node first (its copy
  // costs no message); a replica that fails is replaced by the next one.
  // (This node is listed once at most; rotating it to the front keeps the
  // others in order without the buffer a stable_partition allocates.)
  const auto self = std::find_if(op.replicas.begin(), op.replicas.end(),
                                 [&](const Replica& r) { return r.node->id == view_.self_id; });
  if (self != op.replicas.end()) std::rotate(op.replicas.begin(), self, self + 1);
  const uint64_t op_id = next_op_id_++;
  operations_.add(op_id, slot);
  open_op_ = op_id;
  for (uint32_t i = 0; i < op.required; ++i) contact_for_read(op_id, i, now);
}

void Coordinator::contact_for_read(uint64_t op_id, size_t index, Now now) {
  Operation& op = operation(op_id);
  op.replicas[index].contacted = true;
  send(op_id, index, wire::ReplicaReadRequest{op.key}, now.wall_us);
}

void Coordinator::send(uint64_t op_id, size_t replica_index, wire::Body body, uint64_t sent_wall_us) {
  const Replica& replica = operation(op_id).replicas[replica_index];
  send_to(op_id, static_cast<uint32_t>(replica_index), replica.node->address, replica.node->id == view_.self_id,
          std::move(body), sent_wall_us);
}

void Coordinator::send_to(uint64_t op_id, uint32_t replica_index, const std::string& address, bool local,
                          wire::Body body, uint64_t sent_wall_us) {
  const PeerRoute route = ids_.next();
  const bool is_write = std::holds_alternative<wire::ReplicaWriteRequest>(body);
  sent_.add(route.id, Sent{.op_id = op_id, .sent_wall_us = sent_wall_us, .replica_index = replica_index,
                           .is_write = is_write, .local = local});
  // This node's own copy is served in the caller's group commit
  // (take_local_requests) and answered through handle_reply like a peer's.
  (local ? local_requests_ : peer_requests_).push_back(PeerRequest{route, address, std::move(body)});
}

bool Coordinator::handle_reply(uint64_t id, const std::expected<wire::Message, std::string>& reply,
                               Now now) {
  const Sent* found = sent_.find(id);
  if (found == nullptr) return false;
  const Sent sent = *found;
  sent_.erase(id);
  if (!sent.local) {  // replica round trips are the peers'
    const uint64_t micros = now.wall_us > sent.sent_wall_us ? now.wall_us - sent.sent_wall_us : 0;
    (sent.is_write ? latencies_.replica_writes : latencies_.replica_reads).record(micros);
  }
  const uint64_t op_id = sent.op_id;
  const size_t index = sent.replica_index;
  if (operations_.find(op_id) == nullptr) return true;  // a read repair, or an operation already done
  auto failure = [&] {
    if (!reply) return reply.error();
    if (const auto* refused = std::get_if<wire::ErrorReply>(&reply->body)) return refused->message;
    return std::string("unexpected reply");
  };
  Result result;
  const Operation& op = operation(op_id);
  if (op.is_write) {
    const auto* written = reply ? std::get_if<wire::ReplicaWriteReply>(&reply->body) : nullptr;
    result.ok = written != nullptr;
    if (written != nullptr && written->newer_timestamp_us != 0) {
      result.newer = storage::Version{written->newer_timestamp_us, written->newer_tiebreak};
    }
    const auto* refused = reply ? std::get_if<wire::ErrorReply>(&reply->body) : nullptr;
    if (refused != nullptr && refused->code == wire::ErrorCode::kInternal) result.storage_failure = refused->message;
    const Replica& replica = op.replicas[index];
    if (result.ok && replica.hint_target != nullptr && replica.node->id == view_.self_id) ++counters_.hints_written;
  } else {
    const auto* read = reply ? std::get_if<wire::ReplicaReadReply>(&reply->body) : nullptr;
    result.ok = read != nullptr;
    if (read != nullptr && read->found) result.read = from_wire(read->record);
  }
  if (!result.ok) result.failure = failure();
  on_replica_result(op_id, index, std::move(result), now);
  return true;
}

void Coordinator::on_replica_result(uint64_t op_id, size_t index, Result result, Now now) {
  Operation& op = operation(op_id);
  Replica& replica = op.replicas[index];
  assert(!replica.answered && "each replica answers once");
  replica.answered = true;
  replica.succeeded = result.ok;
  replica.storage_failure = std::move(result.storage_failure);
  replica.failure = std::move(result.failure);
  if (op.is_write && result.newer && (!op.newer || *op.newer < *result.newer)) op.newer = result.newer;
  if (!op.is_write && result.ok) {
    if (result.read) replica.read_version = result.read->version;
    if (result.read && (!op.have_record || op.record.version < result.read->version)) {
      op.record = std::move(*result.read);
      op.have_record = true;
    }
  }
  if (op.is_write && !result.ok) hint_locally(op, replica, now);
  if (!op.is_write && !result.ok) {
    for (size_t next = 0; next < op.replicas.size(); ++next) {
      if (op.replicas[next].contacted) continue;
      contact_for_read(op_id, next, now);
      break;
    }
  }
  progress(op_id, now);
}

void Coordinator::progress(uint64_t op_id, Now now) {
  Operation& op = operation(op_id);
  uint32_t counted = 0;
  uint32_t pending = 0;
  uint32_t counted_previous = 0;
  uint32_t pending_previous = 0;
  bool all_answered = true;
  for (const Replica& replica : op.replicas) {
    const bool counts = replica.natural || replica.pending || op.level == wire::Consistency::kAny ||
                        kPlantedBug == PlantedBug::kSloppy;
    if (!replica.answered) {
      all_answered = all_answered && !replica.contacted;
      if (counts) ++pending;
      if (replica.previous && replica.contacted) ++pending_previous;
    } else if (replica.succeeded) {
      if (counts) ++counted;
      if (replica.previous) ++counted_previous;
    }
  }
  // Both quorums: the level's, and the previous ring's during its grace.
  const bool succeeded = counted >= op.required && counted_previous >= op.required_previous;
  const bool failed = counted + pending < op.required ||
                      counted_previous + pending_previous < op.required_previous;
  if (!op.replied && succeeded && op.is_write && op.newer) {
    if (op.restamps < config_.max_restamps) {
      restamp(op_id, now);
      return;
    }
    ++counters_.writes_superseded;
    reply(op, error(wire::ErrorCode::kSuperseded,
                    "replicas kept holding newer versions of the key (re-stamped " +
                        std::to_string(op.restamps) +
                        " times): concurrent writers, or clocks far apart; the write may have landed "
                        "under an older version"), now);
  }
  if (!op.replied && succeeded) {
    if (op.is_write) {
      reply(op, wire::WriteReply{op.record.version.timestamp_us, op.record.version.tiebreak}, now);
    } else if (op.have_record) {
      reply(op, get_reply(op.record, now.wall_us), now);
    } else {
      reply(op, wire::GetReply{}, now);
    }
  } else if (!op.replied && failed) {
    // A replica's storage refused (disk full, I/O error): say so plainly.
    for (const Replica& replica : op.replicas) {
      if (replica.storage_failure.empty()) continue;
      reply(op, error(wire::ErrorCode::kInternal,
                      replica.storage_failure + " (on " +
                          (replica.node->id == view_.self_id ? std::string("this node") : replica.node->address) +
                          ")" + (counted > 0 ? "; the write landed on some replicas" : "")), now);
      break;
    }
  }
  if (!op.replied && failed) {
    // Before the deadline: replicas refused or could not be reached.
    ++counters_.failed;
    std::string why;
    for (const Replica& replica : op.replicas) {
      if (!replica.answered || replica.succeeded) continue;
      why += (why.empty() ? "" : "; ") +
             (replica.node->id == view_.self_id ? std::string("this node") : replica.node->address) + ": " +
             (replica.failure.empty() ? "failed" : replica.failure);
    }
    const bool previous_short = counted >= op.required;
    reply(op, error(wire::ErrorCode::kFailed,
                    level_name(op.level) + " " + (op.is_write ? "write" : "read") + " failed: " +
                        (previous_short
                             ? std::to_string(counted_previous) + " of " + std::to_string(op.required_previous) +
                                   " required replicas of the previous ring succeeded"
                             : std::to_string(counted) + " of " + std::to_string(op.required) +
                                   " required replicas succeeded") +
                        " (" + why + ")" + (op.is_write ? "; the write may still have landed" : "")), now);
  }
  if (all_answered) finish(op_id, now);
}

void Coordinator::finish(uint64_t op_id, Now now) {
  Operation& op = operation(op_id);
  if (!op.is_write && op.have_record) {
    // Read repair: bring every replica that answered with an older version
    // (or nothing) up to the newest.
    for (const Replica& replica : op.replicas) {
      if (!replica.answered || !replica.succeeded) continue;
      if (replica.read_version && !(*replica.read_version < op.record.version)) continue;
      ++counters_.read_repairs;
      if (replica.node->id == view_.self_id) {
        // Best effort, like every repair; a failure is counted (kv stats).
        if (!store_.apply(op.key, op.record)) ++counters_.read_repair_failures;
      } else {
        send_to(0, 0, replica.node->address, /*local=*/false, wire::ReplicaWriteRequest{op.key, to_wire(op.record), ""},
                now.wall_us);
      }
    }
  }
  if (op.is_write) {
    // Replicas that never answered may have missed the write: hint them.
    for (const Replica& replica : op.replicas) {
      if (replica.contacted && !replica.answered) hint_locally(op, replica, now);
    }
  }
  if (op_id == open_op_) open_op_ = 0;  // (an open write is sent before it can finish)
  const uint32_t slot = *operations_.find(op_id);
  operations_.erase(op_id);
  release(slot);
}

void Coordinator::hint_locally(const Operation& op, const Replica& replica, Now now) {
  // The node the write was meant for: the replica itself, or the one a
  // failed stand-in was covering. This node's own failures have no remedy.
  const bool own_copy = replica.natural || replica.pending || replica.previous;
  const std::string& target = own_copy ? replica.node->id : replica.hint_target->id;
  if (target == view_.self_id || (own_copy && replica.node->id == view_.self_id)) return;
  if constexpr (kPlantedBug == PlantedBug::kDropHints) return;
  auto stored = store_.store_hint(target, op.key, op.record, now.wall_us);
  if (stored && *stored) ++counters_.hints_written;
}

void Coordinator::reply(Operation& op, wire::Body body, Now now) {
  op.replied = true;
  // In arrival order: a read's own request came first, a write's last (it
  // took the earlier ones over).
  if (!op.is_write) reply_to(op, op.requester, body, now);
  const bool acknowledged = std::holds_alternative<wire::WriteReply>(body);
  for (const Requester& joined : op.joined) {
    // An acknowledged write is answered with its own version.
    reply_to(op, joined, acknowledged ? wire::WriteReply{joined.version.timestamp_us, joined.version.tiebreak} : body,
             now);
  }
  if (op.is_write) reply_to(op, op.requester, std::move(body), now);
}

void Coordinator::reply_to(const Operation& op, const Requester& requester, wire::Body body, Now now) {
  const uint64_t micros = now.wall_us > requester.started_wall_us ? now.wall_us - requester.started_wall_us : 0;
  const ClientOp client_op = !op.is_write ? ClientOp::kGet : op.record.tombstone ? ClientOp::kDelete : ClientOp::kPut;
  (op.is_write ? latencies_.writes : latencies_.reads).record(micros);
  latencies_.by_op[{client_op, op.level}].record(micros);
  replies_.push_back(Outgoing{requester.client, wire::Message{requester.request_id, std::move(body)}});
}

void Coordinator::tick(Now now) {
  // Oldest first, which is deadline order; expiring adds no operation.
  while (!operations_.empty()) {
    const uint64_t op_id = operations_.oldest_id();
    Operation& op = operation(op_id);
    if (op.deadline_ms > now.monotonic_ms) break;
    if (!op.replied) {
      ++counters_.timeouts;
      uint32_t counted = 0;
      for (const Replica& r : op.replicas) {
        counted += r.answered && r.succeeded &&
                   (r.natural || r.pending || op.level == wire::Consistency::kAny);
      }
      reply(op, error(wire::ErrorCode::kTimeout,
                      "only " + std::to_string(counted) + " of " + std::to_string(op.required) +
                          " required replicas answered within " +
                          std::to_string(config_.request_timeout_ms) + " ms" +
                          (op.is_write ? "; the write may still have landed" : "")), now);
    }
    finish(op_id, now);
  }
}

std::optional<membership::TimeMs> Coordinator::next_deadline() const {
  if (operations_.empty()) return std::nullopt;
  return pool_[*operations_.find(operations_.oldest_id())].deadline_ms;
}

namespace {

template <typename T>
void move_all(std::vector<T>& from, std::vector<T>& into) {
  if (into.empty()) {
    std::swap(from, into);  // `from` takes into's capacity
    return;
  }
  for (T& item : from) into.push_back(std::move(item));
  from.clear();
}

}  // namespace

void Coordinator::take_replies(std::vector<Outgoing>& into) { move_all(replies_, into); }
void Coordinator::seal() {
  // Timed from its newest write's arrival, as a write sent at once would be.
  if (open_op_ != 0 && open_write_unsent_) send_write(open_op_, operation(open_op_).requester.started_wall_us);
  open_op_ = 0;
  open_write_unsent_ = false;
}

std::vector<PeerRequest> Coordinator::take_peer_requests() {
  seal();
  return std::exchange(peer_requests_, {});
}
void Coordinator::take_local_requests(std::vector<PeerRequest>& into) { move_all(local_requests_, into); }

}  // namespace ringkv::core
