// NodeCore's request dispatch: client requests and internode requests are
// two separate chains, so what a client may send is the short list in
// client_access.h, checked against the connection's credentials and role.
#include <utility>

#include "node/core/client_access.h"
#include "node/core/expiry.h"
#include "node/core/node_core.h"
#include "node/core/range_keys.h"
#include "node/core/snapshot_admin.h"

namespace ringkv::core {
namespace {

// Refusals for overload come in floods: one log line a minute says how many.
constexpr membership::TimeMs kBusyNoticeIntervalMs = 60 * 1000;

wire::ErrorReply error(wire::ErrorCode code, std::string message) {
  return wire::ErrorReply{code, std::move(message)};
}

}  // namespace

void NodeCore::handle_client(ClientId client, std::string_view peer_address, Channel channel,
                             wire::Message request, Now now) {
  last_now_ms_ = now.monotonic_ms;
  last_wall_us_ = now.wall_us;
  // A connection that authenticated as a client is one, whatever the channel:
  // a client credential never opens the internode requests.
  const auto state = clients_.find(client);
  const bool from_peer = channel == Channel::kPeer && (state == clients_.end() || !state->second.role);
  // Nodes confirm a join or a leave by asking each other's status (topology.h).
  const bool peer_status = from_peer && std::holds_alternative<wire::StatusRequest>(request.body);
  const auto needed = client_role_needed(request.body);
  if (needed && !peer_status) {
    handle_client_request(client, peer_address, request, *needed, now);
  } else if (from_peer) {
    handle_internode_request(client, peer_address, request, now);
  } else {
    ++internode_on_client_refused_;
    outgoing_.push_back(Outgoing{client, wire::Message{request.request_id,
                                                       refuse(client, peer_address, wire::ErrorCode::kForbidden,
                                                              "an internode message (or a reply) is refused "
                                                              "on a client connection")}});
  }
  collect_replies(now);
}

void NodeCore::handle_client_request(ClientId client, std::string_view peer_address, wire::Message& request,
                                     trust::Role needed, Now now) {
  const uint64_t id = request.request_id;
  auto answer = [&](wire::Body body) {
    outgoing_.push_back(Outgoing{client, wire::Message{id, std::move(body)}});
  };
  if (auto* auth = std::get_if<wire::AuthRequest>(&request.body)) return answer(authenticate(client, peer_address, *auth));
  if (users_) {
    const auto state = clients_.find(client);
    const bool authenticated = state != clients_.end() && state->second.role;
    if (!authenticated) {
      ++client_refused_noauth_;
      return answer(refuse(client, peer_address, wire::ErrorCode::kNotAuthenticated,
                           "authentication required: this node has users (kv --user NAME --password-file FILE)"));
    }
    if (*state->second.role < needed) {
      ++client_refused_forbidden_;
      return answer(refuse(client, peer_address, wire::ErrorCode::kForbidden,
                           "user " + state->second.user + " (role " +
                               std::string(trust::role_name(*state->second.role)) + ") may not " +
                               std::string(request_name(request.body)) + " (needs role " +
                               std::string(trust::role_name(needed)) + ")"));
    }
  }
  const bool keyspace_request = std::holds_alternative<wire::ScanRequest>(request.body) ||
                                std::holds_alternative<wire::DbSizeRequest>(request.body);
  const bool data_request = std::holds_alternative<wire::PutRequest>(request.body) ||
                            std::holds_alternative<wire::DeleteRequest>(request.body) ||
                            std::holds_alternative<wire::GetRequest>(request.body) || keyspace_request;
  const auto* get = std::get_if<wire::GetRequest>(&request.body);
  const bool own_copy_read = get != nullptr && get->local;
  // Until it has exchanged whole member tables with a member, a node knows the
  // ring only from what it remembered before a restart: a node that joined
  // meanwhile is missing from it, so a write acknowledged by "the replicas it
  // knows" could miss the real ones (cluster_sim --topology join, seed 74 with
  // hint replay paused after every failed delivery). It does not coordinate yet.
  if (data_request && !swim_.joined() && (fresh_ || !own_copy_read)) {
    ++client_refused_not_ready_;
    return answer(error(wire::ErrorCode::kUnavailable,
                        fresh_ ? "this node is still joining the cluster (no seed answered yet)"
                               : "this node restarted and has not yet exchanged member tables with any member; "
                                 "send requests to another node or retry"));
  }
  // A node that is not yet an owner may know only part of the cluster (its
  // member table fills in by gossip), so it does not coordinate: a write
  // acknowledged by "all the replicas it knows" could miss the real ones.
  const Phase phase = topology_.phase();
  if (data_request && !own_copy_read && phase != Phase::kNormal && phase != Phase::kLeaving) {
    ++client_refused_not_ready_;
    return answer(error(wire::ErrorCode::kUnavailable, "this node is " + std::string(to_string(phase)) +
                                                           " the ring, not an owner yet; send requests to another node"));
  }
  if (data_request && !own_copy_read && !keyspace_request) {
    const auto* put = std::get_if<wire::PutRequest>(&request.body);
    const uint64_t bytes = put ? put->key.size() + put->value.size()
                           : get ? get->key.size()
                                 : std::get<wire::DeleteRequest>(request.body).key.size();
    if (auto bound = admission_.admit(client, id, bytes)) return answer(shed(*bound, now));
  }
  if (auto* put = std::get_if<wire::PutRequest>(&request.body)) {
    storage::Record record{{clock_.next(now.wall_us), tiebreak_}, false, std::move(put->value)};
    record.expires_at_us = expiry_of(*put, now.wall_us);
    coordinator_.write(client, id, std::move(put->key), std::move(record), put->consistency, now);
  } else if (auto* del = std::get_if<wire::DeleteRequest>(&request.body)) {
    storage::Record record{{clock_.next(now.wall_us), tiebreak_}, true, ""};
    coordinator_.write(client, id, std::move(del->key), std::move(record), del->consistency, now);
  } else if (get != nullptr && get->local) {
    // Served with the iteration's replica reads (one batched lookup), after
    // the requests the coordinator made before it (a pipelined write first).
    coordinator_.seal();
    collect_replies(now);
    store_.stage(ReplyTo{.client = client, .request_id = id, .own_copy_read = true}, wire::ReplicaReadRequest{std::move(get->key)});
  } else if (get != nullptr) {
    coordinator_.read(client, id, std::move(get->key), get->consistency, now);
  } else if (auto* scan = std::get_if<wire::ScanRequest>(&request.body)) {
    scans_.scan(client, id, *scan, now);  // bounded by its own in-flight cap, not admission
  } else if (std::holds_alternative<wire::DbSizeRequest>(request.body)) {
    scans_.dbsize(client, id, now);
  } else if (std::holds_alternative<wire::StatusRequest>(request.body)) {
    answer(status());
  } else if (auto* endpoints_request = std::get_if<wire::EndpointsRequest>(&request.body)) {
    answer(endpoints(*endpoints_request));
  } else if (std::holds_alternative<wire::RingRequest>(request.body)) {
    answer(ring_summary());
  } else if (std::holds_alternative<wire::StatsRequest>(request.body)) {
    answer(stats(now));
  } else if (auto* keys = std::get_if<wire::KeysRequest>(&request.body)) {
    keyring_admin_.handle_keys(client, id, *keys, now);  // answered once every member has
  } else if (auto* change = std::get_if<wire::TopologyRequest>(&request.body)) {
    answer(topology_.handle_request(*change, now));  // decommission, removenode, cleanup
    after_topology_step();
  } else if (auto* snapshot = std::get_if<wire::SnapshotRequest>(&request.body)) {
    answer(handle_snapshot_request(store_.engine(), swim_.self().name, *snapshot, now.wall_us));
  }
}

void NodeCore::handle_internode_request(ClientId client, std::string_view peer_address, wire::Message& request,
                                        Now now) {
  auto answer = [&](wire::Body body) {
    outgoing_.push_back(Outgoing{client, wire::Message{request.request_id, std::move(body)}});
  };
  // Replica requests are served by the iteration's group commit (take_outgoing).
  const ReplyTo to{.client = client, .request_id = request.request_id};
  if (auto* write = std::get_if<wire::ReplicaWriteRequest>(&request.body)) {
    clock_.observe(write->record.timestamp_us, now.wall_us);
    // A hint meant for this very node is simply its data.
    if (write->hint_target == view_.self_id) write->hint_target.clear();
    store_.stage(to, std::move(*write), now.wall_us);
  } else if (auto* read = std::get_if<wire::ReplicaReadRequest>(&request.body)) {
    store_.stage(to, std::move(*read));
  } else if (auto* push_pull_request = std::get_if<wire::PushPullRequest>(&request.body)) {
    answer(push_pull(peer_address, *push_pull_request, now));
  } else if (auto* stream = std::get_if<wire::StreamReadRequest>(&request.body)) {
    answer(stream_read(*stream));
  } else if (auto* batch = std::get_if<wire::StreamWriteRequest>(&request.body)) {
    answer(stream_write(*batch));
  } else if (auto* range_keys = std::get_if<wire::RangeKeysRequest>(&request.body)) {
    answer(read_range_keys(store_.engine(), *range_keys));
  } else if (auto* digest = std::get_if<wire::RangeDigestRequest>(&request.body)) {
    answer(range_digest_of(*digest, now));
  } else if (auto* keyring = std::get_if<wire::KeyringRequest>(&request.body)) {
    answer(keyring_admin_.handle_keyring(*keyring, now));
  } else if (std::holds_alternative<wire::StatusRequest>(request.body)) {
    answer(status());  // a join's or leave's confirmation
  } else if (auto* step = std::get_if<wire::TopologyRequest>(&request.body)) {
    answer(topology_.handle_request(*step, now));  // left, removing
    after_topology_step();
  } else {
    answer(error(wire::ErrorCode::kInvalid, "not a request"));
  }
}

wire::Body NodeCore::authenticate(ClientId client, std::string_view peer_address, const wire::AuthRequest& request) {
  // Without a users file every client may do everything: any credentials do.
  if (!users_) return wire::AuthReply{std::string(trust::role_name(trust::Role::kAdmin))};
  const auto role = users_->verify(request.user, request.password);
  if (!role) {
    // A failed attempt leaves what the connection was before (as Redis does).
    ++auth_failures_;
    return refuse(client, peer_address, wire::ErrorCode::kNotAuthenticated,
                  "invalid username-password pair or user is disabled.");
  }
  ClientState& state = clients_[client];
  state.role = *role;
  state.user = request.user;
  return wire::AuthReply{std::string(trust::role_name(*role))};
}

wire::ErrorReply NodeCore::shed(Bound bound, Now now) {
  std::string reason = admission_.describe(bound);
  if (now.monotonic_ms >= next_busy_notice_ms_) {
    const uint64_t refused = admission_.refused();
    notices_.push_back("shedding load: " + std::to_string(refused - busy_noted_) +
                       " client requests refused BUSY since the last such line (" + std::to_string(refused) +
                       " in all, kv stats requests_shed_busy); latest: " + reason);
    busy_noted_ = refused;
    next_busy_notice_ms_ = now.monotonic_ms + kBusyNoticeIntervalMs;
  }
  return error(wire::ErrorCode::kBusy, std::move(reason));
}

wire::ErrorReply NodeCore::refuse(ClientId client, std::string_view peer_address, wire::ErrorCode code,
                                  std::string reason) {
  ClientState& state = clients_[client];
  if (!state.refusal_noted) {
    state.refusal_noted = true;
    notices_.push_back("refused a request from client connection " + std::to_string(client) +
                       (peer_address.empty() ? "" : " (" + std::string(peer_address) + ")") + ": " + reason);
  }
  return error(code, std::move(reason));
}

}  // namespace ringkv::core
