#include "node/core/cluster_settings.h"

#include <array>
#include <charconv>
#include <utility>

namespace ringkv::core {
namespace {

// The settings in their wire order, with how to read each one.
struct Field {
  std::string_view name;
  uint64_t (*get)(const ClusterSettings&);
  void (*set)(ClusterSettings&, uint64_t);
};

constexpr std::array<Field, 4> kFields{{
    {"replicas", [](const ClusterSettings& s) -> uint64_t { return s.replicas; },
     [](ClusterSettings& s, uint64_t v) { s.replicas = static_cast<uint32_t>(v); }},
    {"tombstone_grace_s", [](const ClusterSettings& s) { return s.tombstone_grace_s; },
     [](ClusterSettings& s, uint64_t v) { s.tombstone_grace_s = v; }},
    {"hint_window_s", [](const ClusterSettings& s) { return s.hint_window_s; },
     [](ClusterSettings& s, uint64_t v) { s.hint_window_s = v; }},
    {"hint_ttl_s", [](const ClusterSettings& s) { return s.hint_ttl_s; },
     [](ClusterSettings& s, uint64_t v) { s.hint_ttl_s = v; }},
}};

constexpr uint32_t kReplicasMax = 15;

}  // namespace

std::string ClusterSettings::validate() const {
  if (replicas < 1 || replicas > kReplicasMax) {
    return "replicas must be 1.." + std::to_string(kReplicasMax) + " (got " + std::to_string(replicas) + ")";
  }
  if (hint_ttl_s >= tombstone_grace_s) {
    return "hints must expire before tombstones may be purged: hint TTL " + std::to_string(hint_ttl_s) +
           " s is not below the tombstone grace " + std::to_string(tombstone_grace_s) +
           " s (a late hint could bring a deleted value back)";
  }
  if (hint_window_s > hint_ttl_s) {
    return "the hint window (" + std::to_string(hint_window_s) + " s) must not exceed the hint TTL (" +
           std::to_string(hint_ttl_s) + " s)";
  }
  return "";
}

std::string ClusterSettings::encode() const {
  std::string out;
  for (const Field& field : kFields) {
    if (!out.empty()) out += ' ';
    out += std::string(field.name) + '=' + std::to_string(field.get(*this));
  }
  return out;
}

std::expected<ClusterSettings, std::string> ClusterSettings::decode(std::string_view text) {
  ClusterSettings settings;
  for (const Field& field : kFields) {
    while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
    const std::string prefix = std::string(field.name) + '=';
    if (!text.starts_with(prefix)) return std::unexpected("expected " + prefix);
    text.remove_prefix(prefix.size());
    uint64_t value = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc{} || end == text.data()) return std::unexpected("bad value for " + std::string(field.name));
    field.set(settings, value);
    text.remove_prefix(static_cast<size_t>(end - text.data()));
  }
  if (!text.empty()) return std::unexpected("unexpected text after the settings");
  return settings;
}

std::string first_difference(const ClusterSettings& ours, std::string_view theirs) {
  const auto decoded = ClusterSettings::decode(theirs);
  if (!decoded) return "this node has \"" + ours.encode() + "\", the cluster \"" + std::string(theirs) + "\"";
  for (const Field& field : kFields) {
    if (field.get(ours) != field.get(*decoded)) {
      return std::string(field.name) + ": this node " + std::to_string(field.get(ours)) + ", the cluster " +
             std::to_string(field.get(*decoded));
    }
  }
  return "";
}

}  // namespace ringkv::core
