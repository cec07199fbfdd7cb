#include "node/io/node_process.h"

#include <malloc.h>
#include <spdlog/spdlog.h>
#include <uv.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <cstring>
#include <expected>
#include <filesystem>
#include <memory>
#include <optional>
#include <random>
#include <unistd.h>

#include "membership/swim.h"
#include "node/data_layout.h"
#include "node/core/node_core.h"
#include "node/io/core_driver.h"
#include "node/io/gossip_driver.h"
#include "node/io/metrics_server.h"
#include "node/io/process_metrics.h"
#include "node/io/peer_client.h"
#include "node/io/resp_server.h"
#include "node/io/tcp_server.h"
#include "storage/engine.h"
#include "storage/record_cache.h"

namespace ringkv::io {
namespace {

constexpr uint64_t kTrimIntervalMs = 5000;

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

struct RackRefusal {
  std::string message;
  int exit_code;
};

// The rack is part of a node's identity: its first start stores it in meta ("rack"); a later
// start naming another one is refused, since the ring would move the node's data without
// streaming it. A node from before racks (identity older than this start, no "rack" stored)
// was in the default rack.
std::expected<void, RackRefusal> settle_rack(storage::Engine& engine,
                                             const storage::Identity& identity,
                                             const std::string& rack) {
  auto stored = engine.meta_get("rack");
  if (!stored) {
    return std::unexpected(RackRefusal{"cannot read the node's rack: " + stored.error().message, 1});
  }
  const std::string known = stored->has_value() ? **stored : std::string();
  if (stored->has_value() || identity.generation > 1) {
    if (known == rack) return {};
    auto shown = [](const std::string& name) {
      return name.empty() ? std::string("(the default rack)") : "'" + name + "'";
    };
    return std::unexpected(RackRefusal{
        "--rack " + shown(rack) + " differs from this node's rack " + shown(known) +
            ": changing a running node's rack would move its data silently; to move it, "
            "decommission it and join again with an empty data directory and the new --rack",
        2});
  }
  if (auto put = engine.meta_put("rack", rack); !put) {
    return std::unexpected(RackRefusal{"cannot store the node's rack: " + put.error().message, 1});
  }
  return {};
}

uint64_t tiebreak_from(std::string_view node_id) {
  uint64_t tiebreak = 0;
  std::memcpy(&tiebreak, node_id.data(), std::min<size_t>(8, node_id.size()));
  return tiebreak;
}

}  // namespace

int run_node_process(const NodeSettings& flags) {
  const core::Now started = now();
  auto trust = TrustContext::load(flags.trust);
  if (!trust) {
    spdlog::error("{}", trust.error());
    return 1;
  }
  std::error_code ec;
  std::filesystem::create_directories(flags.data, ec);
  if (ec) {
    spdlog::error("cannot create data directory {}: {}", flags.data, ec.message());
    return 1;
  }
  storage::Options options;
  options.path = node::database_path(flags.data);
  options.snapshots_path = node::snapshots_path(flags.data);
  options.sync = flags.sync;
  options.tombstone_grace_s = flags.node.settings.tombstone_grace_s;
  options.memory = flags.storage_memory;
  options.clock_us = wall_clock_us;
  auto engine = storage::open_rocksdb_engine(options);
  if (!engine) {
    spdlog::error("cannot open storage at {}: {}", options.path, engine.error().message);
    return 1;
  }
  // The record cache goes in front before anything reads or writes data:
  // every change to the data must pass through it (record_cache.h).
  std::optional<storage::CachedEngine> cached;
  if (flags.row_cache.capacity_bytes > 0) cached.emplace(**engine, flags.row_cache, options);
  storage::Engine& store_engine = cached ? static_cast<storage::Engine&>(*cached) : **engine;
  auto identity = store_engine.open_identity(random_node_id());
  if (!identity) {
    spdlog::error("cannot read node identity: {}", identity.error().message);
    return 1;
  }

  if (auto rack = settle_rack(store_engine, *identity, flags.rack); !rack) {
    spdlog::error("{}", rack.error().message);
    return rack.error().exit_code;
  }

  membership::Member self;
  self.id = identity->node_id;
  self.rack = flags.rack;
  self.name = flags.name;
  self.address = flags.listen;
  // A node with no other seed founds the cluster and owns the ring at once;
  // any other waits to join (bootstrap). A restarted node resumes the state it
  // persisted (core/topology.h).
  const bool founder = std::all_of(flags.seeds.begin(), flags.seeds.end(),
                                   [&](const std::string& seed) { return seed == flags.listen; });
  self.ring_status = founder ? membership::RingStatus::kNormal : membership::RingStatus::kWaiting;
  self.vnode_count = flags.vnodes;
  trust->start(flags.membership.cluster_name, identity->node_id, identity->generation);
  membership::Config membership_config = flags.membership;
  // Gossip datagrams must fit the path once sealed.
  if (trust->has_keyring()) membership_config.datagram_bytes_max -= trust::kSealedOverheadBytes;
  auto swim = membership::Swim::create(membership_config, self,
                                               static_cast<uint32_t>(identity->generation),
                                               std::random_device{}(), now().monotonic_ms);
  if (!swim) {
    spdlog::error("invalid membership settings: {}", swim.error());
    return 2;
  }

  auto store = core::ReplicaStore::open(
      store_engine, core::HintLimits{.hint_ttl_us = flags.node.settings.hint_ttl_s * 1'000'000});
  if (!store) {
    spdlog::error("cannot read hints: {}", store.error().message);
    return 1;
  }
  core::NodeCore core(flags.node, *store, tiebreak_from(identity->node_id),
                              std::move(*swim), now());
  if (flags.users) core.set_users(trust::UserTable(*flags.users));
  if (core.decommissioned()) {
    spdlog::error("this node was decommissioned; to join again, start it with an empty data directory");
    return 1;
  }

  uv_loop_t* loop = uv_default_loop();
  const std::string host = flags.listen.substr(0, flags.listen.rfind(':'));
  const io::TcpServer* node_port = nullptr;  // set once the servers exist (below)
  const io::RespServer* resp_port = nullptr;
  const io::MetricsServer* metrics_port = nullptr;
  core.set_extra_stats([&](std::vector<std::pair<std::string, uint64_t>>& values) {
    trust->refusals().add_stats(values);
    values.emplace_back("sealed_sessions_accepted", trust->sessions_accepted);
    values.emplace_back("sealed_sessions_opened", trust->sessions_opened);
    values.emplace_back("sealed_handshakes_refused_by_peer", trust->handshakes_refused_by_peer);
    if (node_port) node_port->connection_limits().add_stats("", values);
    if (resp_port) resp_port->connection_limits().add_stats("resp_", values);
    if (metrics_port) metrics_port->add_stats(values);
  });
  io::PeerClient peers(loop, host == "localhost" ? "127.0.0.1" : host, wire::Limits{}, *trust);
  io::GossipDriver gossip(loop, core, peers, *trust, now, flags.listen);
  io::TcpServer* server_ptr = nullptr;
  std::unique_ptr<io::RespServer> resp;
  // The one drain of client replies: take them from the core once and route
  // each to the server that owns its client (client_ids.h).
  auto deliver_replies = [&] {
    auto replies = core.take_outgoing();
    for (auto& reply : replies) {
      if (io::is_resp_client(reply.client)) {
        if (resp) resp->deliver(reply);
      } else {
        server_ptr->deliver(reply);
      }
    }
    server_ptr->flush_all();
    if (resp) resp->flush_all();
  };
  // Memory freed after a burst (an overload's buffers and replies) stays in
  // glibc's heap unless given back: trim it every few seconds (issue 13).
  uv_timer_t trim_timer;
  uv_timer_init(loop, &trim_timer);  // started once the ports listen
  // A finished decommission stops the node from a zero timer, outside the pump;
  // so does a refusal to run (exit code 2).
  std::function<void()> stop_node;  // set once every part exists (below)
  int exit_code = 0;
  uv_timer_t finish_timer;
  uv_timer_init(loop, &finish_timer);
  finish_timer.data = &stop_node;
  io::CoreDriver driver(loop, core, peers, now, [&] {
    deliver_replies();
    gossip.pump();
    for (const std::string& notice : core.take_notices()) spdlog::info("{}", notice);
    if (core.refusal_to_run() && exit_code == 0) {
      spdlog::error("{}", *core.refusal_to_run());
      exit_code = 2;
    }
    if ((core.finished() || exit_code != 0) && stop_node &&
        !uv_is_active(reinterpret_cast<uv_handle_t*>(&finish_timer))) {
      uv_timer_start(&finish_timer, [](uv_timer_t* timer) {
        spdlog::info("stopping");
        auto* stop_now = static_cast<std::function<void()>*>(timer->data);
        if (*stop_now) std::exchange(*stop_now, nullptr)();
      }, 0, 0);
    }
  });
  io::TcpServer server(loop, core, *trust, now, [&driver] { driver.request_pump(); }, deliver_replies,
                               io::TcpServerConfig{.listen_address = flags.listen, .connections = flags.connections});
  server_ptr = &server;
  node_port = &server;
  // Key rotation (core/keyring_admin.h): the core changes the keyring through
  // TrustContext, and hears of members that still seal with an older key.
  if (trust->has_keyring()) core.set_keyring_port(&*trust);
  core.set_trust_problem_source([&trust] { return trust->trust_problem(); });
  trust->on_old_key = [&core, &driver](std::string_view sender_id, std::string_view key) {
    core.keyring_old_key_seen(sender_id, key, now());
    driver.request_pump();
  };
  trust->on_old_key_session = [&core, &driver](std::string_view host, std::string_view key) {
    core.keyring_old_key_from_host(host, key, now());
    driver.request_pump();
  };
  if (!flags.resp_listen.empty()) {
    io::RespServerConfig resp_config{.listen_address = flags.resp_listen, .connections = flags.connections};
    resp_config.session.consistency = flags.resp_consistency;
    resp_config.session.users_required = flags.users.has_value();
    // A RESP connection pauses at its in-flight cap instead of being refused
    // BUSY: a pipelining client just waits (core/admission.h).
    resp_config.session.commands_in_flight_max = flags.node.admission.connection_requests_inflight_max;
    resp_config.session.limits = resp::limits_from(wire::Limits{});
    resp_config.session.server = resp::ServerInfo{flags.name, flags.listen, flags.resp_listen,
                                                  static_cast<uint32_t>(getpid())};
    resp = std::make_unique<io::RespServer>(loop, core, now, [&driver] { driver.request_pump(); },
                                            [&driver] { driver.pump(); }, std::move(resp_config));
    resp_port = resp.get();
  }
  std::unique_ptr<io::MetricsServer> metrics;
  const io::ProcessMetrics process_metrics(flags.data, started.wall_us, started.monotonic_ms);
  if (!flags.metrics_listen.empty()) {
    metrics = std::make_unique<io::MetricsServer>(
        loop, [] { return static_cast<uint64_t>(now().monotonic_ms); },
        [&] {
          const core::Now at = now();
          ringkv::metrics::Exposition out;
          core.write_metrics(out, at);
          process_metrics.write(out, at.monotonic_ms);
          return out.take();
        },
        io::MetricsServerConfig{.listen_address = flags.metrics_listen});
    metrics_port = metrics.get();
  }
  // Seeds: the configured ones plus every member this node knew before it
  // stopped (so a cluster's founder finds the cluster again after a restart).
  std::vector<std::string> seeds = flags.seeds;
  for (auto& address : core.remembered_addresses()) seeds.push_back(std::move(address));
  auto listening = server.listen();
  if (listening && resp) listening = resp->listen();
  if (listening && metrics) listening = metrics->listen();
  if (listening) listening = gossip.start(seeds);
  if (!listening) {
    spdlog::error("{}", listening.error());
    server.close();
    if (resp) resp->close();
    if (metrics) metrics->close();
    gossip.stop();
    peers.close();
    uv_run(loop, UV_RUN_DEFAULT);  // let the closed handles finish closing
    return 1;
  }
  driver.start();
  std::function<void()> release_free_heap =
      flags.release_free_heap ? flags.release_free_heap : [] { malloc_trim(0); };
  trim_timer.data = &release_free_heap;
  uv_timer_start(
      &trim_timer, [](uv_timer_t* timer) { (*static_cast<std::function<void()>*>(timer->data))(); },
      kTrimIntervalMs, kTrimIntervalMs);
  spdlog::info("node {} id {} generation {} listening on {} (data {}, sync {})", flags.name,
               membership::id_to_hex(identity->node_id), identity->generation, flags.listen, flags.data, flags.sync);
  if (resp) {
    spdlog::info("RESP (Redis protocol) listening on {} at consistency {}", flags.resp_listen,
                 wire::consistency_name(flags.resp_consistency));
  }
  if (metrics) spdlog::info("Prometheus metrics at http://{}/metrics", flags.metrics_listen);

  // SIGTERM and SIGINT stop cleanly: close sockets, let the loop drain, then
  // the engine closes and flushes. Stopping is not leaving: the node stays in
  // the ring and others see it dead until it returns (decommission leaves).
  struct StopContext {
    io::TcpServer* server;
    io::RespServer* resp;
    io::MetricsServer* metrics;
    io::GossipDriver* gossip;
    io::PeerClient* peers;
    io::CoreDriver* driver;
    uv_timer_t* finish_timer;
    uv_timer_t* trim_timer;
    uv_signal_t term;
    uv_signal_t interrupt;
  } stop{&server, resp.get(), metrics.get(), &gossip, &peers, &driver, &finish_timer, &trim_timer, {}, {}};
  auto on_signal = [](uv_signal_t* handle, int signal_number) {
    auto* context = static_cast<StopContext*>(handle->data);
    spdlog::info("signal {}: stopping", signal_number);
    context->server->close();
    if (context->resp) context->resp->close();
    if (context->metrics) context->metrics->close();
    context->gossip->stop();
    context->driver->stop();
    context->peers->close();
    uv_close(reinterpret_cast<uv_handle_t*>(context->finish_timer), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(context->trim_timer), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&context->term), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&context->interrupt), nullptr);
  };
  stop_node = [&stop, on_signal] { on_signal(&stop.term, SIGTERM); };
  for (auto [handle, number] : {std::pair{&stop.term, SIGTERM}, std::pair{&stop.interrupt, SIGINT}}) {
    uv_signal_init(loop, handle);
    handle->data = &stop;
    uv_signal_start(handle, on_signal, number);
  }
  signal(SIGPIPE, SIG_IGN);

  uv_run(loop, UV_RUN_DEFAULT);
  uv_loop_close(loop);
  spdlog::info("stopped");
  return exit_code;
}

}  // namespace ringkv::io
