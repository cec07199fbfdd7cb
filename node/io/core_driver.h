// CoreDriver: connects NodeCore's requests to other nodes and its timers to
// libuv, and runs the node's single "pump" that drains every output after
// every input.
//
// pump() is the one place outputs leave the core: client replies (through
// the TcpServer), peer requests (sent with PeerClient, whose outcomes come
// back as NodeCore::handle_peer_reply), membership output (GossipDriver),
// then the core's timer is re-armed at its next deadline. It is re-entrant
// safe: a pump requested while one runs makes the running one go round
// again instead of recursing.
//
// Thread model: the loop's thread only.
#pragma once

#include <uv.h>

#include <functional>

#include "node/core/node_core.h"
#include "node/io/peer_client.h"

namespace ringkv::io {

class CoreDriver {
 public:
  // `drain_others` delivers client replies and membership output; it runs
  // inside every pump.
  CoreDriver(uv_loop_t* loop, core::NodeCore& core, PeerClient& peers,
             std::function<core::Now()> clock, std::function<void()> drain_others);
  CoreDriver(const CoreDriver&) = delete;
  CoreDriver& operator=(const CoreDriver&) = delete;

  void start();
  // Drains now.
  void pump();
  // Drains once this loop iteration's I/O callbacks have all run (a libuv
  // check handle), so requests that arrived on many connections together
  // share one WAL flush and one write per connection.
  void request_pump();
  void stop();

 private:
  static void on_timer(uv_timer_t* timer);
  void send_peer_requests();

  uv_loop_t* loop_;
  core::NodeCore& core_;
  PeerClient& peers_;
  std::function<core::Now()> clock_;
  std::function<void()> drain_others_;
  uv_timer_t timer_;
  uv_check_t check_;
  bool running_ = false;
  bool pump_requested_ = false;
  bool pumping_ = false;
  bool pump_again_ = false;
};

}  // namespace ringkv::io
