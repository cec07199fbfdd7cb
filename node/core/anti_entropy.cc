#include "node/core/anti_entropy.h"

#include <xxhash.h>

#include <algorithm>

#include "node/core/range_moves.h"

namespace ringkv::core {
namespace {

constexpr size_t kDigestScanEntries = 4096;
constexpr size_t kDigestScanBytes = 4 * 1024 * 1024;

uint64_t record_hash(const storage::Entry& entry) {
  const uint64_t fields[3] = {entry.record.version.timestamp_us, entry.record.version.tiebreak,
                              entry.record.tombstone ? 1u : 0u};
  const uint64_t key_hash = XXH64(entry.storage_key.data(), entry.storage_key.size(), 0);
  return XXH64(fields, sizeof(fields), key_hash);
}

}  // namespace

storage::Result<wire::RangeDigestReply> range_digest(storage::Engine& engine, PositionRange range,
                                                     uint64_t purge_before_us) {
  wire::RangeDigestReply digest;
  storage::ScanRange scan{range.begin, range.end, ""};
  while (true) {
    auto batch = engine.scan(scan, kDigestScanEntries, kDigestScanBytes);
    if (!batch) return std::unexpected(batch.error());
    for (const storage::Entry& entry : batch->entries) {
      // What compaction may already have purged here or there is left out, or
      // replicas that purged at different moments would differ forever.
      if (storage::purgeable(entry.record, purge_before_us)) continue;
      digest.digest += record_hash(entry);
      ++digest.count;
    }
    if (batch->done || batch->entries.empty()) return digest;
    scan.after_storage_key = batch->entries.back().storage_key;
  }
}

AntiEntropy::AntiEntropy(RepairConfig config, const ClusterView& view, ReplicaStore& store)
    : config_(config), view_(view), store_(store), streamer_(config.stream, view, store, PeerOwner::kRepairStream) {}

void AntiEntropy::tick(Now now, bool may_run) {
  streamer_.tick(now);
  const bool idle = items_.empty() && in_flight_.empty() && streamer_.done();
  if (round_running_ && idle) {
    round_running_ = false;
    ++rounds_completed_;
  }
  if (next_round_ms_ == 0) next_round_ms_ = now.monotonic_ms + config_.interval_ms;
  const bool due = (round_requested_ && now.monotonic_ms >= requested_at_ms_) ||
                   (config_.interval_ms != 0 && now.monotonic_ms >= next_round_ms_);
  if (idle && may_run && due) start_round(now);
  if (!may_run) {
    items_.clear();  // the ring is moving: this round's plan is stale
    return;
  }
  fill(now);
}

void AntiEntropy::start_round(Now now) {
  ++rounds_;
  round_running_ = true;
  round_requested_ = false;
  next_round_ms_ = now.monotonic_ms + config_.interval_ms;
  for (const SharedRange& shared : shared_ranges(*view_.ring, view_.self_id, config_.replicas)) {
    for (const PositionRange& part : scan_ranges(shared.range)) {
      for (const std::string& peer : shared.others) items_.push_back(Item{part, peer});
    }
  }
  std::reverse(items_.begin(), items_.end());  // taken from the back, in ring order
}

void AntiEntropy::fill(Now now) {
  (void)now;
  while (in_flight_.size() < config_.window && !items_.empty()) {
    Item item = std::move(items_.back());
    items_.pop_back();
    const RingNode* peer = view_.ring->find(item.peer);
    if (peer == nullptr || !view_.is_up(item.peer)) continue;  // the next round catches up
    const PeerRoute route = ids_.next();
    peer_requests_.push_back(PeerRequest{route, peer->address,
                                         wire::RangeDigestRequest{item.range.begin, item.range.end}});
    in_flight_.emplace(route.id, std::move(item));
  }
}

bool AntiEntropy::handle_reply(uint64_t id, const std::expected<wire::Message, std::string>& reply,
                               Now now) {
  auto it = in_flight_.find(id);
  if (it == in_flight_.end()) return false;
  Item item = std::move(it->second);
  in_flight_.erase(it);
  const auto* remote = reply ? std::get_if<wire::RangeDigestReply>(&reply->body) : nullptr;
  if (remote != nullptr) {
    const uint64_t purge_before = now.wall_us > config_.tombstone_grace_us ? now.wall_us - config_.tombstone_grace_us : 0;
    auto local = range_digest(store_.engine(), item.range, purge_before);
    ++ranges_compared_;
    if (!local) errors_.record("digest of a local range", local.error());
    if (local && (local->digest != remote->digest || local->count != remote->count)) {
      ++ranges_repaired_;
      streamer_.add({StreamTask{StreamTask::Kind::kPull, item.range, {item.peer}}}, now);
    }
  }
  fill(now);
  return true;
}

std::vector<PeerRequest> AntiEntropy::take_peer_requests() {
  for (PeerRequest& request : streamer_.take_peer_requests()) peer_requests_.push_back(std::move(request));
  return std::exchange(peer_requests_, {});
}

void AntiEntropy::add_stats(std::vector<std::pair<std::string, uint64_t>>& values) const {
  values.emplace_back("repair_rounds", rounds_);
  values.emplace_back("repair_rounds_completed", rounds_completed_);
  values.emplace_back("repair_storage_errors", errors_.count());
  values.emplace_back("repair_ranges_compared", ranges_compared_);
  values.emplace_back("repair_ranges_repaired", ranges_repaired_);
  values.emplace_back("repair_keys_pulled", streamer_.stats().keys_received);
}

}  // namespace ringkv::core
