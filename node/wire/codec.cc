#include "node/wire/codec.h"
#include "node/wire/spare_capacity.h"

#include "node/wire/field_reader.h"

#include <msgpack.hpp>

#include "membership/member.h"

#include <cassert>
#include <cstring>

namespace ringkv::wire {
namespace {

// The packer's stream: appends to a string the caller owns, so a message is
// packed straight where it goes (a peer's or a connection's output buffer)
// instead of into a temporary buffer that is then copied.
struct AppendTo {
  std::string& out;
  void write(const char* data, size_t size) { out.append(data, size); }
};
using Packer = msgpack::packer<AppendTo>;

// Strings and binaries are read in place: the payload outlives the decode
// (FieldReader copies what the Message keeps), so the zone holds only arrays.
bool read_in_place(msgpack::type::object_type, size_t, void*) { return true; }

// One zone per thread, reused by every decode and cleared after it: no
// allocation per message beyond what the Message keeps. clear() frees every
// chunk but the first (8 KiB), so a large message's arrays are not kept.
msgpack::zone& decode_zone() {
  thread_local msgpack::zone zone;
  return zone;
}
struct ClearOnExit {
  msgpack::zone& zone;
  ~ClearOnExit() { zone.clear(); }
};

// User names, passwords and role names: far beyond any real one.
constexpr size_t kAuthFieldBytesMax = 4096;
// Rack names, as membership bounds them (only the constant is used: no link dependency).
constexpr size_t kRackBytesMax = membership::kRackBytesMax;

void pack_bytes(Packer& pk, std::string_view bytes) {
  pk.pack_bin(static_cast<uint32_t>(bytes.size()));
  pk.pack_bin_body(bytes.data(), static_cast<uint32_t>(bytes.size()));
}

// Each body packs its fields after the 3-element header; field_count() must
// match what pack_fields() writes.
size_t field_count(const ErrorReply&) { return 2; }
size_t field_count(const PutRequest& m) { return m.ttl_ms || m.expire_at_ms ? 5 : 3; }
size_t field_count(const WriteReply&) { return 2; }
size_t field_count(const GetRequest&) { return 3; }
size_t field_count(const GetReply& m) { return m.ttl_ms ? 6 : 4; }
size_t field_count(const DeleteRequest&) { return 2; }
size_t field_count(const PushPullRequest&) { return 1; }
size_t field_count(const PushPullReply&) { return 1; }
size_t field_count(const StatusRequest&) { return 0; }
size_t field_count(const StatusReply& m) { return m.trust_problem.empty() ? 4 : 5; }
size_t field_count(const ReplicaWriteRequest& m) { return m.record.expires_at_us ? 7 : 6; }
size_t field_count(const ReplicaWriteReply&) { return 2; }
size_t field_count(const ReplicaReadRequest&) { return 1; }
size_t field_count(const ReplicaReadReply& m) { return m.record.expires_at_us ? 6 : 5; }
size_t field_count(const EndpointsRequest&) { return 1; }
size_t field_count(const EndpointsReply&) { return 2; }
size_t field_count(const RingRequest&) { return 0; }
size_t field_count(const RingReply&) { return 2; }
size_t field_count(const StatsRequest&) { return 0; }
size_t field_count(const StatsReply&) { return 1; }
size_t field_count(const StreamReadRequest&) { return 4; }
size_t field_count(const StreamReadReply&) { return 2; }
size_t field_count(const StreamWriteRequest&) { return 1; }
size_t field_count(const StreamWriteReply&) { return 0; }
size_t field_count(const TopologyRequest&) { return 2; }
size_t field_count(const TopologyReply&) { return 1; }
size_t field_count(const RangeDigestRequest&) { return 2; }
size_t field_count(const RangeDigestReply&) { return 2; }
size_t field_count(const AuthRequest&) { return 2; }
size_t field_count(const AuthReply&) { return 1; }
size_t field_count(const KeysRequest&) { return 2; }
size_t field_count(const KeysReply&) { return 1; }
size_t field_count(const KeyringRequest&) { return 5; }
size_t field_count(const KeyringReply&) { return 4; }
size_t field_count(const SnapshotRequest&) { return 2; }
size_t field_count(const SnapshotReply&) { return 2; }
size_t field_count(const ScanRequest&) { return 4; }
size_t field_count(const ScanReply&) { return 2; }
size_t field_count(const RangeKeysRequest&) { return 4; }
size_t field_count(const RangeKeysReply&) { return 2; }
size_t field_count(const DbSizeRequest&) { return 0; }
size_t field_count(const DbSizeReply&) { return 3; }

void pack_fields(Packer& pk, const ErrorReply& m) {
  pk.pack(static_cast<uint32_t>(m.code));
  pk.pack(m.message);
}
void pack_fields(Packer& pk, const PutRequest& m) {
  pack_bytes(pk, m.key);
  pack_bytes(pk, m.value);
  pk.pack(static_cast<uint32_t>(m.consistency));
  if (m.ttl_ms || m.expire_at_ms) {
    pk.pack(m.ttl_ms);
    pk.pack(m.expire_at_ms);
  }
}
void pack_fields(Packer& pk, const WriteReply& m) {
  pk.pack(m.timestamp_us);
  pk.pack(m.tiebreak);
}
void pack_fields(Packer& pk, const GetRequest& m) {
  pack_bytes(pk, m.key);
  pk.pack(static_cast<uint32_t>(m.consistency));
  pk.pack(m.local);
}
void pack_fields(Packer& pk, const GetReply& m) {
  pk.pack(m.found);
  pack_bytes(pk, m.value);
  pk.pack(m.timestamp_us);
  pk.pack(m.tiebreak);
  if (m.ttl_ms) {
    pk.pack(m.ttl_ms);
    pk.pack(m.expires_at_us);
  }
}
void pack_fields(Packer& pk, const DeleteRequest& m) {
  pack_bytes(pk, m.key);
  pk.pack(static_cast<uint32_t>(m.consistency));
}

void pack_fields(Packer& pk, const PushPullRequest& m) { pack_bytes(pk, m.payload); }
void pack_fields(Packer& pk, const PushPullReply& m) { pack_bytes(pk, m.payload); }
void pack_fields(Packer&, const StatusRequest&) {}
void pack_fields(Packer& pk, const StatusReply& m) {
  pk.pack(m.node_name);
  pk.pack_array(static_cast<uint32_t>(m.members.size()));
  for (const MemberStatus& member : m.members) {
    pk.pack_array(member.rack.empty() ? 8 : 9);
    pk.pack(member.name);
    pack_bytes(pk, member.id);
    pk.pack(member.address);
    pk.pack(member.liveness);
    pk.pack(member.ring_status);
    pk.pack(member.incarnation);
    pk.pack(member.vnodes);
    if (member.clock_offset_ms) {
      pk.pack_int64(*member.clock_offset_ms);
    } else {
      pk.pack_nil();
    }
    if (!member.rack.empty()) pk.pack(member.rack);
  }
  pk.pack(m.keys);
  pk.pack(m.bytes);
  if (!m.trust_problem.empty()) pk.pack(m.trust_problem);
}

void pack_strings(Packer& pk, const std::vector<std::string>& texts) {
  pk.pack_array(static_cast<uint32_t>(texts.size()));
  for (const std::string& text : texts) pk.pack(text);
}
void pack_fields(Packer& pk, const KeysRequest& m) {
  pk.pack(static_cast<uint32_t>(m.action));
  pack_bytes(pk, m.key);
}
void pack_fields(Packer& pk, const KeysReply& m) {
  pk.pack_array(static_cast<uint32_t>(m.nodes.size()));
  for (const KeysNodeResult& node : m.nodes) {
    pk.pack_array(5);
    pk.pack(node.name);
    pk.pack(node.ok);
    pk.pack(node.message);
    pack_strings(pk, node.fingerprints);
    pk.pack(node.version);
  }
}
void pack_fields(Packer& pk, const KeyringRequest& m) {
  pk.pack(static_cast<uint32_t>(m.action));
  pack_bytes(pk, m.key);
  pk.pack(m.version);
  pack_bytes(pk, m.node);
  pk.pack(m.fingerprint);
}
void pack_fields(Packer& pk, const KeyringReply& m) {
  pk.pack(m.ok);
  pk.pack(m.message);
  pack_strings(pk, m.fingerprints);
  pk.pack(m.version);
}

void pack_fields(Packer& pk, const SnapshotRequest& m) {
  pk.pack(static_cast<uint32_t>(m.action));
  pk.pack(m.tag);
}
void pack_fields(Packer& pk, const SnapshotReply& m) {
  pk.pack(m.node_name);
  pk.pack_array(static_cast<uint32_t>(m.snapshots.size()));
  for (const SnapshotEntry& snapshot : m.snapshots) {
    pk.pack_array(3);
    pk.pack(snapshot.tag);
    pk.pack(snapshot.created_us);
    pk.pack(snapshot.bytes);
  }
}

void pack_fields(Packer& pk, const ScanRequest& m) {
  pk.pack(m.cursor);
  pack_bytes(pk, m.pattern);
  pk.pack(m.count);
  pk.pack(static_cast<uint32_t>(m.consistency));
}
void pack_fields(Packer& pk, const ScanReply& m) {
  pk.pack(m.cursor);
  pk.pack_array(static_cast<uint32_t>(m.keys.size()));
  for (const std::string& key : m.keys) pack_bytes(pk, key);
}
void pack_fields(Packer& pk, const RangeKeysRequest& m) {
  pk.pack(m.begin);
  pk.pack(m.end_inclusive);
  pack_bytes(pk, m.pattern);
  pk.pack(m.max_entries);
}
void pack_fields(Packer& pk, const RangeKeysReply& m) {
  pk.pack_array(static_cast<uint32_t>(m.entries.size()));
  for (const KeyVersion& entry : m.entries) {
    pk.pack_array(5);
    pack_bytes(pk, entry.key);
    pk.pack(entry.timestamp_us);
    pk.pack(entry.tiebreak);
    pk.pack(entry.tombstone);
    pk.pack(entry.expires_at_us);
  }
  pk.pack(m.covered_through);
}
void pack_fields(Packer&, const DbSizeRequest&) {}
void pack_fields(Packer& pk, const DbSizeReply& m) {
  pk.pack(m.keys);
  pk.pack(m.nodes_answered);
  pk.pack(m.nodes);
}

void pack_record(Packer& pk, const WireRecord& record) {
  pk.pack(record.timestamp_us);
  pk.pack(record.tiebreak);
  pk.pack(record.tombstone);
  pack_bytes(pk, record.value);
}
// The record's expiry, as the trailing field of what carries it (only when set).
void pack_expiry(Packer& pk, const WireRecord& record) {
  if (record.expires_at_us) pk.pack(record.expires_at_us);
}
void pack_fields(Packer& pk, const ReplicaWriteRequest& m) {
  pack_bytes(pk, m.key);
  pack_record(pk, m.record);
  pack_bytes(pk, m.hint_target);
  pack_expiry(pk, m.record);
}
void pack_fields(Packer& pk, const ReplicaWriteReply& m) {
  pk.pack(m.newer_timestamp_us);
  pk.pack(m.newer_tiebreak);
}
void pack_fields(Packer& pk, const ReplicaReadRequest& m) { pack_bytes(pk, m.key); }
void pack_fields(Packer& pk, const ReplicaReadReply& m) {
  pk.pack(m.found);
  pack_record(pk, m.record);
  pack_expiry(pk, m.record);
}
void pack_fields(Packer& pk, const EndpointsRequest& m) { pack_bytes(pk, m.key); }
void pack_fields(Packer& pk, const EndpointsReply& m) {
  pk.pack(m.position);
  pk.pack_array(static_cast<uint32_t>(m.endpoints.size()));
  for (const Endpoint& endpoint : m.endpoints) {
    pk.pack_array(endpoint.rack.empty() ? 2 : 3);
    pk.pack(endpoint.name);
    pk.pack(endpoint.address);
    if (!endpoint.rack.empty()) pk.pack(endpoint.rack);
  }
}
void pack_fields(Packer&, const RingRequest&) {}
void pack_fields(Packer& pk, const RingReply& m) {
  pk.pack(m.replicas);
  pk.pack_array(static_cast<uint32_t>(m.members.size()));
  for (const RingMember& member : m.members) {
    pk.pack_array(member.rack.empty() ? 5 : 6);
    pk.pack(member.name);
    pk.pack(member.address);
    pk.pack(member.vnodes);
    pk.pack(member.ownership_ppm);
    pk.pack(member.primary_ownership_ppm);
    if (!member.rack.empty()) pk.pack(member.rack);
  }
}
void pack_fields(Packer&, const StatsRequest&) {}
void pack_fields(Packer& pk, const StatsReply& m) {
  pk.pack_array(static_cast<uint32_t>(m.values.size()));
  for (const auto& [name, value] : m.values) {
    pk.pack_array(2);
    pk.pack(name);
    pk.pack(value);
  }
}

void pack_entries(Packer& pk, const std::vector<StreamEntry>& entries) {
  pk.pack_array(static_cast<uint32_t>(entries.size()));
  for (const StreamEntry& entry : entries) {
    pk.pack_array(entry.record.expires_at_us ? 6 : 5);
    pack_bytes(pk, entry.key);
    pack_record(pk, entry.record);
    pack_expiry(pk, entry.record);
  }
}
void pack_fields(Packer& pk, const StreamReadRequest& m) {
  pk.pack(m.begin);
  pk.pack(m.end);
  pack_bytes(pk, m.after);
  pk.pack(m.max_bytes);
}
void pack_fields(Packer& pk, const StreamReadReply& m) {
  pack_entries(pk, m.entries);
  pk.pack(m.done);
}
void pack_fields(Packer& pk, const StreamWriteRequest& m) { pack_entries(pk, m.entries); }
void pack_fields(Packer&, const StreamWriteReply&) {}
void pack_fields(Packer& pk, const TopologyRequest& m) {
  pk.pack(static_cast<uint32_t>(m.action));
  pk.pack(m.node);
}
void pack_fields(Packer& pk, const TopologyReply& m) { pk.pack(m.message); }
void pack_fields(Packer& pk, const RangeDigestRequest& m) {
  pk.pack(m.begin);
  pk.pack(m.end);
}
void pack_fields(Packer& pk, const RangeDigestReply& m) {
  pk.pack(m.digest);
  pk.pack(m.count);
}

void pack_fields(Packer& pk, const AuthRequest& m) {
  pk.pack(m.user);
  pack_bytes(pk, m.password);
}
void pack_fields(Packer& pk, const AuthReply& m) { pk.pack(m.role); }

void pack_message(Packer& pk, const Message& message) {
  std::visit(
      [&](const auto& body) {
        pk.pack_array(static_cast<uint32_t>(3 + field_count(body)));
        pk.pack(kProtocolVersion);
        pk.pack(static_cast<uint32_t>(std::decay_t<decltype(body)>::kType));
        pk.pack(message.request_id);
        pack_fields(pk, body);
      },
      message.body);
}

bool read_record(FieldReader& r, WireRecord& record, const Limits& limits) {
  return r.u64(record.timestamp_us) && r.u64(record.tiebreak) && r.boolean(record.tombstone) &&
         r.bytes(record.value, limits.value_bytes_max, "value");
}
// The optional trailing expiry (pack_expiry).
bool read_expiry(FieldReader& r, WireRecord& record) {
  return r.remaining() == 0 || r.u64(record.expires_at_us);
}

// A storage cursor: 8 bytes of position plus a key.
size_t cursor_bytes_max(const Limits& limits) { return limits.key_bytes_max + 8; }

bool read_entries(FieldReader& r, std::vector<StreamEntry>& entries, const Limits& limits) {
  FieldReader list(nullptr, 0, limits);
  if (!r.nested(list)) return false;
  entries.reserve(list.remaining());
  while (list.remaining() > 0) {
    StreamEntry entry;
    FieldReader f(nullptr, 0, limits);
    if (!list.nested(f)) break;
    f.key(entry.key) && read_record(f, entry.record, limits) && read_expiry(f, entry.record) && f.finish();
    if (!list.adopt(f)) break;
    entries.push_back(std::move(entry));
  }
  return r.adopt(list);
}

// A key is 32 bytes; anything much larger is not one.
constexpr size_t kKeyBytesMax = 64;
// A keyring lists a handful of fingerprints.
constexpr size_t kFingerprintsMax = 256;

bool read_strings(FieldReader& r, std::vector<std::string>& out, const Limits& limits) {
  FieldReader list(nullptr, 0, limits);
  if (!r.nested(list)) return false;
  if (list.remaining() > kFingerprintsMax) return r.fail("too many fingerprints");
  while (list.remaining() > 0) {
    std::string text;
    if (!list.bytes(text, 64, "fingerprint")) break;
    out.push_back(std::move(text));
  }
  return r.adopt(list);
}

bool read_body(MessageType type, FieldReader& r, Body& body, const Limits& limits) {
  switch (type) {
    case MessageType::kErrorReply: {
      ErrorReply m;
      uint32_t code = 0;
      r.u32(code) && r.bytes(m.message, limits.value_bytes_max, "message");
      m.code = static_cast<ErrorCode>(code);
      body = std::move(m);
      break;
    }
    case MessageType::kPutRequest: {
      PutRequest m;
      r.key(m.key) && r.bytes(m.value, limits.value_bytes_max, "value") && r.consistency(m.consistency) &&
          (r.remaining() == 0 || (r.u64(m.ttl_ms) && r.u64(m.expire_at_ms)));
      body = std::move(m);
      break;
    }
    case MessageType::kWriteReply: {
      WriteReply m;
      r.u64(m.timestamp_us) && r.u64(m.tiebreak);
      body = m;
      break;
    }
    case MessageType::kGetRequest: {
      GetRequest m;
      r.key(m.key) && r.consistency(m.consistency) && r.boolean(m.local);
      body = std::move(m);
      break;
    }
    case MessageType::kGetReply: {
      GetReply m;
      r.boolean(m.found) && r.bytes(m.value, limits.value_bytes_max, "value") &&
          r.u64(m.timestamp_us) && r.u64(m.tiebreak) && (r.remaining() == 0 || r.u64(m.ttl_ms)) &&
          (r.remaining() == 0 || r.u64(m.expires_at_us));
      body = std::move(m);
      break;
    }
    case MessageType::kDeleteRequest: {
      DeleteRequest m;
      r.key(m.key) && r.consistency(m.consistency);
      body = std::move(m);
      break;
    }
    case MessageType::kPushPullRequest: {
      PushPullRequest m;
      r.bytes(m.payload, limits.value_bytes_max, "payload");
      body = std::move(m);
      break;
    }
    case MessageType::kPushPullReply: {
      PushPullReply m;
      r.bytes(m.payload, limits.value_bytes_max, "payload");
      body = std::move(m);
      break;
    }
    case MessageType::kStatusRequest:
      body = StatusRequest{};
      break;
    case MessageType::kStatusReply: {
      StatusReply m;
      FieldReader list(nullptr, 0, limits);
      if (r.bytes(m.node_name, limits.key_bytes_max, "node name") && r.nested(list)) {
        while (list.remaining() > 0) {
          MemberStatus member;
          FieldReader f(nullptr, 0, limits);
          if (!list.nested(f)) break;
          f.bytes(member.name, 256, "name") && f.bytes(member.id, 64, "id") &&
              f.bytes(member.address, 256, "address") && f.bytes(member.liveness, 16, "liveness") &&
              f.bytes(member.ring_status, 16, "ring status") && f.u64(member.incarnation) &&
              f.u32(member.vnodes) && (f.remaining() == 0 || f.optional_i64(member.clock_offset_ms)) &&
              (f.remaining() == 0 || f.bytes(member.rack, kRackBytesMax, "rack")) && f.finish();
          if (!list.adopt(f)) break;
          m.members.push_back(std::move(member));
        }
        r.adopt(list) && r.u64(m.keys) && r.u64(m.bytes);
        if (r.remaining() > 0) r.bytes(m.trust_problem, limits.value_bytes_max, "trust problem");
      }
      body = std::move(m);
      break;
    }
    case MessageType::kReplicaWriteRequest: {
      ReplicaWriteRequest m;
      if (r.key(m.key) && read_record(r, m.record, limits) &&
          r.bytes(m.hint_target, 16, "hint target") && read_expiry(r, m.record) && !m.hint_target.empty() &&
          m.hint_target.size() != 16) {
        r.fail("hint target must be empty or a 16-byte node id");
      }
      body = std::move(m);
      break;
    }
    case MessageType::kReplicaWriteReply: {
      ReplicaWriteReply m;
      r.u64(m.newer_timestamp_us) && r.u64(m.newer_tiebreak);
      body = m;
      break;
    }
    case MessageType::kReplicaReadRequest: {
      ReplicaReadRequest m;
      r.key(m.key);
      body = std::move(m);
      break;
    }
    case MessageType::kReplicaReadReply: {
      ReplicaReadReply m;
      r.boolean(m.found) && read_record(r, m.record, limits) && read_expiry(r, m.record);
      body = std::move(m);
      break;
    }
    case MessageType::kEndpointsRequest: {
      EndpointsRequest m;
      r.key(m.key);
      body = std::move(m);
      break;
    }
    case MessageType::kEndpointsReply: {
      EndpointsReply m;
      FieldReader list(nullptr, 0, limits);
      if (r.u64(m.position) && r.nested(list)) {
        while (list.remaining() > 0) {
          Endpoint endpoint;
          FieldReader f(nullptr, 0, limits);
          if (!list.nested(f)) break;
          f.bytes(endpoint.name, 256, "name") && f.bytes(endpoint.address, 256, "address") &&
              (f.remaining() == 0 || f.bytes(endpoint.rack, kRackBytesMax, "rack")) && f.finish();
          if (!list.adopt(f)) break;
          m.endpoints.push_back(std::move(endpoint));
        }
        r.adopt(list);
      }
      body = std::move(m);
      break;
    }
    case MessageType::kRingRequest:
      body = RingRequest{};
      break;
    case MessageType::kRingReply: {
      RingReply m;
      FieldReader list(nullptr, 0, limits);
      if (r.u32(m.replicas) && r.nested(list)) {
        while (list.remaining() > 0) {
          RingMember member;
          FieldReader f(nullptr, 0, limits);
          if (!list.nested(f)) break;
          f.bytes(member.name, 256, "name") && f.bytes(member.address, 256, "address") &&
              f.u32(member.vnodes) && f.u64(member.ownership_ppm) &&
              f.u64(member.primary_ownership_ppm) &&
              (f.remaining() == 0 || f.bytes(member.rack, kRackBytesMax, "rack")) && f.finish();
          if (!list.adopt(f)) break;
          m.members.push_back(std::move(member));
        }
        r.adopt(list);
      }
      body = std::move(m);
      break;
    }
    case MessageType::kStatsRequest:
      body = StatsRequest{};
      break;
    case MessageType::kStatsReply: {
      StatsReply m;
      FieldReader list(nullptr, 0, limits);
      if (r.nested(list)) {
        while (list.remaining() > 0) {
          std::pair<std::string, uint64_t> value;
          FieldReader f(nullptr, 0, limits);
          if (!list.nested(f)) break;
          f.bytes(value.first, 256, "name") && f.u64(value.second) && f.finish();
          if (!list.adopt(f)) break;
          m.values.push_back(std::move(value));
        }
        r.adopt(list);
      }
      body = std::move(m);
      break;
    }
    case MessageType::kStreamReadRequest: {
      StreamReadRequest m;
      if (r.u64(m.begin) && r.u64(m.end) && r.bytes(m.after, cursor_bytes_max(limits), "cursor") &&
          r.u32(m.max_bytes) && m.end != 0 && m.begin > m.end) {
        r.fail("stream range begin is after its end");
      }
      body = std::move(m);
      break;
    }
    case MessageType::kStreamReadReply: {
      StreamReadReply m;
      read_entries(r, m.entries, limits) && r.boolean(m.done);
      body = std::move(m);
      break;
    }
    case MessageType::kStreamWriteRequest: {
      StreamWriteRequest m;
      read_entries(r, m.entries, limits);
      body = std::move(m);
      break;
    }
    case MessageType::kStreamWriteReply:
      body = StreamWriteReply{};
      break;
    case MessageType::kTopologyRequest: {
      TopologyRequest m;
      uint32_t action = 0;
      if (r.u32(action) && r.bytes(m.node, 256, "node") && (action < 1 || action > 5)) {
        r.fail("unknown topology action " + std::to_string(action));
      }
      m.action = static_cast<TopologyAction>(action);
      body = std::move(m);
      break;
    }
    case MessageType::kTopologyReply: {
      TopologyReply m;
      r.bytes(m.message, limits.value_bytes_max, "message");
      body = std::move(m);
      break;
    }
    case MessageType::kRangeDigestRequest: {
      RangeDigestRequest m;
      if (r.u64(m.begin) && r.u64(m.end) && m.end != 0 && m.begin > m.end) {
        r.fail("digest range begin is after its end");
      }
      body = m;
      break;
    }
    case MessageType::kRangeDigestReply: {
      RangeDigestReply m;
      r.u64(m.digest) && r.u64(m.count);
      body = m;
      break;
    }
    case MessageType::kAuthRequest: {
      AuthRequest m;
      r.bytes(m.user, kAuthFieldBytesMax, "user") && r.bytes(m.password, kAuthFieldBytesMax, "password");
      body = std::move(m);
      break;
    }
    case MessageType::kAuthReply: {
      AuthReply m;
      r.bytes(m.role, kAuthFieldBytesMax, "role");
      body = std::move(m);
      break;
    }
    case MessageType::kKeysRequest: {
      KeysRequest m;
      uint32_t action = 0;
      if (r.u32(action) && r.bytes(m.key, kKeyBytesMax, "key") &&
          (action < 1 || action > static_cast<uint32_t>(KeyAction::kRemove))) {
        r.fail("unknown keys action " + std::to_string(action));
      }
      m.action = static_cast<KeyAction>(action);
      body = std::move(m);
      break;
    }
    case MessageType::kKeysReply: {
      KeysReply m;
      FieldReader list(nullptr, 0, limits);
      if (r.nested(list)) {
        while (list.remaining() > 0) {
          KeysNodeResult node;
          FieldReader f(nullptr, 0, limits);
          if (!list.nested(f)) break;
          f.bytes(node.name, 256, "name") && f.boolean(node.ok) &&
              f.bytes(node.message, limits.value_bytes_max, "message") &&
              read_strings(f, node.fingerprints, limits) && f.u64(node.version) && f.finish();
          if (!list.adopt(f)) break;
          m.nodes.push_back(std::move(node));
        }
        r.adopt(list);
      }
      body = std::move(m);
      break;
    }
    case MessageType::kKeyringRequest: {
      KeyringRequest m;
      uint32_t action = 0;
      if (r.u32(action) && r.bytes(m.key, kKeyBytesMax, "key") && r.u64(m.version) &&
          r.bytes(m.node, 64, "node") && r.bytes(m.fingerprint, 64, "fingerprint") &&
          (action < 1 || action > kKeyActionMax)) {
        r.fail("unknown keyring action " + std::to_string(action));
      }
      m.action = static_cast<KeyAction>(action);
      body = std::move(m);
      break;
    }
    case MessageType::kKeyringReply: {
      KeyringReply m;
      r.boolean(m.ok) && r.bytes(m.message, limits.value_bytes_max, "message") &&
          read_strings(r, m.fingerprints, limits) && r.u64(m.version);
      body = std::move(m);
      break;
    }
    case MessageType::kSnapshotRequest: {
      SnapshotRequest m;
      uint32_t action = 0;
      if (r.u32(action) && r.bytes(m.tag, kSnapshotTagWireBytesMax, "tag") &&
          (action < 1 || action > kSnapshotActionMax)) {
        r.fail("unknown snapshot action " + std::to_string(action));
      }
      m.action = static_cast<SnapshotAction>(action);
      body = std::move(m);
      break;
    }
    case MessageType::kSnapshotReply: {
      SnapshotReply m;
      FieldReader list(nullptr, 0, limits);
      if (r.bytes(m.node_name, limits.key_bytes_max, "node name") && r.nested(list)) {
        while (list.remaining() > 0 && m.snapshots.size() < kSnapshotsListedMax) {
          SnapshotEntry snapshot;
          FieldReader f(nullptr, 0, limits);
          if (!list.nested(f)) break;
          f.bytes(snapshot.tag, kSnapshotTagWireBytesMax, "tag") && f.u64(snapshot.created_us) &&
              f.u64(snapshot.bytes) && f.finish();
          if (!list.adopt(f)) break;
          m.snapshots.push_back(std::move(snapshot));
        }
        if (list.remaining() > 0) list.fail("more than " + std::to_string(kSnapshotsListedMax) + " snapshots");
        r.adopt(list);
      }
      body = std::move(m);
      break;
    }
    case MessageType::kScanRequest: {
      ScanRequest m;
      if (r.u64(m.cursor) && r.bytes(m.pattern, kScanPatternBytesMax, "pattern") && r.u32(m.count) &&
          r.consistency(m.consistency) && (m.count == 0 || m.count > kScanCountMax)) {
        r.fail("scan count must be 1.." + std::to_string(kScanCountMax));
      }
      body = std::move(m);
      break;
    }
    case MessageType::kScanReply: {
      ScanReply m;
      FieldReader list(nullptr, 0, limits);
      if (r.u64(m.cursor) && r.nested(list)) {
        m.keys.reserve(list.remaining());
        while (list.remaining() > 0) {
          std::string key;
          if (!list.key(key)) break;
          m.keys.push_back(std::move(key));
        }
        r.adopt(list);
      }
      body = std::move(m);
      break;
    }
    case MessageType::kRangeKeysRequest: {
      RangeKeysRequest m;
      if (r.u64(m.begin) && r.u64(m.end_inclusive) && r.bytes(m.pattern, kScanPatternBytesMax, "pattern") &&
          r.u32(m.max_entries) && (m.begin > m.end_inclusive || m.max_entries == 0 || m.max_entries > kScanCountMax)) {
        r.fail("range keys request needs begin <= end and 1.." + std::to_string(kScanCountMax) + " entries");
      }
      body = std::move(m);
      break;
    }
    case MessageType::kRangeKeysReply: {
      RangeKeysReply m;
      FieldReader list(nullptr, 0, limits);
      if (r.nested(list)) {
        m.entries.reserve(list.remaining());
        while (list.remaining() > 0) {
          KeyVersion entry;
          FieldReader f(nullptr, 0, limits);
          if (!list.nested(f)) break;
          f.key(entry.key) && f.u64(entry.timestamp_us) && f.u64(entry.tiebreak) && f.boolean(entry.tombstone) &&
              f.u64(entry.expires_at_us) && f.finish();
          if (!list.adopt(f)) break;
          m.entries.push_back(std::move(entry));
        }
        r.adopt(list) && r.u64(m.covered_through);
      }
      body = std::move(m);
      break;
    }
    case MessageType::kDbSizeRequest:
      body = DbSizeRequest{};
      break;
    case MessageType::kDbSizeReply: {
      DbSizeReply m;
      r.u64(m.keys) && r.u32(m.nodes_answered) && r.u32(m.nodes);
      body = m;
      break;
    }
    default:
      return false;
  }
  return r.finish();
}

bool known_type(uint32_t raw) {
  const bool core = raw >= static_cast<uint32_t>(MessageType::kErrorReply) &&
                    raw <= static_cast<uint32_t>(MessageType::kRangeDigestReply);
  const bool auth = raw >= static_cast<uint32_t>(MessageType::kAuthRequest) &&
                    raw <= static_cast<uint32_t>(MessageType::kAuthReply);
  const bool keys = raw >= static_cast<uint32_t>(MessageType::kKeysRequest) &&
                    raw <= static_cast<uint32_t>(MessageType::kKeyringReply);
  const bool later = raw >= static_cast<uint32_t>(MessageType::kSnapshotRequest) &&
                     raw <= static_cast<uint32_t>(MessageType::kDbSizeReply);
  return core || auth || keys || later;
}

}  // namespace

void encode_frame(const Message& message, std::string& out) {
  const size_t start = out.size();
  out.append(4, '\0');  // the length, written once the message is packed
  AppendTo stream{out};
  Packer pk(stream);
  pack_message(pk, message);
  const size_t size = out.size() - start - 4;
  for (size_t i = 0; i < 4; ++i) out[start + i] = static_cast<char>(size >> (24 - 8 * i));
}

std::string encode(const Message& message) {
  std::string out;
  AppendTo stream{out};
  Packer pk(stream);
  pack_message(pk, message);
  return out;
}

std::expected<Message, DecodeError> decode(std::string_view payload, const Limits& limits) {
  msgpack::zone& zone = decode_zone();
  const ClearOnExit clear_zone{zone};
  msgpack::object root;
  try {
    size_t offset = 0;
    // str/bin limits: the largest legal field is a value.
    const msgpack::unpack_limit unpack_limits(limits.array_elements_max, limits.map_elements_max,
                                              limits.value_bytes_max, limits.value_bytes_max,
                                              /*ext=*/0, limits.depth_max);
    // A payload that does not parse leaves offset unmoved: refused below.
    root = msgpack::unpack(zone, payload.data(), payload.size(), offset, read_in_place, nullptr, unpack_limits);
    if (offset != payload.size()) {
      return std::unexpected(DecodeError{DecodeErrorKind::kMalformed, "trailing bytes after message"});
    }
  } catch (const msgpack::depth_size_overflow&) {
    return std::unexpected(DecodeError{DecodeErrorKind::kTooLarge, "msgpack nesting too deep"});
  } catch (const msgpack::size_overflow& e) {
    return std::unexpected(DecodeError{DecodeErrorKind::kTooLarge, std::string("msgpack limit: ") + e.what()});
  } catch (const std::exception& e) {
    return std::unexpected(DecodeError{DecodeErrorKind::kMalformed, std::string("not msgpack: ") + e.what()});
  }

  if (root.type != msgpack::type::ARRAY || root.via.array.size < 3) {
    return std::unexpected(DecodeError{DecodeErrorKind::kMalformed, "message is not an array of at least 3"});
  }
  const msgpack::object* items = root.via.array.ptr;
  for (int i = 0; i < 3; ++i) {
    if (items[i].type != msgpack::type::POSITIVE_INTEGER) {
      return std::unexpected(DecodeError{DecodeErrorKind::kMalformed, "header fields must be unsigned integers"});
    }
  }
  const uint64_t request_id = items[2].via.u64;
  if (items[0].via.u64 != kProtocolVersion) {
    return std::unexpected(DecodeError{DecodeErrorKind::kBadVersion,
                                       "protocol version " + std::to_string(items[0].via.u64) +
                                           " is not " + std::to_string(kProtocolVersion),
                                       request_id});
  }
  const uint64_t raw_type = items[1].via.u64;
  if (raw_type > UINT32_MAX || !known_type(static_cast<uint32_t>(raw_type))) {
    return std::unexpected(DecodeError{DecodeErrorKind::kUnknownType,
                                       "unknown message type " + std::to_string(raw_type), request_id});
  }
  Message message;
  message.request_id = request_id;
  FieldReader reader(items + 3, root.via.array.size - 3, limits);
  if (!read_body(static_cast<MessageType>(raw_type), reader, message.body, limits)) {
    return std::unexpected(DecodeError{
        reader.too_large() ? DecodeErrorKind::kTooLarge : DecodeErrorKind::kMalformed,
        reader.error(), request_id});
  }
  return message;
}

void FrameReader::feed(std::string_view bytes) {
  // Drop consumed bytes before growing, so the buffer holds at most one
  // partial frame plus what just arrived.
  if (consumed_ > 0) {
    buffer_.erase(0, consumed_);
    consumed_ = 0;
  }
  buffer_.append(bytes.data(), bytes.size());
}

void FrameReader::release_spare() { wire::release_spare(buffer_, consumed_); }

FrameReader::Status FrameReader::next(std::string_view& payload, std::string& error) {
  const size_t available = buffer_.size() - consumed_;
  if (available < 4) return Status::kNeedMore;
  const auto* p = reinterpret_cast<const unsigned char*>(buffer_.data() + consumed_);
  const uint32_t size = (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
  if (size > frame_bytes_max_) {
    error = "frame length " + std::to_string(size) + " exceeds the limit of " +
            std::to_string(frame_bytes_max_);
    return Status::kError;
  }
  if (size == 0) {
    error = "empty frame";
    return Status::kError;
  }
  if (available - 4 < size) return Status::kNeedMore;
  payload = std::string_view(buffer_.data() + consumed_ + 4, size);
  consumed_ += 4 + size;
  return Status::kFrame;
}

}  // namespace ringkv::wire
