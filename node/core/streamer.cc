#include "node/core/streamer.h"

#include <algorithm>
#include <cassert>

#include "storage/storage_key.h"

namespace ringkv::core {
namespace {

// A batch never grows past what one frame carries (node/wire/limits.h): a
// maximal value and key alone still fit.
constexpr size_t kEntryOverheadBytes = 32;
constexpr size_t kBatchBytesCap = 4 * 1024 * 1024;
constexpr size_t kBatchEntriesMax = 16384;  // well under the decoder's element limit

size_t entry_bytes(const wire::StreamEntry& entry) {
  return entry.key.size() + entry.record.value.size() + kEntryOverheadBytes;
}

}  // namespace

storage::Result<wire::StreamReadReply> read_stream_batch(storage::Engine& engine, PositionRange range,
                                                         const std::string& cursor, uint32_t max_bytes) {
  const size_t budget = std::clamp<size_t>(max_bytes, 1, kBatchBytesCap);
  auto scanned = engine.scan(storage::ScanRange{range.begin, range.end, cursor}, kBatchEntriesMax, budget);
  if (!scanned) return std::unexpected(scanned.error());
  wire::StreamReadReply reply;
  reply.done = scanned->done;
  size_t bytes = 0;
  for (storage::Entry& entry : scanned->entries) {
    uint64_t position = 0;
    std::string_view key;
    if (!storage::split_storage_key(entry.storage_key, position, key) || key.empty()) continue;
    wire::StreamEntry out{std::string(key), to_wire(entry.record)};
    // The scan stops after the entry that reaches the budget; a large one
    // that would overflow the frame waits for the next batch.
    if (!reply.entries.empty() && bytes + entry_bytes(out) > budget) {
      reply.done = false;
      break;
    }
    bytes += entry_bytes(out);
    reply.entries.push_back(std::move(out));
  }
  return reply;
}

storage::Status apply_stream_batch(storage::Engine& engine, const std::vector<wire::StreamEntry>& entries) {
  if (entries.empty()) return {};
  std::vector<std::pair<std::string, storage::Record>> batch;
  batch.reserve(entries.size());
  for (const wire::StreamEntry& entry : entries) batch.emplace_back(entry.key, from_wire(entry.record));
  return engine.write(batch);
}

Streamer::Streamer(StreamConfig config, const ClusterView& view, ReplicaStore& store, PeerOwner owner)
    : config_(config), view_(view), store_(store), ids_(owner) {}

void Streamer::add(std::vector<StreamTask> tasks, Now now) {
  if (remaining_ == 0) {
    stats_.started_ms = now.monotonic_ms;
    stats_.finished_ms = 0;
  }
  for (StreamTask& spec : tasks) {
    const size_t peers = spec.peers.size();
    tasks_.push_back(Task{.spec = std::move(spec)});
    tasks_.back().cursors.assign(peers, "");
    tasks_.back().finished.assign(peers, false);
    ++remaining_;
    ++stats_.tasks_total;
  }
}

void Streamer::clear() {
  tasks_.clear();
  in_flight_tasks_.clear();
  remaining_ = 0;
  in_flight_ = 0;
}

void Streamer::tick(Now now) {
  for (size_t i = 0; i < tasks_.size() && in_flight_ < config_.window; ++i) {
    Task& task = tasks_[i];
    if (task.done || task.in_flight || task.retry_at_ms > now.monotonic_ms) continue;
    send(i, now);
  }
  // Completed tasks at the front are forgotten (their stats stay).
  if (remaining_ == 0 && !tasks_.empty()) {
    tasks_.clear();
    stats_.finished_ms = now.monotonic_ms;
  }
}

void Streamer::send(size_t index, Now now) {
  Task& task = tasks_[index];
  const std::string& peer_id = task.spec.peers[task.peer];
  const RingNode* peer = view_.find(peer_id);
  if (peer == nullptr || !view_.is_up(peer_id) || peer_id == view_.self_id) {
    fail(index, now);
    return;
  }
  wire::Body body;
  if (task.spec.kind == StreamTask::Kind::kPull) {
    body = wire::StreamReadRequest{task.spec.range.begin, task.spec.range.end, task.cursor,
                                   config_.batch_bytes};
  } else {
    auto batch = read_stream_batch(store_.engine(), task.spec.range, task.cursor, config_.batch_bytes);
    if (!batch) {
      fail(index, now);
      return;
    }
    if (batch->entries.empty()) {
      complete(index, now);
      return;
    }
    task.batch_end = storage::storage_key(batch->entries.back().key);
    task.batch_last = batch->done;
    for (const auto& entry : batch->entries) {
      ++stats_.keys_sent;
      stats_.bytes_sent += entry.key.size() + entry.record.value.size();
    }
    body = wire::StreamWriteRequest{std::move(batch->entries)};
  }
  const PeerRoute route = ids_.next();
  in_flight_tasks_.emplace(route.id, index);
  task.in_flight = true;
  ++in_flight_;
  peer_requests_.push_back(PeerRequest{route, peer->address, std::move(body)});
}

void Streamer::fail(size_t index, Now now) {
  Task& task = tasks_[index];
  ++stats_.failed_batches;
  next_source(task);  // a pull tries another source; a push has one target
  task.retry_at_ms = now.monotonic_ms + config_.retry_ms;
  // Every peer it still needs left the ring for good (a source decommissioned
  // or removed meanwhile): the task can never complete, and waiting for it
  // would hold every later change and cleanup (cluster_sim mixed seed 346).
  // Abandoned; anti-entropy, which runs after every removal, compares the
  // range with the replicas that remain.
  bool reachable = false;
  for (size_t i = 0; i < task.spec.peers.size(); ++i) {
    const bool finished = task.spec.kind == StreamTask::Kind::kPull && task.finished[i];
    if (!finished && !view_.left.contains(task.spec.peers[i])) reachable = true;
  }
  if (!reachable ||
      (config_.attempts_max != 0 && ++task.failures >= config_.attempts_max)) {
    ++stats_.tasks_abandoned;
    complete(index, now);
  }
}

void Streamer::next_source(Task& task) {
  const size_t count = task.spec.peers.size();
  if (task.spec.kind != StreamTask::Kind::kPull || count <= 1) return;
  task.cursors[task.peer] = task.cursor;
  for (size_t step = 1; step <= count; ++step) {
    const size_t candidate = (task.peer + step) % count;
    if (task.finished[candidate]) continue;
    task.peer = candidate;
    break;
  }
  task.cursor = task.cursors[task.peer];
}

void Streamer::complete(size_t index, Now now) {
  Task& task = tasks_[index];
  if (task.done) return;
  task.done = true;
  ++stats_.tasks_done;
  if (--remaining_ == 0) stats_.finished_ms = now.monotonic_ms;
}

bool Streamer::handle_reply(uint64_t id, const std::expected<wire::Message, std::string>& reply,
                            Now now) {
  auto it = in_flight_tasks_.find(id);
  if (it == in_flight_tasks_.end()) return false;
  const size_t index = it->second;
  in_flight_tasks_.erase(it);
  assert(index < tasks_.size() && "a batch in flight belongs to a task");
  Task& task = tasks_[index];
  task.in_flight = false;
  --in_flight_;
  if (task.done) return true;  // abandoned meanwhile
  if (task.spec.kind == StreamTask::Kind::kPull) {
    const auto* batch = reply ? std::get_if<wire::StreamReadReply>(&reply->body) : nullptr;
    if (batch == nullptr || !apply_stream_batch(store_.engine(), batch->entries)) {
      fail(index, now);
    } else {
      for (const auto& entry : batch->entries) {
        ++stats_.keys_received;
        stats_.bytes_received += entry.key.size() + entry.record.value.size();
      }
      task.failures = 0;
      if (!batch->entries.empty()) task.cursor = storage::storage_key(batch->entries.back().key);
      if (batch->done) {
        task.finished[task.peer] = true;
        const auto whole = static_cast<size_t>(std::count(task.finished.begin(), task.finished.end(), true));
        if (whole >= std::min(task.spec.sources_needed, task.spec.peers.size())) {
          complete(index, now);
        } else {
          next_source(task);
        }
      }
    }
  } else {
    const bool ok = reply && std::holds_alternative<wire::StreamWriteReply>(reply->body);
    if (!ok) {
      fail(index, now);
    } else {
      task.failures = 0;
      task.cursor = task.batch_end;
      if (task.batch_last) complete(index, now);
    }
  }
  // Keep the pipe full: the next batch of this task (or another) goes now.
  tick(now);
  return true;
}

std::vector<PeerRequest> Streamer::take_peer_requests() { return std::exchange(peer_requests_, {}); }

uint64_t Streamer::rate_bytes_per_s(Now now) const {
  const membership::TimeMs end = stats_.finished_ms != 0 ? stats_.finished_ms : now.monotonic_ms;
  const uint64_t bytes = stats_.bytes_received + stats_.bytes_sent;
  if (stats_.started_ms == 0 || end <= stats_.started_ms) return 0;
  return bytes * 1000 / (end - stats_.started_ms);
}

}  // namespace ringkv::core
