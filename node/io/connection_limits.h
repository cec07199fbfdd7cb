// ConnectionLimits: the bounds every listening port applies to its
// connections (issue 11 item 7): at most connections_max open at once (one
// over the cap is answered with a clear error and closed, and counted), and
// a connection that sends nothing for idle_timeout_ms is closed (counted).
// The Listener also stops reading a connection whose unsent replies exceed
// unsent_bytes_max (backpressure, listener.h; issue 13 item 3).
//
// Pure bookkeeping: the server reports accepts, input and closes with the
// time as a value, and asks which connections are idle. The loop's thread
// only. Bounded by connections_max.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace ringkv::io {

struct ConnectionLimitsConfig {
  size_t connections_max = 1024;      // --max-connections (per port)
  uint64_t idle_timeout_ms = 300'000;  // --idle-timeout-s x 1000; 0: never
  // Unsent reply bytes above which a connection is not read until they fall
  // under half of it (--max-connection-unsent-kib x 1024). Bounds what a
  // client that does not read its replies can make the node hold.
  size_t unsent_bytes_max = 1 << 20;
};

class ConnectionLimits {
 public:
  explicit ConnectionLimits(ConnectionLimitsConfig config) : config_(config) {}

  // True when connection `id` may stay open (and is then tracked); false
  // over the cap (counted: the caller answers with the error and closes).
  bool admit(uint64_t id, uint64_t now_ms);
  // Input arrived on `id`.
  void touch(uint64_t id, uint64_t now_ms);
  void closed(uint64_t id) { last_input_ms_.erase(id); }
  // True when connection `id` sent nothing for `quiet_ms`.
  bool quiet_for(uint64_t id, uint64_t now_ms, uint64_t quiet_ms) const {
    auto it = last_input_ms_.find(id);
    return it == last_input_ms_.end() || now_ms - it->second >= quiet_ms;
  }
  // Connections with no input for idle_timeout_ms (counted once each; the
  // caller closes them, then reports closed()).
  std::vector<uint64_t> take_idle(uint64_t now_ms);

  size_t open() const { return last_input_ms_.size(); }
  const ConnectionLimitsConfig& config() const { return config_; }
  uint64_t refused_over_cap() const { return refused_over_cap_; }
  uint64_t closed_idle() const { return closed_idle_; }
  // `<prefix>connections_open`, `..._refused_over_cap`, `..._closed_idle`.
  void add_stats(const std::string& prefix, std::vector<std::pair<std::string, uint64_t>>& values) const;

 private:
  ConnectionLimitsConfig config_;
  std::unordered_map<uint64_t, uint64_t> last_input_ms_;
  uint64_t refused_over_cap_ = 0;
  uint64_t closed_idle_ = 0;
};

}  // namespace ringkv::io
