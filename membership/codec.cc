#include "membership/codec.h"

#include <algorithm>
#include <exception>
#include <msgpack.hpp>
#include <new>
#include <optional>
#include <utility>

#include "membership/check.h"

namespace ringkv::membership {

namespace {

// The largest encoded update: a 10-element array of a 16-byte id, a 128-byte name, a 256-byte
// address, three integers at their widest, two enums, a 16-byte origin and a 64-byte rack.
constexpr std::size_t kUpdateBytesMax = 1 + 18 + 130 + 259 + 9 + 1 + 1 + 5 + 5 + 18 + 66;
// The smallest: ids and origin present, empty name and short address are not valid, so this
// is a safe lower bound used to bound how many updates a datagram can hold.
constexpr std::size_t kUpdateBytesMin = 24;
// An array16 header, the widest header the updates array can need within a datagram.
constexpr std::size_t kArrayHeaderBytesMax = 3;
// [version, cluster, sender, incarnation, kind, body, updates], [..., join, members]
constexpr uint32_t kPacketFields = 7;
constexpr uint32_t kPushPullFieldsWithoutSettings = 5;
constexpr uint32_t kPushPullFields = 6;
// An update or member of the default rack leaves the trailing rack field out, so clusters that
// do not use racks stay readable by builds from before racks.
constexpr uint32_t kUpdateFields = 9;
constexpr uint32_t kUpdateFieldsWithRack = 10;
constexpr uint32_t kMemberFields = 8;
constexpr uint32_t kMemberFieldsWithRack = 9;
// Nesting: the message array, the updates (or members) array, one update (or member) array.
constexpr std::size_t kDepthMax = 3;

// msgpack's packer writes into anything with write(const char*, size_t).
struct StringSink {
  std::string* out;
  void write(const char* data, std::size_t size) { out->append(data, size); }
};
using Packer = msgpack::packer<StringSink>;

void pack_bytes_as_bin(Packer& packer, std::string_view bytes) {
  packer.pack_bin(static_cast<uint32_t>(bytes.size()));
  packer.pack_bin_body(bytes.data(), static_cast<uint32_t>(bytes.size()));
}

void pack_text(Packer& packer, std::string_view text) {
  packer.pack_str(static_cast<uint32_t>(text.size()));
  packer.pack_str_body(text.data(), static_cast<uint32_t>(text.size()));
}

void pack_member_fields(Packer& packer, const Member& member) {
  pack_bytes_as_bin(packer, member.id);
  pack_text(packer, member.name);
  pack_text(packer, member.address);
  packer.pack_uint64(member.incarnation);
  packer.pack_uint8(static_cast<uint8_t>(member.liveness));
  packer.pack_uint8(static_cast<uint8_t>(member.ring_status));
  packer.pack_uint32(member.vnode_count);
  packer.pack_uint32(member.protocol_version);
}

struct BodyPacker {
  Packer& packer;
  void operator()(const Ping& ping) {
    packer.pack_array(3);
    packer.pack_uint64(ping.seq);
    pack_bytes_as_bin(packer, ping.target_id);
    packer.pack_uint64(ping.wall_us);
  }
  void operator()(const PingReq& request) {
    packer.pack_array(3);
    packer.pack_uint64(request.seq);
    pack_bytes_as_bin(packer, request.target_id);
    pack_text(packer, request.target_address);
  }
  void operator()(const Ack& ack) {
    packer.pack_array(3);
    packer.pack_uint64(ack.seq);
    packer.pack_uint64(ack.wall_us);
    packer.pack_uint64(ack.ping_wall_us);
  }
  void operator()(const Nack& nack) {
    packer.pack_array(1);
    packer.pack_uint64(nack.seq);
  }
  void operator()(const Gossip&) { packer.pack_array(0); }
};

MessageKind kind_of(const Body& body) {
  struct Visitor {
    MessageKind operator()(const Ping&) const { return MessageKind::kPing; }
    MessageKind operator()(const PingReq&) const { return MessageKind::kPingReq; }
    MessageKind operator()(const Ack&) const { return MessageKind::kAck; }
    MessageKind operator()(const Nack&) const { return MessageKind::kNack; }
    MessageKind operator()(const Gossip&) const { return MessageKind::kGossip; }
  };
  return std::visit(Visitor{}, body);
}

void pack_array_header(std::string& out, std::size_t count) {
  StringSink sink{&out};
  Packer packer(sink);
  packer.pack_array(static_cast<uint32_t>(count));
}

// ---- decoding helpers: each returns false on a wrong type or an out-of-range value ----

using msgpack::object;

bool read_uint(const object& o, uint64_t& out) {
  if (o.type != msgpack::type::POSITIVE_INTEGER) return false;
  out = o.via.u64;
  return true;
}

bool read_uint32(const object& o, uint32_t& out) {
  uint64_t value = 0;
  if (!read_uint(o, value) || value > UINT32_MAX) return false;
  out = static_cast<uint32_t>(value);
  return true;
}

bool read_text(const object& o, std::size_t bytes_max, std::string& out) {
  if (o.type != msgpack::type::STR || o.via.str.size > bytes_max) return false;
  out.assign(o.via.str.ptr, o.via.str.size);
  return true;
}

// A node id: exactly kNodeIdBytes, or empty when `may_be_empty`.
bool read_id(const object& o, bool may_be_empty, std::string& out) {
  if (o.type != msgpack::type::BIN) return false;
  if (o.via.bin.size != kNodeIdBytes && !(may_be_empty && o.via.bin.size == 0)) return false;
  out.assign(o.via.bin.ptr, o.via.bin.size);
  return true;
}

bool read_array(const object& o, uint32_t size, const object*& items) {
  if (o.type != msgpack::type::ARRAY || o.via.array.size != size) return false;
  items = o.via.array.ptr;
  return true;
}

// An array of `older` or `newer` fields (a layout that grew); `size` says which.
bool read_array_of(const object& o, uint32_t older, uint32_t newer, const object*& items,
                   uint32_t& size) {
  if (o.type != msgpack::type::ARRAY) return false;
  size = o.via.array.size;
  if (size != older && size != newer) return false;
  items = o.via.array.ptr;
  return true;
}

// Reads the fields shared by updates and push-pull members, starting at `fields[0]`.
// Returns the error, if any.
std::optional<DecodeError> read_member_fields(const object* fields, Member& member) {
  uint64_t liveness = 0;
  uint64_t ring_status = 0;
  if (!read_id(fields[0], false, member.id) || !read_text(fields[1], kNameBytesMax, member.name) ||
      !read_text(fields[2], kAddressBytesMax, member.address) ||
      !read_uint(fields[3], member.incarnation) || !read_uint(fields[4], liveness) ||
      !read_uint(fields[5], ring_status) || !read_uint32(fields[6], member.vnode_count) ||
      !read_uint32(fields[7], member.protocol_version)) {
    return DecodeError::kMalformed;
  }
  if (liveness > kLivenessMax || ring_status > kRingStatusMax) return DecodeError::kMalformed;
  // A record no member could refute, or one the ring would have to clamp.
  if (member.incarnation > kIncarnationMax || member.vnode_count > kVnodeCountMax) {
    return DecodeError::kOutOfRange;
  }
  member.liveness = static_cast<Liveness>(liveness);
  member.ring_status = static_cast<RingStatus>(ring_status);
  if (!validate_member(member)) return DecodeError::kMalformed;
  return std::nullopt;
}

bool read_body(MessageKind kind, const object& o, Body& body) {
  const object* f = nullptr;
  switch (kind) {
    case MessageKind::kPing: {
      Ping ping;
      uint32_t size = 0;
      if (!read_array_of(o, 2, 3, f, size) || !read_uint(f[0], ping.seq) ||
          !read_id(f[1], false, ping.target_id) || (size == 3 && !read_uint(f[2], ping.wall_us))) {
        return false;
      }
      body = std::move(ping);
      return true;
    }
    case MessageKind::kPingReq: {
      PingReq request;
      if (!read_array(o, 3, f) || !read_uint(f[0], request.seq) ||
          !read_id(f[1], false, request.target_id) ||
          !read_text(f[2], kAddressBytesMax, request.target_address) ||
          !is_valid_address(request.target_address)) {
        return false;
      }
      body = std::move(request);
      return true;
    }
    case MessageKind::kAck: {
      Ack ack;
      uint32_t size = 0;
      if (!read_array_of(o, 1, 3, f, size) || !read_uint(f[0], ack.seq) ||
          (size == 3 && (!read_uint(f[1], ack.wall_us) || !read_uint(f[2], ack.ping_wall_us)))) {
        return false;
      }
      body = ack;
      return true;
    }
    case MessageKind::kNack: {
      Nack nack;
      if (!read_array(o, 1, f) || !read_uint(f[0], nack.seq)) return false;
      body = nack;
      return true;
    }
    case MessageKind::kGossip:
      if (!read_array(o, 0, f)) return false;
      body = Gossip{};
      return true;
  }
  return false;
}

// Parses `bytes` with limits; the handle owns the zone the returned object lives in.
std::expected<msgpack::object_handle, DecodeError> unpack_limited(std::string_view bytes,
                                                                  std::size_t arrays_max) {
  const msgpack::unpack_limit limit(/*array=*/arrays_max, /*map=*/0,
                                    /*str=*/kAddressBytesMax, /*bin=*/kNodeIdBytes, /*ext=*/0,
                                    /*depth=*/kDepthMax);
  try {
    std::size_t offset = 0;
    msgpack::object_handle handle =
        msgpack::unpack(bytes.data(), bytes.size(), offset, nullptr, nullptr, limit);
    if (offset != bytes.size()) return std::unexpected(DecodeError::kMalformed);
    return handle;
  } catch (const msgpack::insufficient_bytes&) {
    return std::unexpected(DecodeError::kTruncated);
  } catch (const msgpack::size_overflow&) {
    return std::unexpected(DecodeError::kLimitExceeded);
  } catch (const std::bad_alloc&) {
    return std::unexpected(DecodeError::kLimitExceeded);
  } catch (const std::exception&) {
    return std::unexpected(DecodeError::kMalformed);
  }
}

// Reads field 0 of a message: the protocol version, checked before the layout is trusted.
std::expected<uint32_t, DecodeError> read_version(const object& root) {
  if (root.type != msgpack::type::ARRAY || root.via.array.size == 0) {
    return std::unexpected(DecodeError::kMalformed);
  }
  uint32_t version = 0;
  if (!read_uint32(root.via.array.ptr[0], version)) return std::unexpected(DecodeError::kMalformed);
  if (version < kProtocolVersionMin || version > kProtocolVersion) {
    return std::unexpected(DecodeError::kUnknownVersion);
  }
  return version;
}

}  // namespace

std::string_view to_string(DecodeError error) {
  switch (error) {
    case DecodeError::kTruncated:
      return "truncated";
    case DecodeError::kMalformed:
      return "malformed";
    case DecodeError::kLimitExceeded:
      return "limit exceeded";
    case DecodeError::kUnknownVersion:
      return "unknown protocol version";
    case DecodeError::kUnknownKind:
      return "unknown message kind";
    case DecodeError::kOutOfRange:
      return "incarnation or vnode count out of range";
  }
  return "unknown decode error";
}

std::string encode_update(const Update& update) {
  std::string out;
  StringSink sink{&out};
  Packer packer(sink);
  const bool racked = !update.member.rack.empty();
  packer.pack_array(racked ? kUpdateFieldsWithRack : kUpdateFields);
  pack_member_fields(packer, update.member);
  pack_bytes_as_bin(packer, update.origin_id);
  if (racked) pack_text(packer, update.member.rack);
  MEMBERSHIP_CHECK(out.size() <= kUpdateBytesMax, "an encoded update fits the computed maximum");
  return out;
}

PacketWriter::PacketWriter(const PacketHeader& header, const Body& body, std::size_t bytes_max)
    : bytes_max_(bytes_max) {
  StringSink sink{&prefix_};
  Packer packer(sink);
  packer.pack_array(kPacketFields);
  packer.pack_uint32(header.version);
  pack_text(packer, header.cluster);
  pack_bytes_as_bin(packer, header.sender_id);
  packer.pack_uint64(header.sender_incarnation);
  packer.pack_uint8(static_cast<uint8_t>(kind_of(body)));
  std::visit(BodyPacker{packer}, body);
  MEMBERSHIP_CHECK(prefix_.size() + kArrayHeaderBytesMax + kUpdateBytesMax <= bytes_max_,
                   "a datagram has room for its header and one maximal update");
}

std::size_t PacketWriter::room() const {
  return bytes_max_ - prefix_.size() - kArrayHeaderBytesMax - updates_.size();
}

bool PacketWriter::try_add(std::string_view encoded) {
  if (encoded.size() > room()) return false;
  updates_.append(encoded);
  ++update_count_;
  return true;
}

std::string PacketWriter::finish() && {
  std::string out = std::move(prefix_);
  pack_array_header(out, update_count_);
  out.append(updates_);
  MEMBERSHIP_CHECK(out.size() <= bytes_max_, "a datagram stays within its byte budget");
  return out;
}

std::expected<Packet, DecodeError> decode_packet(std::string_view bytes, std::size_t bytes_max) {
  if (bytes.size() > bytes_max) return std::unexpected(DecodeError::kLimitExceeded);
  const std::size_t updates_max = std::max<std::size_t>(16, bytes_max / kUpdateBytesMin + 1);
  auto handle = unpack_limited(bytes, updates_max);
  if (!handle) return std::unexpected(handle.error());
  const object& root = handle->get();
  auto version = read_version(root);
  if (!version) return std::unexpected(version.error());

  Packet packet;
  packet.header.version = *version;
  const object* f = nullptr;
  uint64_t kind = 0;
  if (!read_array(root, kPacketFields, f) ||
      !read_text(f[1], kAddressBytesMax, packet.header.cluster) ||
      !read_id(f[2], false, packet.header.sender_id) ||
      !read_uint(f[3], packet.header.sender_incarnation) || !read_uint(f[4], kind)) {
    return std::unexpected(DecodeError::kMalformed);
  }
  if (packet.header.sender_incarnation > kIncarnationMax) {
    return std::unexpected(DecodeError::kOutOfRange);
  }
  if (kind < static_cast<uint64_t>(MessageKind::kPing) ||
      kind > static_cast<uint64_t>(MessageKind::kGossip)) {
    return std::unexpected(DecodeError::kUnknownKind);
  }
  if (!read_body(static_cast<MessageKind>(kind), f[5], packet.body)) {
    return std::unexpected(DecodeError::kMalformed);
  }
  if (f[6].type != msgpack::type::ARRAY) return std::unexpected(DecodeError::kMalformed);
  const msgpack::object_array& updates = f[6].via.array;
  packet.updates.reserve(updates.size);
  for (uint32_t i = 0; i < updates.size; ++i) {
    const object* u = nullptr;
    Update update;
    uint32_t fields = 0;
    if (!read_array_of(updates.ptr[i], kUpdateFields, kUpdateFieldsWithRack, u, fields) ||
        !read_id(u[8], true, update.origin_id) ||
        (fields == kUpdateFieldsWithRack && !read_text(u[9], kRackBytesMax, update.member.rack))) {
      return std::unexpected(DecodeError::kMalformed);
    }
    if (auto error = read_member_fields(u, update.member)) return std::unexpected(*error);
    packet.updates.push_back(std::move(update));
  }
  return packet;
}

std::string encode_push_pull(const PushPull& message) {
  std::string out;
  StringSink sink{&out};
  Packer packer(sink);
  packer.pack_array(kPushPullFields);
  packer.pack_uint32(message.version);
  pack_text(packer, message.cluster);
  pack_bytes_as_bin(packer, message.sender_id);
  if (message.join) {
    packer.pack_true();
  } else {
    packer.pack_false();
  }
  packer.pack_array(static_cast<uint32_t>(message.members.size()));
  for (const Member& member : message.members) {
    const bool racked = !member.rack.empty();
    packer.pack_array(racked ? kMemberFieldsWithRack : kMemberFields);
    pack_member_fields(packer, member);
    if (racked) pack_text(packer, member.rack);
  }
  pack_text(packer, message.settings);
  return out;
}

std::expected<PushPull, DecodeError> decode_push_pull(std::string_view bytes, std::size_t bytes_max,
                                                      std::size_t members_max) {
  if (bytes.size() > bytes_max) return std::unexpected(DecodeError::kLimitExceeded);
  auto handle = unpack_limited(bytes, std::max<std::size_t>(members_max, kPushPullFields));
  if (!handle) return std::unexpected(handle.error());
  const object& root = handle->get();
  auto version = read_version(root);
  if (!version) return std::unexpected(version.error());

  PushPull message;
  message.version = *version;
  const object* f = nullptr;
  uint32_t fields = 0;
  if (!read_array_of(root, kPushPullFieldsWithoutSettings, kPushPullFields, f, fields) ||
      !read_text(f[1], kAddressBytesMax, message.cluster) ||
      !read_id(f[2], false, message.sender_id) || f[3].type != msgpack::type::BOOLEAN ||
      f[4].type != msgpack::type::ARRAY) {
    return std::unexpected(DecodeError::kMalformed);
  }
  message.join = f[3].via.boolean;
  if (fields == kPushPullFields && !read_text(f[5], kSettingsBytesMax, message.settings)) {
    return std::unexpected(DecodeError::kMalformed);
  }
  const msgpack::object_array& members = f[4].via.array;
  if (members.size > members_max) return std::unexpected(DecodeError::kLimitExceeded);
  message.members.reserve(members.size);
  for (uint32_t i = 0; i < members.size; ++i) {
    const object* m = nullptr;
    Member member;
    uint32_t member_fields = 0;
    if (!read_array_of(members.ptr[i], kMemberFields, kMemberFieldsWithRack, m, member_fields) ||
        (member_fields == kMemberFieldsWithRack && !read_text(m[8], kRackBytesMax, member.rack))) {
      return std::unexpected(DecodeError::kMalformed);
    }
    if (auto error = read_member_fields(m, member)) return std::unexpected(*error);
    message.members.push_back(std::move(member));
  }
  return message;
}

}  // namespace ringkv::membership
