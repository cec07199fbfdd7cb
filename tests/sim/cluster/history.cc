#include "tests/sim/cluster/history.h"

#include <cinttypes>
#include <cstdio>

namespace ringkv::cluster_sim {
namespace {

// FNV-1a: fixed by definition, so values are the same with any standard library.
uint64_t fnv1a(std::string_view bytes) {
  uint64_t hash = 0xcbf29ce484222325ull;
  for (unsigned char c : bytes) {
    hash ^= c;
    hash *= 0x100000001b3ull;
  }
  return hash;
}

std::string hex(uint64_t value) {
  char text[17];
  std::snprintf(text, sizeof(text), "%016" PRIx64, value);
  return text;
}

}  // namespace

std::string_view outcome_name(Outcome outcome) {
  switch (outcome) {
    case Outcome::kPending:
      return "pending";
    case Outcome::kOk:
      return "ok";
    case Outcome::kFail:
      return "fail";
    case Outcome::kInfo:
      return "info";
  }
  return "?";
}

std::string describe(const Op& op) {
  char times[96];
  std::snprintf(times, sizeof(times), "[%.3f s .. %.3f s]",
                static_cast<double>(op.start_us) / kUsPerS,
                static_cast<double>(op.end_us) / kUsPerS);
  std::string text = (op.kind == OpKind::kPut ? "put " : "get ") + op.key + " via n" +
                     std::to_string(op.coordinator) + " " + times + " " +
                     std::string(outcome_name(op.outcome));
  if (op.outcome == Outcome::kOk) {
    if (op.kind == OpKind::kGet && !op.found) {
      text += " not found";
    } else {
      text +=
          " version " + std::to_string(op.version.timestamp_us) + "/" + hex(op.version.tiebreak);
    }
  }
  if (!op.detail.empty()) text += " (" + op.detail + ")";
  return text;
}

std::string make_value(const std::string& key, uint64_t nonce) {
  // Sizes vary from a few bytes to a few hundred, as real values do.
  std::string payload = hex(nonce) + std::string(nonce % 200, static_cast<char>('a' + nonce % 26));
  return payload + ":" + hex(fnv1a(key + "|" + payload));
}

bool value_checks(const std::string& key, const std::string& value) {
  const size_t colon = value.rfind(':');
  if (colon == std::string::npos) return false;
  return value.substr(colon + 1) == hex(fnv1a(key + "|" + value.substr(0, colon)));
}

size_t History::begin(Op op) {
  if (op.kind == OpKind::kPut) put_index_[op.key] = ops_.size();
  ops_.push_back(std::move(op));
  return ops_.size() - 1;
}

uint64_t History::digest() const {
  std::string text;
  for (const Op& op : ops_) {
    text += std::to_string(static_cast<int>(op.kind)) + op.key + "=" + op.value + "@" +
            std::to_string(op.coordinator) + ":" + std::to_string(op.start_us) + "-" +
            std::to_string(op.end_us) + std::string(outcome_name(op.outcome)) +
            std::to_string(op.version.timestamp_us) + "/" + std::to_string(op.version.tiebreak) +
            (op.found ? "f" : "n") + ";";
  }
  return fnv1a(text);
}

const Op* History::put_of(const std::string& key) const {
  auto it = put_index_.find(key);
  return it == put_index_.end() ? nullptr : &ops_[it->second];
}

}  // namespace ringkv::cluster_sim
