// NodeCore: one node's logic as a pure state machine, tying together
// membership (SWIM), the ring, the coordinator, the replica store and hinted
// handoff.
//
// Inputs: requests from connections (clients and other nodes), outcomes of
// the peer requests it emitted, membership datagrams (through membership()),
// and ticks, each with the current time. Outputs, drained by the I/O layer
// after every input: replies to connections (take_outgoing), requests to
// other nodes (take_peer_requests), and membership events
// (take_membership_events, which also updates the ring). It never touches a
// socket or a clock; storage is reached through the Engine interface, so the
// same core runs over RocksDB in kvnode and over MemoryEngine in the
// simulator.
//
// Thread model: single-threaded; the caller serialises all calls.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "membership/swim.h"
#include "node/core/admission.h"
#include "node/core/anti_entropy.h"
#include "node/core/channel.h"
#include "node/core/cluster_settings.h"
#include "node/core/cluster_view.h"
#include "node/core/coordinator.h"
#include "node/core/hint_replayer.h"
#include "node/core/hybrid_clock.h"
#include "node/core/keyring_admin.h"
#include "node/core/known_members.h"
#include "node/core/replica_store.h"
#include "node/core/scan_coordinator.h"
#include "node/core/topology.h"
#include "node/metrics/exposition.h"
#include "node/trust/users.h"
#include "node/wire/message.h"
#include "storage/engine.h"

namespace ringkv::core {

struct NodeConfig {
  // The settings the whole cluster shares (cluster_settings.h): the one owner
  // of N, the tombstone grace and the hint window. NodeCore copies them into
  // the modules below, overriding what those hold.
  ClusterSettings settings;
  CoordinatorConfig coordinator;
  // Load shedding of client puts, deletes and gets (admission.h).
  AdmissionConfig admission;
  HintReplayConfig hint_replay;
  TopologyConfig topology;
  RepairConfig repair;
  // kv scan, RESP SCAN/KEYS/DBSIZE (scan_coordinator.h).
  ScanConfig scan;
  // How often hinted handoff looks for targets that came back; topology
  // changes step at the same pace.
  membership::TimeMs hint_scan_interval_ms = 200;
};

class NodeCore {
 public:
  // `tiebreak` distinguishes this node's versions from other coordinators'
  // (derived from the node id). `store` wraps the engine; both outlive the
  // core. Requests arrive decoded, so wire limits already hold.
  // Starts from the ring remembered in `meta` (known_members.h), its other
  // members counted down until membership confirms them.
  NodeCore(NodeConfig config, ReplicaStore& store, uint64_t tiebreak, membership::Swim swim, Now now);
  NodeCore(const NodeCore&) = delete;
  NodeCore& operator=(const NodeCore&) = delete;

  // `peer_address` is the connection's remote HOST:PORT; `channel` is what
  // the I/O layer vouches for about that connection (channel.h). Client
  // requests (client_access.h) are served on either channel, after the
  // connection authenticated when users are configured, within its role;
  // internode requests only on kPeer, and never on a connection that
  // authenticated as a client. A StatusRequest on kPeer without client
  // credentials is internode (topology confirms joins and leaves with it).
  // Refusals are ErrorReply kNotAuthenticated or kForbidden, counted in
  // stats and noted once per connection (take_notices). Puts, deletes and
  // coordinated gets over the admission bounds (admission.h) are refused with
  // kBusy before anything is done, counted, and noted at most once a minute.
  // An AuthRequest is verified here, synchronously: a password's first check costs tens of
  // milliseconds of CPU by design (node/trust/users.h).
  void handle_client(ClientId client, std::string_view peer_address, Channel channel,
                     wire::Message request, Now now);
  // From now on client requests need credentials from `users` (kvnode
  // --users). Without a call, clients need none.
  void set_users(trust::UserTable users) { users_.emplace(std::move(users)); }
  // The connection `client` closed: forget what it authenticated as (the
  // I/O layer calls this for every closed client, which bounds clients_).
  void client_closed(ClientId client) { clients_.erase(client); }
  // The outcome of a PeerRequest, handed to the unit its route names
  // (peer_route.h). A reply no unit awaits (late, or a route never issued)
  // changes nothing and is counted (stats peer_replies_dropped).
  void handle_peer_reply(PeerRoute route, const std::expected<wire::Message, std::string>& reply,
                         Now now);
  void tick(Now now);
  // When tick() next has work (request deadlines, hint scans); membership
  // keeps its own deadline (membership().next_deadline()).
  membership::TimeMs next_deadline() const;

  // Replies, after serving this iteration's replica requests with one group
  // commit and flushing the WAL, so every write they acknowledge is durable
  // (a failed flush turns those acknowledgements into errors). Their
  // requests stop counting as in flight for admission (admission.h).
  std::vector<Outgoing> take_outgoing();
  std::vector<PeerRequest> take_peer_requests();
  // Drains membership events, updating the ring and liveness view first, and
  // remembering the ring's members (see known_members.h).
  std::vector<membership::Event> take_membership_events(Now now);

  // Client requests are being shed until replies leave (admission.h): the
  // I/O layer reads no more from a client until then (resp_server.h).
  bool shedding() const { return admission_.saturated(); }
  // The node was decommissioned earlier: it must not serve (topology.h).
  bool decommissioned() const { return topology_.decommissioned(); }
  // A decommission completed: the process should stop now.
  bool finished() const { return topology_.finished(); }
  // Why this node must stop, if it must: it tried to join a cluster whose
  // settings differ from its own (cluster_settings.h), naming the setting
  // and both values. A member that meets such a node only refuses its state
  // (counted in stats as settings_mismatches, noted once a minute per peer).
  const std::optional<std::string>& refusal_to_run() const { return refusal_to_run_; }
  const ClusterSettings& settings() const { return config_.settings; }
  // Anti-entropy rounds finished (tests wait for one after healing).
  uint64_t repair_rounds_completed() const { return repair_.rounds_completed(); }
  // Log lines about topology and keyring changes and refused clients, drained
  // by the caller. Also the storage errors of hint replay and anti-entropy
  // (error_counter.h).
  std::vector<std::string> take_notices();
  // Key rotation (keyring_admin.h): the I/O layer's keyring, and traffic it
  // opened from member `sender_id` with installed key `key` that is not this
  // node's primary (the member missed a rotation: push it the primary).
  void set_keyring_port(KeyringPort* port) { keyring_admin_.set_port(port); }
  void keyring_old_key_seen(std::string_view sender_id, std::string_view key, Now now) {
    keyring_admin_.on_old_key_seen(sender_id, key, now);
  }
  void keyring_old_key_from_host(std::string_view host, std::string_view key, Now now) {
    keyring_admin_.on_old_key_from_host(host, key, now);
  }
  const KeyringAdmin& keyring_admin() const { return keyring_admin_; }
  // Peer replies no unit awaited (also in stats).
  uint64_t peer_replies_dropped() const { return peer_replies_dropped_; }
  // Why this node cannot join (shown by `kv status`), from the I/O layer.
  void set_trust_problem_source(std::function<std::string()> source) { trust_problem_ = std::move(source); }

  membership::Swim& membership() { return swim_; }
  const ClusterView& view() const { return view_; }
  // Addresses of the remembered members (seeds for a restarted node).
  std::vector<std::string> remembered_addresses() const;

  // Counters an outer layer owns (the I/O layer's sealed-traffic refusals),
  // appended to every stats reply.
  using StatsSource = std::function<void(std::vector<std::pair<std::string, uint64_t>>&)>;
  void set_extra_stats(StatsSource source) { extra_stats_ = std::move(source); }

  // This node's part of a Prometheus scrape (node_metrics.cc): every stats
  // counter under its metric name, request latency histograms per operation
  // and consistency level (client side) and per replica operation (round
  // trips this node's coordinator timed), hints pending per target with the
  // age of the oldest, membership, ring ownership, clock offsets, storage.
  // Reads the oldest hint of each target from storage.
  void write_metrics(metrics::Exposition& out, Now now);

 private:
  // What a client connection authenticated as; an entry exists only for a
  // connection that authenticated or was refused (one per open connection).
  struct ClientState {
    std::optional<trust::Role> role;
    std::string user;
    bool refusal_noted = false;
  };

  void handle_client_request(ClientId client, std::string_view peer_address, wire::Message& request,
                             trust::Role needed, Now now);
  void handle_internode_request(ClientId client, std::string_view peer_address, wire::Message& request,
                                Now now);
  wire::Body authenticate(ClientId client, std::string_view peer_address, const wire::AuthRequest& request);
  // The BUSY refusal for a request over `bound`, noted at most once a minute.
  wire::ErrorReply shed(Bound bound, Now now);
  wire::ErrorReply refuse(ClientId client, std::string_view peer_address, wire::ErrorCode code,
                          std::string reason);
  void apply_membership(const membership::Event& event, Now now);
  void rebuild_ring();
  void after_topology_step();
  wire::Body stream_read(const wire::StreamReadRequest& request);
  wire::Body stream_write(const wire::StreamWriteRequest& request);
  void remember_members();
  bool coordinator_reply(uint64_t id, const std::expected<wire::Message, std::string>& reply, Now now);
  // Stages the coordinator's requests to this node's own copy for the
  // iteration's group commit and moves client replies to outgoing_.
  void collect_replies(Now now);
  void flush_quietly();
  // Serves the replica requests of this iteration (peers' and the
  // coordinator's own) with one group commit (replica_store.h), routing the
  // replies to the coordinator and to outgoing_.
  void serve_replica_requests();
  wire::Body range_digest_of(const wire::RangeDigestRequest& request, Now now);
  wire::Body push_pull(std::string_view peer_address, const wire::PushPullRequest& request, Now now);
  wire::Body status();
  // The member's clock offset from ours for `kv status`, in whole milliseconds.
  std::optional<int64_t> clock_offset_ms(const std::string& id) const;
  wire::Body endpoints(const wire::EndpointsRequest& request) const;
  wire::Body ring_summary() const;
  wire::Body stats(Now now) const;
  // A member's name by id ("unknown" for one the ring does not hold).
  std::string name_of(const std::string& id) const;
  // Each ring node's share of the positions (nodes() order), as any replica
  // and as primary: computed once per ring, as `kv ring` and every /metrics
  // scrape ask (with racks, ~0.2 s on a 1000-node ring).
  struct Ownership {
    std::shared_ptr<const Ring> ring;
    std::vector<double> replicated;
    std::vector<double> primary;
  };
  const Ownership& ownership() const;

  NodeConfig config_;
  ReplicaStore& store_;
  uint64_t tiebreak_;
  membership::Swim swim_;
  ClusterView view_;
  HybridClock clock_;  // before coordinator_, which re-stamps writes with it
  Coordinator coordinator_;
  ScanCoordinator scans_;
  HintReplayer replayer_;
  Topology topology_;
  AntiEntropy repair_;
  membership::TimeMs next_hint_scan_ms_ = 0;
  uint64_t storage_errors_ = 0;
  uint64_t peer_replies_dropped_ = 0;
  mutable Ownership ownership_;  // a cache: see ownership()
  // The wall clock of the latest input (the group commit stamps with it).
  uint64_t last_wall_us_ = 0;
  StatsSource extra_stats_;
  std::optional<trust::UserTable> users_;
  std::map<ClientId, ClientState> clients_;
  uint64_t auth_failures_ = 0;
  std::optional<std::string> refusal_to_run_;
  uint64_t settings_mismatches_ = 0;
  std::map<std::string, membership::TimeMs> settings_noted_ms_;  // peer address -> last notice
  void check_settings_mismatches(Now now);
  uint64_t client_refused_noauth_ = 0;
  uint64_t client_refused_forbidden_ = 0;
  uint64_t internode_on_client_refused_ = 0;
  // Data requests answered UNAVAILABLE because this node is not serving yet
  // (no seed answered, or not an owner of the ring yet).
  uint64_t client_refused_not_ready_ = 0;
  std::vector<std::string> notices_;
  Admission admission_;
  // Refusals of overload are noted at most once a minute, from this time on.
  membership::TimeMs next_busy_notice_ms_ = 0;
  uint64_t busy_noted_ = 0;  // refusals already told of in a notice
  std::function<std::string()> trust_problem_;
  KeyringAdmin keyring_admin_;
  // Members remembered from before a restart that membership has not
  // reported yet; they stay in the ring until it does.
  std::vector<RingNode> remembered_;
  // A node that remembers no ring refuses client requests until its first
  // exchange with a seed, rather than serve them from a ring of itself.
  bool fresh_ = true;
  std::string remembered_text_;
  std::vector<Outgoing> outgoing_;
  // collect_replies' buffer for the coordinator's requests to this node (kept for its capacity).
  std::vector<PeerRequest> local_requests_;
  // The latest time seen by an input (rebuild_ring dates its grace period).
  membership::TimeMs last_now_ms_ = 0;
  // When remembered members membership never reported are taken as dead.
  membership::TimeMs remember_dead_at_ms_ = 0;
  // From when hints for targets nobody knows are dropped.
  membership::TimeMs forget_unknown_at_ms_ = 0;
  void forget_unknown_hint_targets();
  void topology_notice(std::string notice) { notices_.push_back(std::move(notice)); }
};

}  // namespace ringkv::core
