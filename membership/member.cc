#include "membership/member.h"

#include <algorithm>

#include "membership/check.h"

namespace ringkv::membership {

std::string_view to_string(Liveness liveness) {
  switch (liveness) {
    case Liveness::kAlive:
      return "alive";
    case Liveness::kSuspect:
      return "suspect";
    case Liveness::kDead:
      return "dead";
    case Liveness::kLeft:
      return "left";
  }
  return "unknown";
}

std::string_view to_string(RingStatus status) {
  switch (status) {
    case RingStatus::kJoining:
      return "joining";
    case RingStatus::kNormal:
      return "normal";
    case RingStatus::kLeaving:
      return "leaving";
    case RingStatus::kWaiting:
      return "waiting";
  }
  return "unknown";
}

int liveness_rank(Liveness liveness) { return static_cast<int>(liveness); }

bool supersedes(const Member& update, const Member& current) {
  MEMBERSHIP_CHECK(update.id == current.id, "records are merged only for the same node id");
  if (update.incarnation != current.incarnation) {
    return update.incarnation > current.incarnation;
  }
  return liveness_rank(update.liveness) > liveness_rank(current.liveness);
}

bool attributes_differ(const Member& a, const Member& b) {
  return a.name != b.name || a.address != b.address || a.ring_status != b.ring_status ||
         a.vnode_count != b.vnode_count || a.protocol_version != b.protocol_version ||
         a.rack != b.rack;
}

uint64_t initial_incarnation(uint32_t generation) {
  MEMBERSHIP_CHECK(generation <= kGenerationMax, "a generation starts below kIncarnationMax");
  return uint64_t{generation} << 32;
}

uint64_t next_incarnation(uint64_t current) {
  return current < kIncarnationMax ? current + 1 : kIncarnationMax;
}

bool is_valid_address(std::string_view address) {
  if (address.empty() || address.size() > kAddressBytesMax) return false;
  const std::size_t colon = address.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  const std::string_view host = address.substr(0, colon);
  const std::string_view port = address.substr(colon + 1);
  if (host.front() == '[' && host.back() != ']') return false;
  if (port.empty() || port.size() > 5) return false;
  uint32_t value = 0;
  for (char c : port) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + static_cast<uint32_t>(c - '0');
  }
  return value >= 1 && value <= 65535;
}

std::expected<void, std::string> validate_member(const Member& member) {
  if (member.id.size() != kNodeIdBytes) return std::unexpected("node id must be 16 bytes");
  if (member.name.empty() || member.name.size() > kNameBytesMax) {
    return std::unexpected("name must be 1..128 bytes");
  }
  if (!is_valid_address(member.address)) {
    return std::unexpected("address must be HOST:PORT: " + member.address);
  }
  if (static_cast<uint8_t>(member.liveness) > kLivenessMax ||
      static_cast<uint8_t>(member.ring_status) > kRingStatusMax) {
    return std::unexpected("liveness or ring status out of range");
  }
  if (member.vnode_count > kVnodeCountMax) return std::unexpected("vnode count above 4096");
  if (member.incarnation > kIncarnationMax) return std::unexpected("incarnation above 2^63");
  if (!is_valid_rack(member.rack)) {
    return std::unexpected("rack must be at most 64 bytes of [A-Za-z0-9._:-]");
  }
  return {};
}

bool is_valid_rack(std::string_view rack) {
  if (rack.size() > kRackBytesMax) return false;
  return std::all_of(rack.begin(), rack.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '_' || c == ':' || c == '-';
  });
}

std::string id_to_hex(std::string_view id) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(id.size() * 2);
  for (unsigned char byte : id) {
    hex.push_back(kDigits[byte >> 4]);
    hex.push_back(kDigits[byte & 0xf]);
  }
  return hex;
}

}  // namespace ringkv::membership
