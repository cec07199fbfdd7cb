// Refusal: why sealed (or expected-to-be-sealed) internode traffic was
// dropped, and per-reason counters the I/O layer keeps and `kv stats` shows
// as `sealed_refused_<reason>`. A refusal never changes any state.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace ringkv::trust {

enum class Refusal {
  kNoKey,         // sealed traffic reached a node that holds no keyring
  kTruncated,     // shorter than the sealed header, nonce and tag
  kNotAuthentic,  // no installed key opens it (wrong key and tampering look alike)
  kReplayed,      // authentic, but already seen or older than the replay window
  kWrongVersion,  // a sealed format version this node does not speak
  kPlaintext,     // plaintext internode traffic where sealed traffic is required
};
constexpr size_t kRefusalKinds = 6;

// "no_key", "truncated", "not_authentic", "replayed", "wrong_version", "plaintext".
const char* to_string(Refusal refusal);

struct RefusalCounters {
  std::array<uint64_t, kRefusalKinds> counts{};

  void count(Refusal refusal) { ++counts[static_cast<size_t>(refusal)]; }
  uint64_t operator[](Refusal refusal) const { return counts[static_cast<size_t>(refusal)]; }
  // Appends `sealed_refused_<reason>` for every reason, zeros included.
  void add_stats(std::vector<std::pair<std::string, uint64_t>>& values) const;
};

}  // namespace ringkv::trust
