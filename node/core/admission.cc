#include "node/core/admission.h"

#include <cassert>

namespace ringkv::core {

std::string AdmissionConfig::validate() const {
  if (requests_inflight_max == 0) return "max-inflight-requests must be positive";
  if (bytes_inflight_max == 0) return "max-inflight-bytes must be positive";
  if (connection_requests_inflight_max == 0) return "max-connection-inflight-requests must be positive";
  if (connection_bytes_inflight_max == 0) return "max-connection-inflight-bytes must be positive";
  if (connection_requests_inflight_max > requests_inflight_max) {
    return "max-connection-inflight-requests must not exceed max-inflight-requests";
  }
  if (connection_bytes_inflight_max > bytes_inflight_max) {
    return "max-connection-inflight-bytes must not exceed max-inflight-bytes";
  }
  return "";
}

std::optional<Bound> Admission::admit(ClientId client, uint64_t request_id, uint64_t bytes) {
  std::optional<Bound> over;
  const Usage* connection = nullptr;
  if (auto it = connections_.find(client); it != connections_.end()) connection = &it->second;
  // A request alone in its scope passes whatever its size (header).
  if (requests_inflight_ >= config_.requests_inflight_max) {
    over = Bound::kNodeRequests;
  } else if (requests_inflight_ > 0 && bytes_inflight_ + bytes > config_.bytes_inflight_max) {
    over = Bound::kNodeBytes;
  } else if (connection && connection->requests >= config_.connection_requests_inflight_max) {
    over = Bound::kConnectionRequests;
  } else if (connection && connection->bytes + bytes > config_.connection_bytes_inflight_max) {
    over = Bound::kConnectionBytes;
  }
  if (over) {
    ++refused_;
    ++refused_by_[static_cast<size_t>(*over)];
    return over;
  }
  insert(Entry{client, request_id, bytes, true});
  Usage& usage = connections_[client];
  ++usage.requests;
  usage.bytes += bytes;
  bytes_inflight_ += bytes;
  return std::nullopt;
}

void Admission::release(ClientId client, uint64_t request_id) {
  if (requests_inflight_ == 0) return;
  const size_t mask = entries_.size() - 1;
  size_t slot = home_slot(client, request_id);
  for (; entries_[slot].used; slot = (slot + 1) & mask) {
    if (entries_[slot].client == client && entries_[slot].request_id == request_id) break;
  }
  if (!entries_[slot].used) return;  // not admitted here
  const uint64_t bytes = entries_[slot].bytes;
  erase_slot(slot);
  auto connection = connections_.find(client);
  assert(connection != connections_.end() && connection->second.requests > 0 &&
         "an admitted request is counted on its connection");
  assert(bytes_inflight_ >= bytes && connection->second.bytes >= bytes && "released bytes were admitted");
  bytes_inflight_ -= bytes;
  connection->second.bytes -= bytes;
  if (--connection->second.requests == 0) connections_.erase(connection);
}

size_t Admission::home_slot(ClientId client, uint64_t request_id) const {
  // Fibonacci hashing: the top bits of the product are well mixed.
  const uint64_t mixed = (client * 0x9E3779B97F4A7C15ull ^ request_id) * 0x9E3779B97F4A7C15ull;
  return static_cast<size_t>(mixed >> 32) & (entries_.size() - 1);
}

void Admission::insert(const Entry& entry) {
  if (2 * (requests_inflight_ + 1) > entries_.size()) {
    // At most half full, so probe runs stay short: double and re-place.
    std::vector<Entry> old = std::exchange(entries_, std::vector<Entry>(entries_.empty() ? 64 : 2 * entries_.size()));
    requests_inflight_ = 0;
    for (const Entry& kept : old) {
      if (kept.used) insert(kept);
    }
  }
  const size_t mask = entries_.size() - 1;
  size_t slot = home_slot(entry.client, entry.request_id);
  while (entries_[slot].used) slot = (slot + 1) & mask;
  entries_[slot] = entry;
  ++requests_inflight_;
}

void Admission::erase_slot(size_t slot) {
  // Backward-shift deletion: an entry after the hole moves into it unless
  // its home slot lies cyclically in (hole, its slot], so every entry stays
  // reachable from its home slot without tombstones.
  const size_t mask = entries_.size() - 1;
  size_t hole = slot;
  for (size_t next = (hole + 1) & mask; entries_[next].used; next = (next + 1) & mask) {
    const size_t home = home_slot(entries_[next].client, entries_[next].request_id);
    const bool stays = hole <= next ? (hole < home && home <= next) : (hole < home || home <= next);
    if (stays) continue;
    entries_[hole] = entries_[next];
    hole = next;
  }
  entries_[hole] = Entry{};
  --requests_inflight_;
}

std::string Admission::describe(Bound bound) const {
  switch (bound) {
    case Bound::kNodeRequests:
      return "node overloaded: " + std::to_string(config_.requests_inflight_max) +
             " client requests in flight, the cap (--max-inflight-requests); retry later";
    case Bound::kNodeBytes:
      return "node overloaded: " + std::to_string(bytes_inflight_ >> 10) +
             " KiB of client requests in flight, the cap is " + std::to_string(config_.bytes_inflight_max >> 10) +
             " KiB (--max-inflight-bytes-mib); retry later";
    case Bound::kConnectionRequests:
      return "connection overloaded: " + std::to_string(config_.connection_requests_inflight_max) +
             " requests in flight on it, the cap (--max-connection-inflight-requests); wait for replies";
    case Bound::kConnectionBytes:
      return "connection overloaded: its requests in flight would exceed " +
             std::to_string(config_.connection_bytes_inflight_max >> 10) +
             " KiB (--max-connection-inflight-bytes-mib); wait for replies";
  }
  return "overloaded";
}

void Admission::add_stats(std::vector<std::pair<std::string, uint64_t>>& values) const {
  values.emplace_back("requests_shed_busy", refused_);
  values.emplace_back("requests_shed_node_requests", refused_by(Bound::kNodeRequests));
  values.emplace_back("requests_shed_node_bytes", refused_by(Bound::kNodeBytes));
  values.emplace_back("requests_shed_connection_requests", refused_by(Bound::kConnectionRequests));
  values.emplace_back("requests_shed_connection_bytes", refused_by(Bound::kConnectionBytes));
  values.emplace_back("client_requests_inflight", requests_inflight_);
  values.emplace_back("client_bytes_inflight", bytes_inflight_);
}

}  // namespace ringkv::core
