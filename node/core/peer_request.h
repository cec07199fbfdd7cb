// PeerRequest: a message the core wants sent to another node. The I/O layer
// sends it and feeds the outcome back with the same token, exactly once.
#pragma once

#include <cstdint>
#include <string>

#include "node/wire/message.h"

namespace ringkv::core {

struct PeerRequest {
  uint64_t token = 0;
  std::string address;
  wire::Body body;
};

}  // namespace ringkv::core
