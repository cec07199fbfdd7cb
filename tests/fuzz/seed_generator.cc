// Seed generator: writes the checked-in seed corpora (corpus/<target>/) by encoding real
// messages with the project's own encoders, in each target's input layout. Deterministic except
// for the random nonces inside sealed seeds. Run by scripts/fuzz.sh --regenerate-seeds:
//
//   build-fuzz/tests/fuzz/seed_generator tests/fuzz/corpus
#include <sodium.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "membership/codec.h"
#include "membership/config.h"
#include "membership/swim.h"
#include "node/resp/reply_encoder.h"
#include "node/trust/sealed_batch.h"
#include "node/trust/sealed_datagram.h"
#include "node/trust/session.h"
#include "node/wire/codec.h"
#include "tests/fuzz/node_core_steps.h"
#include "tests/fuzz/sealed_inputs.h"

using namespace ringkv;
using fuzz::StepOp;

namespace {

std::filesystem::path g_root;

void write_seed(const std::string& target, const std::string& name, const std::string& bytes) {
  const std::filesystem::path dir = g_root / target;
  std::filesystem::create_directories(dir);
  std::ofstream(dir / name, std::ios::binary) << bytes;
}

std::string id(char byte) { return std::string(membership::kNodeIdBytes, byte); }

// One message of every type, with plausible contents.
std::vector<std::pair<std::string, wire::Body>> sample_bodies() {
  const wire::WireRecord record{1'700'000'000'000'000, 7, false, "value"};
  return {
      {"error_reply", wire::ErrorReply{wire::ErrorCode::kInvalid, "bad"}},
      {"put", wire::PutRequest{"key", "value", wire::Consistency::kQuorum}},
      {"put_one", wire::PutRequest{"k2", std::string(300, 'v'), wire::Consistency::kOne}},
      {"write_reply", wire::WriteReply{1'700'000'000'000'000, 7}},
      {"get", wire::GetRequest{"key", wire::Consistency::kQuorum, false}},
      {"get_local", wire::GetRequest{"key", wire::Consistency::kOne, true}},
      {"get_reply", wire::GetReply{true, "value", 1'700'000'000'000'000, 7}},
      {"delete", wire::DeleteRequest{"key", wire::Consistency::kAll}},
      {"push_pull_request", wire::PushPullRequest{"payload"}},
      {"push_pull_reply", wire::PushPullReply{"payload"}},
      {"status", wire::StatusRequest{}},
      {"status_reply", wire::StatusReply{"node1",
                                         {{"node1", id(1), "127.0.0.1:7001", "alive", "normal", 1, 16, -3}},
                                         10, 100, "trouble"}},
      {"replica_write", wire::ReplicaWriteRequest{"key", record, ""}},
      {"replica_write_hint", wire::ReplicaWriteRequest{"key", record, id(2)}},
      {"replica_write_reply", wire::ReplicaWriteReply{0, 0}},
      {"replica_read", wire::ReplicaReadRequest{"key"}},
      {"replica_read_reply", wire::ReplicaReadReply{true, record}},
      {"endpoints", wire::EndpointsRequest{"key"}},
      {"endpoints_reply", wire::EndpointsReply{42, {{"node1", "127.0.0.1:7001"}}}},
      {"ring", wire::RingRequest{}},
      {"ring_reply", wire::RingReply{3, {{"node1", "127.0.0.1:7001", 16, 1'000'000, 333'333}}}},
      {"stats", wire::StatsRequest{}},
      {"stats_reply", wire::StatsReply{{{"ops", 1}, {"hints", 2}}}},
      {"stream_read", wire::StreamReadRequest{0, 0, "", 65536}},
      {"stream_read_reply", wire::StreamReadReply{{{"key", record}}, true}},
      {"stream_write", wire::StreamWriteRequest{{{"key", record}, {"gone", {5, 1, true, ""}}}}},
      {"stream_write_reply", wire::StreamWriteReply{}},
      {"topology_cleanup", wire::TopologyRequest{wire::TopologyAction::kCleanup, ""}},
      {"topology_decommission", wire::TopologyRequest{wire::TopologyAction::kDecommission, ""}},
      {"topology_removenode", wire::TopologyRequest{wire::TopologyAction::kRemoveNode, "node2"}},
      {"topology_left", wire::TopologyRequest{wire::TopologyAction::kLeft, "02020202020202020202020202020202"}},
      {"topology_reply", wire::TopologyReply{"done"}},
      {"range_digest", wire::RangeDigestRequest{0, 0}},
      {"range_digest_reply", wire::RangeDigestReply{99, 3}},
      {"auth", wire::AuthRequest{"writer", "pw-writer"}},
      {"auth_reply", wire::AuthReply{"admin"}},
      {"keys_list", wire::KeysRequest{wire::KeyAction::kList, ""}},
      {"keys_reply", wire::KeysReply{{{"node1", true, "", {"0011223344556677"}, 2}}}},
      {"keyring_sync", wire::KeyringRequest{wire::KeyAction::kSync, std::string(32, 'k'), 3, "", ""}},
      {"keyring_reply", wire::KeyringReply{true, "", {"0011223344556677"}, 3}},
      {"scan", wire::ScanRequest{12345, "user:*", 100, wire::Consistency::kQuorum}},
      {"scan_reply", wire::ScanReply{77, {"user:1", std::string("b\0in", 4)}}},
      {"range_keys", wire::RangeKeysRequest{12345, 99999, "[a-c]?x*", 100}},
      {"range_keys_reply", wire::RangeKeysReply{{{"key", 1'700'000'000'000'000, 7, false, 0},
                                                 {"gone", 5, 1, true, 1'800'000'000'000'000}},
                                                99999}},
      {"dbsize", wire::DbSizeRequest{}},
      {"dbsize_reply", wire::DbSizeReply{2000, 3, 3}},
  };
}

std::string encoded(wire::Body body, uint64_t request_id = 1) {
  return wire::encode(wire::Message{request_id, std::move(body)});
}

void wire_seeds() {
  std::string stream;
  for (const auto& [name, body] : sample_bodies()) {
    write_seed("wire_codec_fuzz", name, encoded(body));
    if (stream.size() < 512) wire::encode_frame(wire::Message{2, body}, stream);
  }
  write_seed("wire_codec_fuzz", "frame_stream", stream);
}

membership::Member member_of(int index) {
  membership::Member member;
  member.id = id(fuzz::kNodeIdByte[index]);
  member.name = "node" + std::to_string(index + 1);
  member.address = std::string(fuzz::kNodeAddress[index]);
  member.incarnation = uint64_t{1} << 32;
  member.ring_status = membership::RingStatus::kNormal;
  member.vnode_count = fuzz::kVnodes;
  return member;
}

std::string datagram(int sender, const membership::Body& body, bool with_updates) {
  const membership::Config config;
  const membership::PacketHeader header{membership::kProtocolVersion, config.cluster_name, id(fuzz::kNodeIdByte[sender]),
                                        uint64_t{1} << 32};
  membership::PacketWriter writer(header, body, config.datagram_bytes_max);
  if (with_updates) {
    for (int i = 0; i < 3; ++i) writer.try_add(membership::encode_update({member_of(i), id(fuzz::kNodeIdByte[sender])}));
  }
  return std::move(writer).finish();
}

std::string push_pull(int sender) {
  membership::PushPull message;
  message.cluster = membership::Config{}.cluster_name;
  message.sender_id = id(fuzz::kNodeIdByte[sender]);
  message.join = true;
  for (int i = 0; i < 3; ++i) message.members.push_back(member_of(i));
  return membership::encode_push_pull(message);
}

void membership_seeds() {
  const std::string target = "membership_codec_fuzz";
  write_seed(target, "ping", datagram(1, membership::Ping{1, id(1), 1'700'000'000'000'000}, true));
  write_seed(target, "ping_req", datagram(1, membership::PingReq{2, id(3), "127.0.0.1:7003"}, false));
  write_seed(target, "ack", datagram(2, membership::Ack{1, 1'700'000'000'000'000, 1'699'999'999'999'000}, true));
  write_seed(target, "nack", datagram(2, membership::Nack{3}, false));
  write_seed(target, "gossip", datagram(1, membership::Gossip{}, true));
  write_seed(target, "push_pull", push_pull(1));
}

void resp_seeds() {
  const std::string target = "resp_parser_fuzz";
  std::string multibulk;
  resp::append_command(multibulk, {"SET", "key", "value"});
  resp::append_command(multibulk, {"GET", "key"});
  resp::append_command(multibulk, {"MSET", "a", "1", "b", "2"});
  resp::append_command(multibulk, {"DEL", "a", "b"});
  for (char limits : {'\0', '\1'}) {
    const std::string prefix{limits, '\7'};
    const std::string suffix = limits ? "_tiny" : "";
    write_seed(target, "multibulk" + suffix, prefix + multibulk);
    write_seed(target, "inline" + suffix, prefix + "PING\r\nGET key\nSET key value\r\n\r\nECHO  hi\tthere\n");
    write_seed(target, "mixed" + suffix, prefix + "EXISTS a\r\n" + multibulk + "INFO keyspace\r\n");
  }
}

std::string sealed_seed(fuzz::SealedMode mode, const std::string& fields) {
  return std::string(1, static_cast<char>(mode)) + fields;
}

void sealed_seeds() {
  const std::string target = "sealed_fuzz";
  trust::DatagramSealer sealer(fuzz::kSealedCluster, std::string(trust::kSenderIdBytes, 's'), 1);
  const std::string gossip = datagram(1, membership::Gossip{}, true);
  write_seed(target, "forged_authentic", sealed_seed(fuzz::SealedMode::kForged, sealer.seal(fuzz::kPrimaryKey, gossip)));
  write_seed(target, "forged_plaintext", sealed_seed(fuzz::SealedMode::kForged, gossip));
  const trust::Keyring keyring = *trust::Keyring::create({fuzz::kPrimaryKey});
  std::string hello;
  trust::Session::initiate(keyring, sealer, fuzz::kSealedCluster, hello);
  write_seed(target, "forged_hello", sealed_seed(fuzz::SealedMode::kForged, hello));

  std::string datagram_fields{"\1\x20\0\x01\x10\0", 6};
  fuzz::append_field(datagram_fields, gossip);
  write_seed(target, "datagram", sealed_seed(fuzz::SealedMode::kDatagram, datagram_fields));

  for (uint8_t flags : {0, 1, 2}) {
    std::string session_fields{static_cast<char>(flags), '\0', '\2', '\3'};
    fuzz::append_field(session_fields, encoded(wire::PutRequest{"key", "value"}));
    fuzz::append_field(session_fields, encoded(wire::GetRequest{"key"}));
    fuzz::append_field(session_fields, std::string(600, 'x'));
    fuzz::append_field(session_fields, encoded(wire::WriteReply{5, 7}));
    session_fields.append("\x05\0\x80", 3);
    fuzz::append_field(session_fields, "next");
    session_fields.append("forged frame bytes, long enough for a tag");
    write_seed(target, "session_" + std::to_string(flags), sealed_seed(fuzz::SealedMode::kSession, session_fields));
  }

  std::string batch{"\0\x10", 2};
  for (const std::string& message : {encoded(wire::StatusRequest{}), encoded(wire::RingRequest{})}) {
    const size_t size = message.size();
    batch.append({'\0', '\0', '\0', static_cast<char>(size)});
    batch.append(message);
  }
  write_seed(target, "batch", sealed_seed(fuzz::SealedMode::kBatch, batch));
}

// A node_core_fuzz input under construction.
struct Steps {
  std::string bytes;
  explicit Steps(uint8_t setup) : bytes(1, static_cast<char>(setup)) {}
  Steps& client(wire::Body body, uint8_t connection = 0) {
    fuzz::append_step(bytes, StepOp::kClientMessage, connection, 10, encoded(std::move(body)));
    return *this;
  }
  Steps& peer(wire::Body body, uint8_t connection = 0) {
    fuzz::append_step(bytes, StepOp::kPeerMessage, connection, 10, encoded(std::move(body)));
    return *this;
  }
  Steps& reply(wire::Body body, uint8_t pending = 0) {
    fuzz::append_step(bytes, StepOp::kPeerReply, pending, 5, encoded(std::move(body)));
    return *this;
  }
  Steps& failed_reply(uint8_t pending = 0) {
    fuzz::append_step(bytes, StepOp::kPeerReply, pending, 5, "");
    return *this;
  }
  Steps& raw(StepOp op, uint8_t arg, std::string_view payload) {
    fuzz::append_step(bytes, op, arg, 10, payload);
    return *this;
  }
  Steps& tick(uint16_t dt_ms) {
    fuzz::append_step(bytes, StepOp::kTick, 0, dt_ms, "");
    return *this;
  }
};

void node_core_seeds() {
  const std::string target = "node_core_fuzz";
  const wire::WireRecord record{1'700'000'000'000'000, 9, false, "value"};

  Steps single(0);
  for (const auto& [name, body] : sample_bodies()) single.client(body);
  single.tick(3000);
  write_seed(target, "single_node_every_message_from_a_client", single.bytes);

  Steps internode(0);
  for (const auto& [name, body] : sample_bodies()) internode.peer(body, 1);
  internode.tick(3000).raw(StepOp::kClose, 1, "");
  write_seed(target, "single_node_every_message_from_a_peer", internode.bytes);

  // node2 and node3 remembered: they join by push-pull and gossip, then a QUORUM put and get go
  // to them and come back.
  Steps three(fuzz::kSetupRemembered);
  three.peer(wire::PushPullRequest{push_pull(1)}, 0)
      .peer(wire::PushPullRequest{push_pull(2)}, 1)
      .raw(StepOp::kDatagram, 0, datagram(1, membership::Ping{1, id(1), 1'700'000'000'000'000}, true))
      .raw(StepOp::kDatagram, 1, datagram(2, membership::Gossip{}, true))
      .tick(1000)
      .raw(StepOp::kPushPullReply, 0, push_pull(1))
      .client(wire::PutRequest{"key", "value"})
      .reply(wire::ReplicaWriteReply{0, 0}, 0)
      .reply(wire::ReplicaWriteReply{0, 0}, 0)
      .client(wire::GetRequest{"key"})
      .reply(wire::ReplicaReadReply{true, record}, 0)
      .failed_reply(0)
      .client(wire::DeleteRequest{"key", wire::Consistency::kAll})
      .reply(wire::ReplicaWriteReply{record.timestamp_us + 1, 3}, 0)
      .tick(2500)
      .client(wire::TopologyRequest{wire::TopologyAction::kDecommission, ""})
      .tick(1000)
      .reply(wire::StreamWriteReply{}, 0)
      .tick(1000);
  write_seed(target, "three_nodes_quorum_traffic", three.bytes);

  Steps down(fuzz::kSetupRemembered);
  down.client(wire::PutRequest{"key", "value", wire::Consistency::kOne})
      .peer(wire::ReplicaWriteRequest{"hinted", record, id(2)}, 2)
      .tick(5000)
      .tick(30000)
      .client(wire::TopologyRequest{wire::TopologyAction::kRemoveNode, "node3"})
      .tick(5000);
  write_seed(target, "three_nodes_peers_down", down.bytes);

  Steps users(fuzz::kSetupUsers);
  users.client(wire::PutRequest{"key", "value"})
      .client(wire::AuthRequest{"reader", "pw-reader"})
      .client(wire::PutRequest{"key", "value"})
      .client(wire::AuthRequest{"writer", "wrong"}, 1)
      .client(wire::AuthRequest{"writer", "pw-writer"}, 1)
      .client(wire::PutRequest{"key", "value"}, 1)
      .client(wire::ReplicaWriteRequest{"key", record, ""}, 1)
      .peer(wire::AuthRequest{"boss", "pw-boss"}, 2)
      .peer(wire::TopologyRequest{wire::TopologyAction::kCleanup, ""}, 2)
      .peer(wire::ReplicaReadRequest{"key"}, 2)
      .raw(StepOp::kClose, 1, "")
      .client(wire::PutRequest{"key", "value"}, 1);
  write_seed(target, "users_and_roles", users.bytes);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
    return 2;
  }
  if (sodium_init() < 0) return 1;
  g_root = argv[1];
  wire_seeds();
  membership_seeds();
  resp_seeds();
  sealed_seeds();
  node_core_seeds();
  return 0;
}
