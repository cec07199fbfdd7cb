#include "node/io/connection_limits.h"

namespace ringkv::io {

bool ConnectionLimits::admit(uint64_t id, uint64_t now_ms) {
  if (last_input_ms_.size() >= config_.connections_max) {
    ++refused_over_cap_;
    return false;
  }
  last_input_ms_[id] = now_ms;
  return true;
}

void ConnectionLimits::touch(uint64_t id, uint64_t now_ms) {
  auto it = last_input_ms_.find(id);
  if (it != last_input_ms_.end()) it->second = now_ms;
}

std::vector<uint64_t> ConnectionLimits::take_idle(uint64_t now_ms) {
  std::vector<uint64_t> idle;
  if (config_.idle_timeout_ms == 0) return idle;
  for (auto& [id, last_ms] : last_input_ms_) {
    if (now_ms >= last_ms + config_.idle_timeout_ms) {
      idle.push_back(id);
      last_ms = UINT64_MAX - config_.idle_timeout_ms;  // reported once; closed() follows
    }
  }
  closed_idle_ += idle.size();
  return idle;
}

void ConnectionLimits::add_stats(const std::string& prefix,
                                 std::vector<std::pair<std::string, uint64_t>>& values) const {
  values.emplace_back(prefix + "connections_open", open());
  values.emplace_back(prefix + "connections_refused_over_cap", refused_over_cap_);
  values.emplace_back(prefix + "connections_closed_idle", closed_idle_);
}

}  // namespace ringkv::io
