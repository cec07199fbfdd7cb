#include "node/io/core_driver.h"

#include <algorithm>

namespace ringkv::io {

CoreDriver::CoreDriver(uv_loop_t* loop, core::NodeCore& core, PeerClient& peers,
                       std::function<core::Now()> clock, std::function<void()> drain_others)
    : loop_(loop), core_(core), peers_(peers), clock_(std::move(clock)), drain_others_(std::move(drain_others)) {}

void CoreDriver::start() {
  uv_timer_init(loop_, &timer_);
  timer_.data = this;
  uv_check_init(loop_, &check_);
  check_.data = this;
  uv_check_start(&check_, [](uv_check_t* check) {
    auto* self = static_cast<CoreDriver*>(check->data);
    if (self->pump_requested_) self->pump();
  });
  running_ = true;
  pump();
}

void CoreDriver::request_pump() { pump_requested_ = true; }

void CoreDriver::stop() {
  if (!running_) return;
  running_ = false;
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&check_), nullptr);
}

void CoreDriver::on_timer(uv_timer_t* timer) {
  auto* self = static_cast<CoreDriver*>(timer->data);
  self->core_.tick(self->clock_());
  self->pump();
}

void CoreDriver::pump() {
  if (!running_) return;
  if (pumping_) {
    pump_again_ = true;
    return;
  }
  pumping_ = true;
  pump_requested_ = false;
  do {
    pump_again_ = false;
    drain_others_();
    send_peer_requests();
  } while (pump_again_);
  peers_.flush_all();
  pumping_ = false;
  const auto delay = std::max<membership::TimeMs>(0, core_.next_deadline() - clock_().monotonic_ms);
  uv_timer_start(&timer_, on_timer, static_cast<uint64_t>(delay), 0);
}

void CoreDriver::send_peer_requests() {
  for (auto& request : core_.take_peer_requests()) {
    const core::PeerRoute route = request.route;
    peers_.send(request.address, std::move(request.body),
                [this, route](std::expected<wire::Message, std::string> reply) {
                  if (!running_) return;
                  core_.handle_peer_reply(route, reply, clock_());
                  request_pump();
                },
                request.seal_with);
  }
}

}  // namespace ringkv::io
