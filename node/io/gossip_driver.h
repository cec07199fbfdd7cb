// GossipDriver: runs the node's SWIM state machine on libuv.
//
// Owns the UDP socket (bound to the node's listen address, so datagrams
// carry the node's own source address) and one timer armed at the state
// machine's next deadline. pump() drains everything the state machine
// emitted (datagrams, push-pull requests sent over PeerClient, membership
// events logged one line each) and re-arms the timer; the owner calls it
// after every input that may have touched membership. Every datagram goes
// through TrustContext: sealed on the way out when the node seals, opened
// (or refused, counted, and dropped) on the way in.
//
// Thread model: the loop's thread only.
#pragma once

#include <uv.h>

#include <expected>
#include <functional>
#include <string>
#include <vector>

#include "node/core/node_core.h"
#include "node/io/peer_client.h"
#include "node/io/trust_context.h"

namespace ringkv::io {

class GossipDriver {
 public:
  GossipDriver(uv_loop_t* loop, core::NodeCore& core, PeerClient& peers, TrustContext& trust,
               std::function<core::Now()> clock, std::string listen_address);
  GossipDriver(const GossipDriver&) = delete;
  GossipDriver& operator=(const GossipDriver&) = delete;

  // Binds UDP and starts joining through `seeds`.
  std::expected<void, std::string> start(std::vector<std::string> seeds);
  void pump();
  void stop();

 private:
  static void on_receive(uv_udp_t* handle, ssize_t nread, const uv_buf_t* buf, const sockaddr* from,
                         unsigned flags);
  static void on_timer(uv_timer_t* timer);
  void send_datagram(const std::string& address, std::string bytes);

  uv_loop_t* loop_;
  core::NodeCore& core_;
  PeerClient& peers_;
  TrustContext& trust_;
  std::function<core::Now()> clock_;
  std::string listen_address_;
  uv_udp_t udp_;
  uv_timer_t timer_;
  bool running_ = false;
  char receive_buffer_[64 * 1024];
};

}  // namespace ringkv::io
