// Wire codec for membership: gossip datagrams (UDP) and push-pull state exchanges (TCP).
//
// Both are msgpack arrays (positional fields, no maps). Field 0 is always the protocol
// version, so a future layout can be recognised and refused before anything else is read.
//
//   datagram  = [version, cluster, sender_id, sender_incarnation, kind, body, updates]
//   body      = ping:     [seq, target_id, wall_us]
//               ping-req: [seq, target_id, target_address]
//               ack:      [seq, wall_us, ping_wall_us]
//               nack:     [seq]          gossip: []
//   wall_us: the sender's wall clock (microseconds since the epoch, 0 if unknown);
//   ping_wall_us: the wall_us of the ping being answered (clock_offset.h). Pings of 2 fields
//   and acks of 1 (before clock offsets) still decode, with the clocks 0.
//   update    = [id, name, address, incarnation, liveness, ring_status, vnode_count,
//                protocol_version, origin_id, rack?]    (origin_id: 16 bytes or empty)
//   push-pull = [version, cluster, sender_id, join, members, settings]
//   settings: the sender's cluster-wide settings (Config::settings, opaque here, at most
//   kSettingsBytesMax bytes); a push-pull of 5 fields (before settings) decodes with none.
//   member    = [id, name, address, incarnation, liveness, ring_status, vnode_count,
//                protocol_version, rack?]
//   rack?: present only for a member outside the default rack (a non-empty rack name), so
//   records of the default rack keep the layout of builds from before racks.
//
// Decoding never throws: msgpack's exceptions are caught here and turned into DecodeError.
// Unpack limits (array/str/bin sizes, nesting depth, no maps, no ext) are set before parsing,
// so hostile input allocates at most a small multiple of its own size. Trailing bytes after
// the message are an error. Stateless; safe to call from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <expected>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "membership/member.h"

namespace ringkv::membership {

// Message kinds: numeric values are on the wire, append only.
enum class MessageKind : uint8_t { kPing = 1, kPingReq = 2, kAck = 3, kNack = 4, kGossip = 5 };

struct Ping {
  uint64_t seq = 0;
  std::string target_id;
  uint64_t wall_us = 0;
};
struct PingReq {
  uint64_t seq = 0;
  std::string target_id;
  std::string target_address;
};
struct Ack {
  uint64_t seq = 0;
  uint64_t wall_us = 0;
  uint64_t ping_wall_us = 0;
};
struct Nack {
  uint64_t seq = 0;
};
struct Gossip {};
using Body = std::variant<Ping, PingReq, Ack, Nack, Gossip>;

// A claim about a member, and who made it (the accuser for suspect and dead claims; used to
// count independent suspicions).
struct Update {
  Member member;
  std::string origin_id;
};

struct PacketHeader {
  uint32_t version = kProtocolVersion;
  std::string cluster;
  std::string sender_id;
  uint64_t sender_incarnation = 0;
};

struct Packet {
  PacketHeader header;
  Body body;
  std::vector<Update> updates;
};

struct PushPull {
  uint32_t version = kProtocolVersion;
  std::string cluster;
  std::string sender_id;
  bool join = false;
  std::vector<Member> members;
  std::string settings;
};

enum class DecodeError {
  kTruncated,       // the input ends inside a value
  kMalformed,       // not msgpack, wrong shape or type, out-of-range field, trailing bytes
  kLimitExceeded,   // a size or nesting limit, or the input itself is too large
  kUnknownVersion,  // a protocol version this build does not speak
  kUnknownKind,     // a message kind this build does not know
  kOutOfRange,      // well-formed, but an incarnation above kIncarnationMax or a vnode count
                    // above kVnodeCountMax (member.h)
};

std::string_view to_string(DecodeError error);

// Encodes one update; the queue stores updates in this form and the writer splices them in.
std::string encode_update(const Update& update);

// Builds one datagram within a byte budget: the header and body first, then as many encoded
// updates as fit.
class PacketWriter {
 public:
  // REQUIRES: the header and body leave room for at least one maximal update in bytes_max.
  PacketWriter(const PacketHeader& header, const Body& body, std::size_t bytes_max);

  // Bytes still available for encoded updates.
  std::size_t room() const;
  // Appends `encoded` (from encode_update) if it fits; returns whether it did.
  bool try_add(std::string_view encoded);
  std::size_t update_count() const { return update_count_; }
  // The finished datagram; at most bytes_max bytes.
  std::string finish() &&;

 private:
  std::string prefix_;
  std::string updates_;
  std::size_t update_count_ = 0;
  std::size_t bytes_max_;
};

// Decodes a datagram of at most `bytes_max` bytes.
std::expected<Packet, DecodeError> decode_packet(std::string_view bytes, std::size_t bytes_max);

std::string encode_push_pull(const PushPull& message);
// Decodes a push-pull of at most `bytes_max` bytes and `members_max` members.
std::expected<PushPull, DecodeError> decode_push_pull(std::string_view bytes, std::size_t bytes_max,
                                                      std::size_t members_max);

}  // namespace ringkv::membership
