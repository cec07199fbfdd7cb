#include "node/io/gossip_driver.h"

#include <spdlog/spdlog.h>

#include "node/wire/address.h"

namespace ringkv::io {
namespace {

// More datagrams than this waiting in the kernel's send path means the
// network is not keeping up; gossip is lossy by design, so drop.
constexpr size_t kUdpSendQueueMax = 1024;

struct UdpSend {
  uv_udp_send_t request;
  std::string bytes;
};

}  // namespace

GossipDriver::GossipDriver(uv_loop_t* loop, core::NodeCore& core, PeerClient& peers, TrustContext& trust,
                           std::function<core::Now()> clock, std::string listen_address)
    : loop_(loop), core_(core), peers_(peers), trust_(trust), clock_(std::move(clock)), listen_address_(std::move(listen_address)) {}

std::expected<void, std::string> GossipDriver::start(std::vector<std::string> seeds) {
  auto address = wire::parse_address(listen_address_);
  if (!address) return std::unexpected(address.error());
  uv_udp_init(loop_, &udp_);
  udp_.data = this;
  uv_timer_init(loop_, &timer_);
  timer_.data = this;
  running_ = true;
  int rc = uv_udp_bind(&udp_, reinterpret_cast<const sockaddr*>(&*address), 0);
  if (rc == 0) {
    rc = uv_udp_recv_start(
        &udp_,
        [](uv_handle_t* handle, size_t, uv_buf_t* buf) {
          auto* self = static_cast<GossipDriver*>(handle->data);
          *buf = uv_buf_init(self->receive_buffer_, sizeof(self->receive_buffer_));
        },
        on_receive);
  }
  if (rc != 0) {
    stop();
    return std::unexpected("cannot bind UDP " + listen_address_ + ": " + uv_strerror(rc));
  }
  core_.membership().join(std::move(seeds), clock_().monotonic_ms);
  pump();
  return {};
}

void GossipDriver::stop() {
  if (!running_) return;
  running_ = false;
  uv_close(reinterpret_cast<uv_handle_t*>(&udp_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), nullptr);
}

void GossipDriver::on_receive(uv_udp_t* handle, ssize_t nread, const uv_buf_t* buf, const sockaddr* from,
                              unsigned) {
  auto* self = static_cast<GossipDriver*>(handle->data);
  if (nread <= 0 || from == nullptr || from->sa_family != AF_INET) return;
  const std::string sender = wire::format_address(*reinterpret_cast<const sockaddr_in*>(from));
  const core::Now now = self->clock_();
  auto opened = self->trust_.open_datagram(std::string_view(buf->base, static_cast<size_t>(nread)), sender,
                                           static_cast<uint64_t>(now.monotonic_ms));
  if (!opened) return;  // refused: counted and logged, nothing changed
  auto handled = self->core_.membership().handle_datagram(sender, *opened, now.monotonic_ms, now.wall_us);
  if (!handled) {
    spdlog::warn("dropped datagram from {}: {}", sender, membership::to_string(handled.error()));
  }
  self->pump();
}

void GossipDriver::on_timer(uv_timer_t* timer) {
  auto* self = static_cast<GossipDriver*>(timer->data);
  const core::Now now = self->clock_();
  self->core_.membership().tick(now.monotonic_ms, now.wall_us);
  self->pump();
}

void GossipDriver::send_datagram(const std::string& address, std::string bytes) {
  auto target = wire::parse_address(address);
  if (!target || uv_udp_get_send_queue_count(&udp_) > kUdpSendQueueMax) return;
  auto* send = new UdpSend;
  send->bytes = trust_.seal_datagram(std::move(bytes));
  send->request.data = send;
  uv_buf_t buf = uv_buf_init(send->bytes.data(), static_cast<unsigned>(send->bytes.size()));
  if (uv_udp_send(&send->request, &udp_, &buf, 1, reinterpret_cast<const sockaddr*>(&*target),
                  [](uv_udp_send_t* request, int) { delete static_cast<UdpSend*>(request->data); }) != 0) {
    delete send;
  }
}

void GossipDriver::pump() {
  if (!running_) return;
  membership::Swim& swim = core_.membership();
  for (auto& datagram : swim.take_outgoing()) send_datagram(datagram.address, std::move(datagram.bytes));
  for (auto& request : swim.take_push_pull_requests()) {
    const std::string address = request.address;
    peers_.send(address, wire::PushPullRequest{std::move(request.bytes)},
                [this, address](std::expected<wire::Message, std::string> reply) {
                  if (!running_) return;
                  const auto* payload = reply ? std::get_if<wire::PushPullReply>(&reply->body) : nullptr;
                  if (payload == nullptr) {
                    spdlog::debug("push-pull with {} failed: {}", address,
                                  reply ? "unexpected reply" : reply.error());
                    return;
                  }
                  auto merged = core_.membership().handle_push_pull_reply(address, payload->payload,
                                                                           clock_().monotonic_ms);
                  if (!merged) {
                    spdlog::warn("push-pull reply from {} dropped: {}", address,
                                 membership::to_string(merged.error()));
                  }
                  pump();
                });
  }
  peers_.flush_all();
  for (const auto& event : core_.take_membership_events(clock_())) {
    spdlog::info("member {} ({}) {}: incarnation {}, ring {}", event.member.name, event.member.address,
                 membership::to_string(event.kind), event.member.incarnation,
                 membership::to_string(event.member.ring_status));
  }
  for (const auto& warning : swim.take_clock_warnings()) {
    spdlog::warn("member {} ({}) clock offset {:+.1f} ms (+/- {:.1f} ms), beyond --max-clock-offset-ms",
                 warning.member.name, warning.member.address, warning.offset.offset_us / 1000.0,
                 warning.offset.uncertainty_us / 1000.0);
  }
  for (const auto& conflict : swim.take_rack_conflicts()) {
    spdlog::warn("member {} ({}) is in rack '{}' but a newer record names rack '{}': refused (a "
                 "node's rack never changes; decommission it and join again to move it)",
                 conflict.known.name, conflict.known.address, conflict.known.rack,
                 conflict.claimed_rack);
  }
  const membership::TimeMs now = clock_().monotonic_ms;
  const membership::TimeMs delay = std::max<membership::TimeMs>(0, swim.next_deadline() - now);
  uv_timer_start(&timer_, on_timer, static_cast<uint64_t>(delay), 0);
}

}  // namespace ringkv::io
