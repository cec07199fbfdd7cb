#include "node/core/node_core.h"

#include <utility>

namespace ringkv::core {
namespace {

wire::ErrorReply error(wire::ErrorCode code, std::string message) {
  return wire::ErrorReply{code, std::move(message)};
}

}  // namespace

NodeCore::NodeCore(storage::Engine& engine, uint64_t tiebreak, membership::Swim swim)
    : engine_(engine), tiebreak_(tiebreak), swim_(std::move(swim)) {}

void NodeCore::handle_client(ClientId client, std::string_view peer_address, wire::Message request,
                             Now now) {
  wire::Body reply;
  if (auto* put_request = std::get_if<wire::PutRequest>(&request.body)) {
    reply = put(*put_request, now.wall_us);
  } else if (auto* get_request = std::get_if<wire::GetRequest>(&request.body)) {
    reply = get(*get_request);
  } else if (auto* delete_request = std::get_if<wire::DeleteRequest>(&request.body)) {
    reply = remove(*delete_request, now.wall_us);
  } else if (auto* push_pull_request = std::get_if<wire::PushPullRequest>(&request.body)) {
    reply = push_pull(peer_address, *push_pull_request, now);
  } else if (std::holds_alternative<wire::StatusRequest>(request.body)) {
    reply = status();
  } else {
    ++counters_.invalid_requests;
    reply = error(wire::ErrorCode::kInvalid, "not a client request");
  }
  outgoing_.push_back(Outgoing{client, wire::Message{request.request_id, std::move(reply)}});
}

std::vector<Outgoing> NodeCore::take_outgoing() { return std::exchange(outgoing_, {}); }

wire::Body NodeCore::put(const wire::PutRequest& request, uint64_t now_us) {
  ++counters_.puts;
  storage::Record record;
  record.version = {clock_.next(now_us), tiebreak_};
  record.value = request.value;
  return write_record(request.key, std::move(record));
}

wire::Body NodeCore::remove(const wire::DeleteRequest& request, uint64_t now_us) {
  ++counters_.deletes;
  storage::Record record;
  record.version = {clock_.next(now_us), tiebreak_};
  record.tombstone = true;
  return write_record(request.key, std::move(record));
}

wire::Body NodeCore::write_record(const std::string& key, storage::Record record) {
  const storage::Version version = record.version;
  std::vector<std::pair<std::string, storage::Record>> batch;
  batch.emplace_back(key, std::move(record));
  if (auto status = engine_.write(batch); !status) return storage_failure(status.error());
  return wire::WriteReply{version.timestamp_us, version.tiebreak};
}

wire::Body NodeCore::get(const wire::GetRequest& request) {
  ++counters_.gets;
  auto stored = engine_.read(request.key);
  if (!stored) return storage_failure(stored.error());
  wire::GetReply reply;
  if (stored->has_value() && !(*stored)->tombstone) {
    reply.found = true;
    reply.value = std::move((*stored)->value);
    reply.timestamp_us = (*stored)->version.timestamp_us;
    reply.tiebreak = (*stored)->version.tiebreak;
  }
  return reply;
}

wire::Body NodeCore::storage_failure(const storage::Error& failure) {
  ++counters_.storage_errors;
  const char* what = failure.kind == storage::ErrorKind::kNoSpace ? "storage full: " : "storage error: ";
  return error(wire::ErrorCode::kInternal, what + failure.message);
}

wire::Body NodeCore::push_pull(std::string_view peer_address, const wire::PushPullRequest& request,
                               Now now) {
  auto reply = swim_.handle_push_pull_request(peer_address, request.payload, now.monotonic_ms);
  if (!reply) {
    return error(wire::ErrorCode::kInvalid,
                 "push-pull refused: " + std::string(membership::to_string(reply.error())));
  }
  return wire::PushPullReply{std::move(*reply)};
}

wire::Body NodeCore::status() {
  wire::StatusReply reply;
  reply.node_name = swim_.self().name;
  for (const membership::Member& member : swim_.members()) {
    reply.members.push_back(wire::MemberStatus{
        member.name, member.id, member.address, std::string(membership::to_string(member.liveness)),
        std::string(membership::to_string(member.ring_status)), member.incarnation, member.vnode_count});
  }
  const storage::Stats stats = engine_.stats();
  reply.keys = stats.data_keys_estimate;
  reply.bytes = stats.data_bytes_estimate;
  return reply;
}

}  // namespace ringkv::core
