#include "node/io/node_process.h"

#include <spdlog/spdlog.h>
#include <uv.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <random>

#include "membership/swim.h"
#include "node/core/node_core.h"
#include "node/io/core_driver.h"
#include "node/io/gossip_driver.h"
#include "node/io/peer_client.h"
#include "node/io/tcp_server.h"
#include "storage/engine.h"

namespace ringkv::io {
namespace {

uint64_t wall_clock_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

core::Now now() {
  return {wall_clock_us(), static_cast<membership::TimeMs>(uv_hrtime() / 1'000'000)};
}


std::string random_node_id() {
  std::random_device device;
  std::string id(16, '\0');
  for (size_t i = 0; i < id.size(); i += 4) {
    const uint32_t word = device();
    std::memcpy(id.data() + i, &word, 4);
  }
  return id;
}

std::string hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

uint64_t tiebreak_from(std::string_view node_id) {
  uint64_t tiebreak = 0;
  std::memcpy(&tiebreak, node_id.data(), std::min<size_t>(8, node_id.size()));
  return tiebreak;
}

}  // namespace

int run_node_process(const NodeSettings& flags) {
  std::error_code ec;
  std::filesystem::create_directories(flags.data, ec);
  if (ec) {
    spdlog::error("cannot create data directory {}: {}", flags.data, ec.message());
    return 1;
  }
  storage::Options options;
  options.path = (std::filesystem::path(flags.data) / "db").string();
  options.sync = flags.sync;
  options.clock_us = wall_clock_us;
  auto engine = storage::open_rocksdb_engine(options);
  if (!engine) {
    spdlog::error("cannot open storage at {}: {}", options.path, engine.error().message);
    return 1;
  }
  auto identity = (*engine)->open_identity(random_node_id());
  if (!identity) {
    spdlog::error("cannot read node identity: {}", identity.error().message);
    return 1;
  }

  membership::Member self;
  self.id = identity->node_id;
  self.name = flags.name;
  self.address = flags.listen;
  self.ring_status = membership::RingStatus::kNormal;
  self.vnode_count = flags.vnodes;
  auto swim = membership::Swim::create(flags.membership, self,
                                               static_cast<uint32_t>(identity->generation),
                                               std::random_device{}(), now().monotonic_ms);
  if (!swim) {
    spdlog::error("invalid membership settings: {}", swim.error());
    return 2;
  }

  auto store = core::ReplicaStore::open(**engine, core::HintLimits{});
  if (!store) {
    spdlog::error("cannot read hints: {}", store.error().message);
    return 1;
  }
  core::NodeCore core(flags.node, *store, tiebreak_from(identity->node_id),
                              std::move(*swim), now());

  uv_loop_t* loop = uv_default_loop();
  const std::string host = flags.listen.substr(0, flags.listen.rfind(':'));
  io::PeerClient peers(loop, host == "localhost" ? "127.0.0.1" : host, wire::Limits{});
  io::GossipDriver gossip(loop, core, peers, now, flags.listen);
  io::TcpServer* server_ptr = nullptr;
  io::CoreDriver driver(loop, core, peers, now, [&] {
    server_ptr->deliver_outgoing();
    gossip.pump();
  });
  io::TcpServer server(loop, core, now, [&driver] { driver.request_pump(); },
                               io::TcpServerConfig{.listen_address = flags.listen});
  server_ptr = &server;
  // Seeds: the configured ones plus every member this node knew before it
  // stopped (so a cluster's founder finds the cluster again after a restart).
  std::vector<std::string> seeds = flags.seeds;
  for (auto& address : core.remembered_addresses()) seeds.push_back(std::move(address));
  auto started = server.listen();
  if (started) started = gossip.start(seeds);
  if (!started) {
    spdlog::error("{}", started.error());
    server.close();
    gossip.stop();
    peers.close();
    uv_run(loop, UV_RUN_DEFAULT);  // let the closed handles finish closing
    return 1;
  }
  driver.start();
  spdlog::info("node {} id {} generation {} listening on {} (data {}, sync {})", flags.name,
               hex(identity->node_id), identity->generation, flags.listen, flags.data, flags.sync);

  // SIGTERM and SIGINT stop cleanly: close sockets, let the loop drain, then
  // the engine closes and flushes. Stopping is not leaving: the node stays in
  // the ring and others see it dead until it returns (decommission leaves).
  struct StopContext {
    io::TcpServer* server;
    io::GossipDriver* gossip;
    io::PeerClient* peers;
    io::CoreDriver* driver;
    uv_signal_t term;
    uv_signal_t interrupt;
  } stop{&server, &gossip, &peers, &driver, {}, {}};
  auto on_signal = [](uv_signal_t* handle, int signal_number) {
    auto* context = static_cast<StopContext*>(handle->data);
    spdlog::info("signal {}: stopping", signal_number);
    context->server->close();
    context->gossip->stop();
    context->driver->stop();
    context->peers->close();
    uv_close(reinterpret_cast<uv_handle_t*>(&context->term), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&context->interrupt), nullptr);
  };
  for (auto [handle, number] : {std::pair{&stop.term, SIGTERM}, std::pair{&stop.interrupt, SIGINT}}) {
    uv_signal_init(loop, handle);
    handle->data = &stop;
    uv_signal_start(handle, on_signal, number);
  }
  signal(SIGPIPE, SIG_IGN);

  uv_run(loop, UV_RUN_DEFAULT);
  uv_loop_close(loop);
  spdlog::info("stopped");
  return 0;
}

}  // namespace ringkv::io
