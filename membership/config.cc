#include "membership/config.h"

#include "membership/member.h"

#include <utility>

namespace ringkv::membership {

namespace {

constexpr std::size_t kClusterNameBytesMax = 64;
// Big enough for the largest update and datagram header (see codec.h), small enough for UDP.
constexpr std::size_t kDatagramBytesMin = 1024;
constexpr std::size_t kDatagramBytesMax = 65507;

}  // namespace

std::expected<void, std::string> Config::validate() const {
  auto fail = [](std::string message) { return std::unexpected(std::move(message)); };
  if (cluster_name.empty() || cluster_name.size() > kClusterNameBytesMax) {
    return fail("cluster_name must be 1.." + std::to_string(kClusterNameBytesMax) + " bytes");
  }
  if (settings.size() > kSettingsBytesMax) {
    return fail("settings must be at most " + std::to_string(kSettingsBytesMax) + " bytes");
  }
  if (probe_interval_ms <= 0 || probe_timeout_ms <= 0) {
    return fail("probe_interval_ms and probe_timeout_ms must be positive");
  }
  if (probe_timeout_ms >= probe_interval_ms) {
    return fail("probe_timeout_ms must be below probe_interval_ms, so a probe can go indirect");
  }
  if (suspicion_mult < 1 || suspicion_max_timeout_mult < 1) {
    return fail("suspicion_mult and suspicion_max_timeout_mult must be at least 1");
  }
  if (awareness_max_multiplier < 1 || awareness_max_multiplier > 64) {
    return fail("awareness_max_multiplier must be 1..64");
  }
  if (gossip_interval_ms <= 0 || gossip_nodes < 1 || gossip_to_dead_ms < 0) {
    return fail("gossip_interval_ms and gossip_nodes must be positive");
  }
  if (retransmit_mult < 1) return fail("retransmit_mult must be at least 1");
  if (push_pull_interval_ms <= 0 || reconnect_interval_ms <= 0) {
    return fail("push_pull_interval_ms and reconnect_interval_ms must be positive");
  }
  if (join_retry_initial_ms <= 0 || join_retry_max_ms < join_retry_initial_ms) {
    return fail("need 0 < join_retry_initial_ms <= join_retry_max_ms");
  }
  if (leave_propagate_max_ms < 0) return fail("leave_propagate_max_ms must not be negative");
  if (max_clock_offset_ms <= 0 || clock_offset_warning_interval_ms <= 0) {
    return fail("max_clock_offset_ms and clock_offset_warning_interval_ms must be positive");
  }
  if (datagram_bytes_max < kDatagramBytesMin || datagram_bytes_max > kDatagramBytesMax) {
    return fail("datagram_bytes_max must be " + std::to_string(kDatagramBytesMin) + ".." +
                std::to_string(kDatagramBytesMax));
  }
  if (members_max < 1 || members_max > 1'000'000) return fail("members_max must be 1..1000000");
  if (push_pull_bytes_max < datagram_bytes_max) {
    return fail("push_pull_bytes_max must be at least datagram_bytes_max");
  }
  if (relays_max < 1 || outgoing_max < 16) {
    return fail("relays_max must be at least 1 and outgoing_max at least 16");
  }
  return {};
}

}  // namespace ringkv::membership
