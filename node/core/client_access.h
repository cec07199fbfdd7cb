// Client access: which requests a client may send, and the least role each
// needs. This is the whole list; everything else is internode and needs a
// peer channel (channel.h), whatever credentials a client presented.
//
//   read       GetRequest, StatusRequest, EndpointsRequest, RingRequest,
//              StatsRequest, ScanRequest, DbSizeRequest (and AuthRequest, which
//              any connection may send)
//   readwrite  PutRequest, DeleteRequest
//   admin      TopologyRequest decommission | removenode | cleanup, KeysRequest,
//              SnapshotRequest
//
// TopologyRequest kLeft and kRemoving are steps between nodes: internode.
// Nodes also send each other StatusRequest (a join's or leave's
// confirmation): NodeCore serves it as internode on a peer channel.
// Pure functions; no state.
#pragma once

#include <optional>

#include "node/trust/users.h"
#include "node/wire/message.h"

namespace ringkv::core {

// The least role `body` needs as a client request; nullopt when it is not a
// client request (internode, or a reply type sent as a request).
std::optional<trust::Role> client_role_needed(const wire::Body& body);

// What a refused request is called in messages ("put", "decommission"...).
std::string_view request_name(const wire::Body& body);

}  // namespace ringkv::core
