// Messages of the TCP protocol shared by kvnode and the kv CLI.
//
// Every message is one msgpack array [protocol_version, type, request_id,
// fields...]. Replies echo the request id, so many requests can be in flight
// on one connection; ids start at 1, and an ErrorReply with id 0 answers a
// frame whose id could not be read (the connection then closes). Type numbers are append-only: never renumber or reuse.
// Keys and values are raw bytes (msgpack bin) and may hold anything.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace ringkv::wire {

enum class MessageType : uint32_t {
  kErrorReply = 1,
  kPutRequest = 2,
  kWriteReply = 3,
  kGetRequest = 4,
  kGetReply = 5,
  kDeleteRequest = 6,
  kPushPullRequest = 7,
  kPushPullReply = 8,
  kStatusRequest = 9,
  kStatusReply = 10,
  kReplicaWriteRequest = 11,
  kReplicaWriteReply = 12,
  kReplicaReadRequest = 13,
  kReplicaReadReply = 14,
  kEndpointsRequest = 15,
  kEndpointsReply = 16,
  kRingRequest = 17,
  kRingReply = 18,
  kStatsRequest = 19,
  kStatsReply = 20,
  kStreamReadRequest = 21,
  kStreamReadReply = 22,
  kStreamWriteRequest = 23,
  kStreamWriteReply = 24,
  kTopologyRequest = 25,
  kTopologyReply = 26,
  kRangeDigestRequest = 27,
  kRangeDigestReply = 28,
  kAuthRequest = 29,
  kAuthReply = 30,
  kKeysRequest = 40,
  kKeysReply = 41,
  kKeyringRequest = 42,
  kKeyringReply = 43,
  kSnapshotRequest = 44,
  kSnapshotReply = 45,
  kScanRequest = 46,
  kScanReply = 47,
  kRangeKeysRequest = 48,
  kRangeKeysReply = 49,
  kDbSizeRequest = 50,
  kDbSizeReply = 51,
};

enum class Consistency : uint32_t { kOne = 1, kQuorum = 2, kAll = 3, kAny = 4 };

// Parses "one|quorum|all|any" (lower case); false when unknown.
bool parse_consistency(std::string_view text, Consistency& out);
std::string_view consistency_name(Consistency consistency);

enum class ErrorCode : uint32_t {
  kUnavailable = 1,  // not enough replicas alive to try; nothing was written
  kTimeout = 2,      // tried, too few answered in time; a write may still land
  kInvalid = 3,      // the request itself is bad; nothing was touched
  kInternal = 4,     // storage failure (disk full, I/O error) on the node
  kUnknownType = 5,  // message type this node does not know
  kBadVersion = 6,   // protocol version this node does not speak
  kNotAuthenticated = 7,  // credentials needed first, or the ones given are wrong
  kForbidden = 8,         // the connection's role (or channel) may not send this request
  kFailed = 10,      // tried before the deadline, too few replicas succeeded (they
                     // refused or were unreachable); a write may still have landed
  kSuperseded = 11,  // a write kept meeting newer versions on its replicas (writers
                     // racing, or clocks far apart) and was not acknowledged; it may
                     // still have landed, under a version older than what they hold
  kBusy = 12,        // the node sheds load: too many client requests in flight (on it or
                     // on the connection); refused before anything was done, retry later
};
std::string_view error_code_name(ErrorCode code);

struct ErrorReply {
  static constexpr MessageType kType = MessageType::kErrorReply;
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
};

// `ttl_ms` (relative) or `expire_at_ms` (absolute, Unix ms): the value expires
// then; both 0: never. The coordinator fixes the instant when it accepts the
// write (node/core/expiry.h). Sent as two trailing fields only when one is set.
struct PutRequest {
  static constexpr MessageType kType = MessageType::kPutRequest;
  std::string key;
  std::string value;
  Consistency consistency = Consistency::kQuorum;
  uint64_t ttl_ms = 0;
  uint64_t expire_at_ms = 0;
};

struct DeleteRequest {
  static constexpr MessageType kType = MessageType::kDeleteRequest;
  std::string key;
  Consistency consistency = Consistency::kQuorum;
};

// Reply to a put or a delete: the version the coordinator assigned.
struct WriteReply {
  static constexpr MessageType kType = MessageType::kWriteReply;
  uint64_t timestamp_us = 0;
  uint64_t tiebreak = 0;
};

struct GetRequest {
  static constexpr MessageType kType = MessageType::kGetRequest;
  std::string key;
  Consistency consistency = Consistency::kQuorum;
  // Read this node's own copy without coordination.
  bool local = false;
};

struct GetReply {
  static constexpr MessageType kType = MessageType::kGetReply;
  // False when the key is absent or deleted.
  bool found = false;
  std::string value;
  uint64_t timestamp_us = 0;
  uint64_t tiebreak = 0;
  // Milliseconds until the value expires (at least 1), or 0 when it never
  // does, and the instant it expires (microseconds since the Unix epoch, the
  // same on every replica; 0: never). Two trailing fields, sent only when
  // set; a reply with ttl_ms alone (an older node) decodes with instant 0.
  uint64_t ttl_ms = 0;
  uint64_t expires_at_us = 0;
};

// Membership anti-entropy over TCP: the payload is the membership module's
// own encoding (membership/codec.h), carried opaquely.
struct PushPullRequest {
  static constexpr MessageType kType = MessageType::kPushPullRequest;
  std::string payload;
};

struct PushPullReply {
  static constexpr MessageType kType = MessageType::kPushPullReply;
  std::string payload;
};

struct StatusRequest {
  static constexpr MessageType kType = MessageType::kStatusRequest;
};

// One member as the answering node sees it.
struct MemberStatus {
  std::string name;
  std::string id;  // 16 raw bytes
  std::string address;
  std::string liveness;     // alive|suspect|dead|left
  std::string ring_status;  // joining|normal|leaving
  uint64_t incarnation = 0;
  uint32_t vnodes = 0;
  // The member's wall clock minus the answering node's, estimated from gossip round trips
  // (membership/clock_offset.h); absent for the answering node itself, for a member not yet
  // measured, and in replies from nodes before this field (it is appended, may be nil).
  std::optional<int64_t> clock_offset_ms;
  // The member's rack ("" = the default rack); appended after clock_offset_ms, only when set.
  std::string rack;
};

// The answering node's view of the cluster and its own storage figures.
struct StatusReply {
  static constexpr MessageType kType = MessageType::kStatusReply;
  std::string node_name;
  std::vector<MemberStatus> members;
  uint64_t keys = 0;   // estimate of keys stored on the answering node
  uint64_t bytes = 0;  // estimate of bytes stored on the answering node
  // Why the answering node cannot join (e.g. no seed accepts its keys);
  // empty when none. Optional on the wire: older nodes do not send it.
  std::string trust_problem;
};

// A versioned record as replicas exchange it (storage::Record on the wire).
// A stored record between replicas (storage/record.h). `expires_at_us` (0:
// never) travels as one more field at the END of the message carrying the
// record (or of a stream entry), and only when set, so records without expiry
// keep the layout older nodes read.
struct WireRecord {
  uint64_t timestamp_us = 0;
  uint64_t tiebreak = 0;
  bool tombstone = false;
  std::string value;
  uint64_t expires_at_us = 0;
};

// Coordinator -> replica: apply `record` to `key` (last write wins). When
// `hint_target` is non-empty (a 16-byte node id) the receiver is a stand-in:
// it stores the write as a hint for that node instead of as its own data.
struct ReplicaWriteRequest {
  static constexpr MessageType kType = MessageType::kReplicaWriteRequest;
  std::string key;
  WireRecord record;
  std::string hint_target;
};

// A replica applied the write. When it already held a newer version of the
// key, it says which (newer_timestamp_us > 0): the write is then hidden by
// last-write-wins, and the coordinator re-stamps it rather than acknowledge it.
struct ReplicaWriteReply {
  static constexpr MessageType kType = MessageType::kReplicaWriteReply;
  uint64_t newer_timestamp_us = 0;
  uint64_t newer_tiebreak = 0;
};

struct ReplicaReadRequest {
  static constexpr MessageType kType = MessageType::kReplicaReadRequest;
  std::string key;
};

// The replica's stored record (tombstones included) or found == false.
struct ReplicaReadReply {
  static constexpr MessageType kType = MessageType::kReplicaReadReply;
  bool found = false;
  WireRecord record;
};

struct Endpoint {
  std::string name;
  std::string address;
  std::string rack;  // "" = the default rack; a trailing field, sent only when set
};

struct EndpointsRequest {
  static constexpr MessageType kType = MessageType::kEndpointsRequest;
  std::string key;
};

// The natural replicas of `key` in preference order.
struct EndpointsReply {
  static constexpr MessageType kType = MessageType::kEndpointsReply;
  uint64_t position = 0;
  std::vector<Endpoint> endpoints;
};

struct RingRequest {
  static constexpr MessageType kType = MessageType::kRingRequest;
};

struct RingMember {
  std::string name;
  std::string address;
  uint32_t vnodes = 0;
  // Share of the ring this node holds a replica of, in millionths (so the
  // wire carries integers only).
  uint64_t ownership_ppm = 0;
  uint64_t primary_ownership_ppm = 0;
  std::string rack;  // "" = the default rack; a trailing field, sent only when set
};

struct RingReply {
  static constexpr MessageType kType = MessageType::kRingReply;
  uint32_t replicas = 0;
  std::vector<RingMember> members;
};

struct StatsRequest {
  static constexpr MessageType kType = MessageType::kStatsRequest;
};

// Named counters and gauges of the answering node (ops, latency
// percentiles in microseconds, hints stored and replayed per target...).
struct StatsReply {
  static constexpr MessageType kType = MessageType::kStatsReply;
  std::vector<std::pair<std::string, uint64_t>> values;
};

// One stored record of a stream: the user key and its record (tombstones too:
// a stream must carry deletes).
struct StreamEntry {
  std::string key;
  WireRecord record;
};

// Node -> replica (topology streaming, pull): the records stored at ring
// positions [begin, end) (end 0 = 2^64), in storage-key order, strictly after
// the cursor `after` (empty: from the start), about `max_bytes` at most.
struct StreamReadRequest {
  static constexpr MessageType kType = MessageType::kStreamReadRequest;
  uint64_t begin = 0;
  uint64_t end = 0;
  std::string after;
  uint32_t max_bytes = 0;
};

// `done` when the range has nothing beyond these entries. The cursor for the
// next request is the storage key of the last entry (storage::storage_key).
struct StreamReadReply {
  static constexpr MessageType kType = MessageType::kStreamReadReply;
  std::vector<StreamEntry> entries;
  bool done = true;
};

// Node -> new owner (topology streaming, push): apply these records (last
// write wins) as this node's own data.
struct StreamWriteRequest {
  static constexpr MessageType kType = MessageType::kStreamWriteRequest;
  std::vector<StreamEntry> entries;
};

struct StreamWriteReply {
  static constexpr MessageType kType = MessageType::kStreamWriteReply;
};

enum class TopologyAction : uint32_t {
  kDecommission = 1,  // the answering node leaves the ring, streaming its ranges away
  kRemoveNode = 2,    // remove the dead node `node` (name or hex id) from the ring
  kCleanup = 3,       // drop data of ranges the answering node no longer replicates
  kLeft = 4,          // node -> members: `node` (hex id), leaving or being removed, has left
  kRemoving = 5,      // node -> members: `node` (hex id, dead) is being removed: pull what you
                      // gain; the reply's message is "done" once pulled, else "pulling"
};

// Client -> node: start a topology change (kv decommission | removenode | cleanup),
// for admin users only. Node -> node: the steps kLeft and kRemoving, accepted
// on a peer channel only (node/core/client_access.h). Refusals come back as
// ErrorReply kInvalid with the reason; nothing changed.
struct TopologyRequest {
  static constexpr MessageType kType = MessageType::kTopologyRequest;
  TopologyAction action = TopologyAction::kCleanup;
  std::string node;
};

// The change started (decommission, removenode) or finished (cleanup).
struct TopologyReply {
  static constexpr MessageType kType = MessageType::kTopologyReply;
  std::string message;
};

// Node -> replica (anti-entropy): a digest of the records at positions
// [begin, end) (end 0 = 2^64): keys and versions, not values.
struct RangeDigestRequest {
  static constexpr MessageType kType = MessageType::kRangeDigestRequest;
  uint64_t begin = 0;
  uint64_t end = 0;
};

struct RangeDigestReply {
  static constexpr MessageType kType = MessageType::kRangeDigestReply;
  uint64_t digest = 0;
  uint64_t count = 0;
};

// Client -> node: authenticate this connection (kv --user, RESP AUTH). The
// answer is an AuthReply or ErrorReply kNotAuthenticated; a node without a
// users file accepts any credentials. Later requests on the connection run
// with the user's role (node/trust/users.h); a new AuthRequest replaces it.
struct AuthRequest {
  static constexpr MessageType kType = MessageType::kAuthRequest;
  std::string user;
  std::string password;
};

struct AuthReply {
  static constexpr MessageType kType = MessageType::kAuthReply;
  std::string role;  // read | readwrite | admin
};

enum class KeyAction : uint32_t {
  kList = 1,
  kInstall = 2,  // add `key` (opens; installing twice is a no-op)
  kUse = 3,      // make the installed `key` the primary, at primary version `version`
  kRemove = 4,   // drop `key` (absent: ok; the primary: refused)
  kSync = 5,     // node -> member: adopt `key` as primary if `version` is above yours
  kConfirm = 6,  // node -> member: node `node` (16-byte id) seals with primary
                 // `fingerprint` at `version`
};
constexpr uint32_t kKeyActionMax = 6;

// Client -> node (`kv keys ...`): act on every live member's keyring. `key`
// is the 32 raw key bytes (empty for list). Only kList..kRemove.
struct KeysRequest {
  static constexpr MessageType kType = MessageType::kKeysRequest;
  KeyAction action = KeyAction::kList;
  std::string key;
};

// One node's outcome and keyring (fingerprints only, never keys).
struct KeysNodeResult {
  std::string name;
  bool ok = false;
  std::string message;                    // why not, when !ok
  std::vector<std::string> fingerprints;  // installed keys, the primary first
  uint64_t version = 0;                   // the primary's version
};

// One result per node the request reached or should have reached.
struct KeysReply {
  static constexpr MessageType kType = MessageType::kKeysReply;
  std::vector<KeysNodeResult> nodes;
};

// Node -> member, internode only (sealed session).
struct KeyringRequest {
  static constexpr MessageType kType = MessageType::kKeyringRequest;
  KeyAction action = KeyAction::kList;
  std::string key;          // 32 raw bytes (install, use, remove, sync)
  uint64_t version = 0;     // use, sync, confirm
  std::string node;         // confirm: the 16-byte id of the confirming node
  std::string fingerprint;  // confirm
};

// The member's outcome and its keyring after the request.
struct KeyringReply {
  static constexpr MessageType kType = MessageType::kKeyringReply;
  bool ok = false;
  std::string message;
  std::vector<std::string> fingerprints;  // the primary first
  uint64_t version = 0;
};

enum class SnapshotAction : uint32_t {
  kCreate = 1,  // make snapshot `tag` (empty: the node picks the UTC time)
  kList = 2,
  kRemove = 3,  // delete snapshot `tag`
};
constexpr uint32_t kSnapshotActionMax = 3;
// Bounds of the snapshot messages: storage/snapshot_tag.h allows 64-byte tags;
// a node lists at most this many snapshots.
constexpr size_t kSnapshotTagWireBytesMax = 256;
constexpr size_t kSnapshotsListedMax = 10000;

// Client -> node (`kv snapshot`), admin only: acts on the answering node's
// own storage (as `nodetool snapshot` does). Refusals (bad or taken tag, no
// such snapshot) are ErrorReply kInvalid; nothing changed.
struct SnapshotRequest {
  static constexpr MessageType kType = MessageType::kSnapshotRequest;
  SnapshotAction action = SnapshotAction::kList;
  std::string tag;
};

struct SnapshotEntry {
  std::string tag;
  uint64_t created_us = 0;  // Unix microseconds
  uint64_t bytes = 0;       // its files' size (table files shared with the live data by hard links)
};

// The snapshot made, the snapshots listed (by tag), or the one removed.
struct SnapshotReply {
  static constexpr MessageType kType = MessageType::kSnapshotReply;
  std::string node_name;
  std::vector<SnapshotEntry> snapshots;
};

// Bounds of a scan (node/core/scan_coordinator.h): a page holds about
// `count` keys (a hint, as in Redis), at most kScanCountMax; a MATCH pattern
// is at most kScanPatternBytesMax bytes (matching costs pattern x key).
constexpr uint32_t kScanCountMax = 1000;
constexpr size_t kScanPatternBytesMax = 1024;

// Client -> node (`kv scan`, RESP SCAN/KEYS): the live keys at ring positions
// from `cursor` on, whose key matches the Redis glob `pattern` (empty: all).
// `cursor` is a ring position, 0 to start; the reply's cursor resumes the scan
// on any node, and 0 there means the scan is done.
struct ScanRequest {
  static constexpr MessageType kType = MessageType::kScanRequest;
  uint64_t cursor = 0;
  std::string pattern;
  uint32_t count = 10;
  Consistency consistency = Consistency::kQuorum;
};

// A page of keys (user keys, each once, in ring order) and the next cursor.
struct ScanReply {
  static constexpr MessageType kType = MessageType::kScanReply;
  uint64_t cursor = 0;
  std::vector<std::string> keys;
};

// Node -> replica (a scan's page): the records at positions [begin,
// end_inclusive] whose key matches `pattern`, in storage-key order, without
// values, tombstones and expired ones included (the coordinator merges by
// last write wins). About `max_entries` entries at most, always whole
// positions (every key of the last position returned is in the reply).
struct RangeKeysRequest {
  static constexpr MessageType kType = MessageType::kRangeKeysRequest;
  uint64_t begin = 0;
  uint64_t end_inclusive = 0;
  std::string pattern;
  uint32_t max_entries = 0;
};

// One record's key and version as a scan needs them (no value).
struct KeyVersion {
  std::string key;
  uint64_t timestamp_us = 0;
  uint64_t tiebreak = 0;
  bool tombstone = false;
  uint64_t expires_at_us = 0;  // 0: never
};

// Every record of the range at positions [begin, covered_through] that
// matches is in `entries`; the replica stopped there (covered_through ==
// end_inclusive: the whole range).
struct RangeKeysReply {
  static constexpr MessageType kType = MessageType::kRangeKeysReply;
  std::vector<KeyVersion> entries;
  uint64_t covered_through = 0;
};

// Client -> node (RESP DBSIZE): an estimate of the live keys of the cluster.
struct DbSizeRequest {
  static constexpr MessageType kType = MessageType::kDbSizeRequest;
};

// `keys` is an estimate (storage estimates of the nodes that answered, each
// divided by its share of the ring's replicas); `nodes_answered` of `nodes`.
struct DbSizeReply {
  static constexpr MessageType kType = MessageType::kDbSizeReply;
  uint64_t keys = 0;
  uint32_t nodes_answered = 0;
  uint32_t nodes = 0;
};

using Body = std::variant<ErrorReply, PutRequest, WriteReply, GetRequest, GetReply, DeleteRequest,
                          PushPullRequest, PushPullReply, StatusRequest, StatusReply,
                          ReplicaWriteRequest, ReplicaWriteReply, ReplicaReadRequest,
                          ReplicaReadReply, EndpointsRequest, EndpointsReply, RingRequest, RingReply,
                          StatsRequest, StatsReply, StreamReadRequest, StreamReadReply,
                          StreamWriteRequest, StreamWriteReply, TopologyRequest, TopologyReply,
                          RangeDigestRequest, RangeDigestReply, AuthRequest, AuthReply, KeysRequest,
                          KeysReply, KeyringRequest, KeyringReply, SnapshotRequest, SnapshotReply,
                          ScanRequest, ScanReply, RangeKeysRequest, RangeKeysReply, DbSizeRequest,
                          DbSizeReply>;

struct Message {
  uint64_t request_id = 0;
  Body body;
};

inline MessageType type_of(const Body& body) {
  return std::visit([](const auto& b) { return std::decay_t<decltype(b)>::kType; }, body);
}

}  // namespace ringkv::wire
