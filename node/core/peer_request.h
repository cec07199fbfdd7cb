// PeerRequest: a message the core wants sent to another node. The I/O layer
// sends it and feeds the outcome back with the same route, exactly once
// (peer_route.h says whom the route names).
#pragma once

#include <string>

#include "node/core/peer_route.h"
#include "node/wire/message.h"

namespace ringkv::core {

struct PeerRequest {
  PeerRoute route;
  std::string address;
  wire::Body body;
  // Raw bytes of an installed key to seal a fresh session's Hello with
  // instead of the primary (keyring sync to a member that lacks the
  // primary); empty: the primary over the usual connection.
  std::string seal_with;
};

}  // namespace ringkv::core
