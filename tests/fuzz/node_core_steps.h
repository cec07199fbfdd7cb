// The input layout of the NodeCore fuzz target (node_core_fuzz.cc), shared with the seed
// generator (seed_generator.cc), which writes inputs step by step:
//
//   input = setup(1) step*
//   step  = op(1) arg(1) dt_ms(u16 LE) payload_length(u16 LE) payload
//
// The setup byte's bits: kSetupRemembered starts node1 with node2 and node3 remembered in its
// ring (as after a restart), kSetupUsers gives it users (one per role). Each step first
// advances time by dt_ms, then acts by op (taken modulo kStepOps); `arg` picks a connection,
// a peer address or a pending peer request. Payloads are wire frames' msgpack (ops 0 to 2) or
// membership bytes (3, 4).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "tests/fuzz/fuzz_input.h"

namespace ringkv::fuzz {

enum class StepOp : uint8_t {
  kClientMessage = 0,  // a wire message on a client connection (client arg % 4 + 1)
  kPeerMessage = 1,    // the same on a peer (internode) connection
  kPeerReply = 2,      // the reply to pending peer request arg % n; undecodable: a failure
  kDatagram = 3,       // a gossip datagram from peer address arg % 3
  kPushPullReply = 4,  // a push-pull reply from peer address arg % 3
  kTick = 5,           // the node's timers and membership's
  kClose = 6,          // connection arg % 4 + 1 closed
};
inline constexpr uint8_t kStepOps = 7;

inline constexpr uint8_t kSetupRemembered = 1;
inline constexpr uint8_t kSetupUsers = 2;

// The harness's cluster: node1 (the node under test) and two peers.
inline constexpr char kNodeIdByte[3] = {1, 2, 3};
inline constexpr std::string_view kNodeAddress[3] = {"127.0.0.1:7001", "127.0.0.1:7002", "127.0.0.1:7003"};
inline constexpr std::string_view kPeerAddress[3] = {"127.0.0.1:7002", "127.0.0.1:7003", "127.0.0.9:5555"};
inline constexpr uint32_t kVnodes = 16;
// Users of kSetupUsers: the password of each is "pw-" + name.
inline constexpr std::string_view kUserNames[3] = {"reader", "writer", "boss"};

inline void append_step(std::string& out, StepOp op, uint8_t arg, uint16_t dt_ms, std::string_view payload) {
  out.push_back(static_cast<char>(op));
  out.push_back(static_cast<char>(arg));
  out.push_back(static_cast<char>(dt_ms & 0xff));
  out.push_back(static_cast<char>(dt_ms >> 8));
  append_field(out, payload);
}

}  // namespace ringkv::fuzz
