#include "node/trust/refusal.h"

namespace ringkv::trust {

const char* to_string(Refusal refusal) {
  switch (refusal) {
    case Refusal::kNoKey: return "no_key";
    case Refusal::kTruncated: return "truncated";
    case Refusal::kNotAuthentic: return "not_authentic";
    case Refusal::kReplayed: return "replayed";
    case Refusal::kWrongVersion: return "wrong_version";
    case Refusal::kPlaintext: return "plaintext";
  }
  return "unknown";
}

void RefusalCounters::add_stats(std::vector<std::pair<std::string, uint64_t>>& values) const {
  for (size_t i = 0; i < kRefusalKinds; ++i) {
    values.emplace_back(std::string("sealed_refused_") + to_string(static_cast<Refusal>(i)), counts[i]);
  }
}

}  // namespace ringkv::trust
