#include "node/core/client_access.h"

namespace ringkv::core {

std::optional<trust::Role> client_role_needed(const wire::Body& body) {
  using wire::MessageType;
  switch (wire::type_of(body)) {
    case MessageType::kAuthRequest:
    case MessageType::kGetRequest:
    case MessageType::kStatusRequest:
    case MessageType::kEndpointsRequest:
    case MessageType::kRingRequest:
    case MessageType::kStatsRequest:
    case MessageType::kScanRequest:
    case MessageType::kDbSizeRequest:
      return trust::Role::kRead;
    case MessageType::kPutRequest:
    case MessageType::kDeleteRequest:
      return trust::Role::kReadWrite;
    case MessageType::kKeysRequest:
    case MessageType::kSnapshotRequest:
      return trust::Role::kAdmin;
    case MessageType::kTopologyRequest:
      switch (std::get<wire::TopologyRequest>(body).action) {
        case wire::TopologyAction::kDecommission:
        case wire::TopologyAction::kRemoveNode:
        case wire::TopologyAction::kCleanup:
          return trust::Role::kAdmin;
        case wire::TopologyAction::kLeft:
        case wire::TopologyAction::kRemoving:
          return std::nullopt;
      }
      return std::nullopt;
    default:
      return std::nullopt;
  }
}

std::string_view request_name(const wire::Body& body) {
  using wire::MessageType;
  switch (wire::type_of(body)) {
    case MessageType::kAuthRequest: return "auth";
    case MessageType::kGetRequest: return "get";
    case MessageType::kStatusRequest: return "status";
    case MessageType::kEndpointsRequest: return "endpoints";
    case MessageType::kRingRequest: return "ring";
    case MessageType::kStatsRequest: return "stats";
    case MessageType::kScanRequest: return "scan";
    case MessageType::kDbSizeRequest: return "dbsize";
    case MessageType::kPutRequest: return "put";
    case MessageType::kDeleteRequest: return "del";
    case MessageType::kKeysRequest: return "keys";
    case MessageType::kSnapshotRequest: return "snapshot";
    case MessageType::kTopologyRequest:
      switch (std::get<wire::TopologyRequest>(body).action) {
        case wire::TopologyAction::kDecommission: return "decommission";
        case wire::TopologyAction::kRemoveNode: return "removenode";
        case wire::TopologyAction::kCleanup: return "cleanup";
        default: return "a topology step between nodes";
      }
    default:
      return "an internode message";
  }
}

}  // namespace ringkv::core
