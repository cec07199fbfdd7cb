// Transport: how a simulated node hands its output to the simulated network. Cluster
// implements it; NodeHost only calls it. Every method returns at once: delivery happens later,
// as events on the World.
#pragma once

#include <expected>
#include <functional>
#include <string>

#include "node/core/coordinator.h"
#include "node/wire/message.h"

namespace ringkv::cluster_sim {

// The outcome of a TCP request: the reply, or why the connection failed.
using Reply = std::expected<wire::Message, std::string>;
using ReplyHandler = std::function<void(const Reply&)>;

class Transport {
 public:
  virtual ~Transport() = default;
  // A UDP datagram from node `from`.
  virtual void send_datagram(int from, const std::string& to_address, std::string bytes) = 0;
  // A TCP request from node `from`; `done` runs exactly once, unless `from` crashes first.
  virtual void send_request(int from, const std::string& to_address, wire::Body body,
                            ReplyHandler done) = 0;
  // Node `from` answers the connection `reply.client`.
  virtual void send_reply(int from, core::Outgoing reply) = 0;
};

}  // namespace ringkv::cluster_sim
