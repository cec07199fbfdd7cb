// A member record and the merge rule that decides which of two records about a member wins.
//
// A member is identified by its node id (16 random bytes, persisted by the node); name and
// address are attributes, so the same id at a new address is the same node, moved. Only the
// member itself raises its incarnation (to refute a suspicion or to publish new attributes);
// everyone else repeats what they heard at the incarnation they heard it.
//
// Merge rule: the higher incarnation wins; at equal incarnation
// left > dead > suspect > alive, so `left` is final for that incarnation and only the member
// itself, by coming back at a higher incarnation, can override a verdict about it.
//
// Incarnations and restarts: a process started with generation g (persisted by the caller and
// raised on every restart) begins at incarnation g << 32, so a restarted node outranks
// anything the cluster remembers of its earlier lives as long as one life refutes fewer than
// 2^32 times.
//
// Headroom for refutation: no incarnation above kIncarnationMax is decoded, and a claim about
// a member made by anyone else (gossip relays, push-pulls) is refused at kIncarnationMax or
// more than kIncarnationJumpMax above the incarnation the receiver knows (swim_state.cc). So
// whatever another node says about a member, the member can go one higher, and its own
// incarnation never passes kIncarnationMax (it saturates there; see next_incarnation).
#pragma once

#include <cstddef>
#include <cstdint>
#include <expected>
#include <string>
#include <string_view>

namespace ringkv::membership {

inline constexpr std::size_t kNodeIdBytes = 16;
inline constexpr std::size_t kNameBytesMax = 128;
inline constexpr std::size_t kAddressBytesMax = 256;
// A rack name: at most this many bytes of [A-Za-z0-9._:-]; empty is the default rack.
inline constexpr std::size_t kRackBytesMax = 64;
// Bound on Config::settings, the cluster-wide settings carried by push-pulls.
inline constexpr std::size_t kSettingsBytesMax = 256;
// Protocol versions this build speaks; datagrams outside the range are dropped and counted.
inline constexpr uint32_t kProtocolVersion = 1;
inline constexpr uint32_t kProtocolVersionMin = 1;

inline constexpr uint64_t kIncarnationMax = uint64_t{1} << 63;
// 256 restarts' worth of generations: a member's own record relayed by others may be that far
// ahead of what we know; a claim further ahead is refused as implausible.
inline constexpr uint64_t kIncarnationJumpMax = uint64_t{1} << 40;
// A third party's accusation (suspect, dead, left) may be at most one generation ahead of what
// we know, so the refutation it forces (one higher) stays well within kIncarnationJumpMax of
// every other view, which accepts it when relayed.
inline constexpr uint64_t kAccusationJumpMax = uint64_t{1} << 32;
// Generations beyond this would start above half the incarnation space.
inline constexpr uint32_t kGenerationMax = (uint32_t{1} << 31) - 1;
// The ring's bound on one node's tokens (node/core/ring.h uses this value); a record claiming
// more is refused at decode.
inline constexpr uint32_t kVnodeCountMax = 4096;

// Numeric values are on the wire: append only.
enum class Liveness : uint8_t { kAlive = 0, kSuspect = 1, kDead = 2, kLeft = 3 };
// kWaiting: a member that will join the ring but waits for another topology change to
// finish first (no ring holds it yet); kJoining: bootstrapping (pending owner of its future
// ranges); kNormal: owns its ranges; kLeaving: decommissioning (still an owner).
enum class RingStatus : uint8_t { kJoining = 0, kNormal = 1, kLeaving = 2, kWaiting = 3 };

inline constexpr uint8_t kLivenessMax = 3;
inline constexpr uint8_t kRingStatusMax = 3;

std::string_view to_string(Liveness liveness);
std::string_view to_string(RingStatus status);

struct Member {
  std::string id;       // kNodeIdBytes raw bytes
  std::string name;     // 1..kNameBytesMax bytes
  std::string address;  // "HOST:PORT", at most kAddressBytesMax bytes
  uint64_t incarnation = 0;
  Liveness liveness = Liveness::kAlive;
  RingStatus ring_status = RingStatus::kJoining;
  uint32_t vnode_count = 0;
  uint32_t protocol_version = kProtocolVersion;
  // Failure domain for placement (node/core/ring.h); "" is the default rack. Fixed for the
  // life of a node id: a record changing it is refused (swim_state.cc), since a new rack
  // would move data silently.
  std::string rack;

  bool operator==(const Member&) const = default;
};

// Order of liveness verdicts at equal incarnation.
int liveness_rank(Liveness liveness);

// True when `update` is newer knowledge than `current` about the same member.
// REQUIRES: update.id == current.id.
bool supersedes(const Member& update, const Member& current);

// True when the attributes a member publishes about itself differ (everything but incarnation
// and liveness).
bool attributes_differ(const Member& a, const Member& b);

// The first incarnation of a process started with `generation`.
// REQUIRES: generation <= kGenerationMax.
uint64_t initial_incarnation(uint32_t generation);

// The incarnation a member takes to outrank `current`: current + 1, saturating at
// kIncarnationMax (reached only under attack: see "Headroom for refutation" above).
uint64_t next_incarnation(uint64_t current);

// Checks the shape of a record: id length, name and address sizes, "HOST:PORT" form, vnode
// count and incarnation within their bounds, rack name valid.
std::expected<void, std::string> validate_member(const Member& member);

// At most kRackBytesMax bytes of [A-Za-z0-9._:-] (empty allowed: the default rack).
bool is_valid_rack(std::string_view rack);

// "HOST:PORT" with a non-empty host and a port in 1..65535 (IPv6 hosts in brackets).
bool is_valid_address(std::string_view address);

// Lower-case hex of a node id, for logs and tools.
std::string id_to_hex(std::string_view id);

}  // namespace ringkv::membership
