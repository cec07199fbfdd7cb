// Cluster: the simulated nodes and the simulated network between them.
//
// It implements Transport: datagrams and TCP requests travel as World events, subject to the
// Network's delays, losses and partitions. A TCP request opens its own simulated connection
// (a ClientId on the server); the server's reply to that ClientId travels back on it. Every
// request ends exactly once for a requester that stays up: with the reply, or with an error
// when the connection is refused (server down), reset (server crashed, or a flaky link), or
// times out (partition). This is PeerClient's contract, which NodeCore relies on.
//
// Crashes: the crashed node's connections are reset, so requests it was serving (client
// operations it coordinated, peer requests not yet answered) fail at their requesters;
// replies on their way to a crashed requester are dropped (its epoch changed).
//
// Harness anomalies (a reply to a connection that was already answered, a reply from the
// wrong node) are protocol violations by the code under test, collected for the checkers.
//
// Single-threaded.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "tests/sim/cluster/network.h"
#include "tests/sim/cluster/node_host.h"
#include "tests/sim/cluster/plant.h"
#include "tests/sim/cluster/transport.h"
#include "tests/sim/cluster/world.h"

namespace ringkv::cluster_sim {

// Node i's name and address ("10.0.0.<i+1>:7000"), as the Cluster assigns them.
std::string node_name(int index);
std::string node_address(int index);

// A node's part in the run, as the scenario intends it:
//   absent  not started yet (a node that will join later);
//   member  started; must be up, alive and normal in every view, in the ring, at the end;
//   gone    stopped for good (decommissioned, or killed to be removed): must be `left` in
//           every view, in no ring, and never starts again.
enum class Role { kAbsent, kMember, kGone };

struct ClusterCounters {
  uint64_t crashes = 0;
  uint64_t restarts = 0;
  uint64_t planted_hint_drops = 0;
  uint64_t planted_writes_lost = 0;
  uint64_t unflushed_writes_lost = 0;
  uint64_t decommissions_finished = 0;
  uint64_t refused_starts = 0;  // a decommissioned node that was restarted refused to run
};

class Cluster : public Transport {
 public:
  // Node i is named "n<i>" at "10.0.0.<i+1>:7000"; `settings[i]` configures it. Ids come from
  // the world's generator.
  Cluster(World& world, Network& network, std::vector<NodeSettings> settings, Plant plant,
          bool verbose);

  int size() const { return static_cast<int>(nodes_.size()); }
  NodeHost& node(int index) { return *nodes_[index]; }
  const NodeHost& node(int index) const { return *nodes_[index]; }
  int index_of_address(const std::string& address) const;
  int index_of_id(const std::string& id) const;
  std::vector<int> up_nodes() const;
  // Members (role kMember) that are down.
  int members_down() const;
  std::vector<int> members() const;

  Role role(int index) const { return roles_[index]; }
  void set_role(int index, Role role) { roles_[index] = role; }

  // Starts node `index` (its role becomes member). A decommissioned node refuses to start:
  // its role becomes gone and `on_refused` runs.
  void start(int index);
  void crash(int index);
  // Crashes a node for good (to be removed): its role becomes gone.
  void kill_for_good(int index);
  // Called when a node stopped for good on its own (a finished decommission) or refused to
  // start (it had persisted `left`, but perhaps not told everyone).
  std::function<void(int index)> on_finished;
  std::function<void(int index)> on_refused;
  // Called when a stream request (StreamReadRequest, StreamWriteRequest) from `requester`
  // reaches `server`, before the server handles it.
  std::function<void(int requester, int server)> on_stream_request;

  // A request from a client outside the cluster to node `server`; `done` runs exactly once.
  void client_request(int server, wire::Body body, ReplyHandler done);

  // Transport.
  void send_datagram(int from, const std::string& to_address, std::string bytes) override;
  void send_request(int from, const std::string& to_address, wire::Body body,
                    ReplyHandler done) override;
  void send_reply(int from, core::Outgoing reply) override;

  // Empty when every member is up, sees every member (itself included) alive and normal in
  // its table and in its ring, sees every gone node it knows as left, no ring change is in
  // progress, no node holds hints for a member and no replica traffic is in flight; else what
  // is missing. Hints held for gone nodes are counted by stale_hints(), not waited for.
  std::string quiescence_gaps() const;
  // True when every member is up and sees every member alive and in its ring (the cluster
  // formed).
  bool formed() const;
  // Hints held by members for gone nodes: (holder, target name, count).
  std::vector<std::tuple<std::string, std::string, uint64_t>> stale_hints() const;
  // The ring of the first member (the checkers' final ring); nullptr if none is up.
  const core::Ring* member_ring() const;

  // Evidence for the tolerances (tolerances.h): when each node crashed; whether a hinted
  // write of `key` on behalf of `target_id` was sent to a stand-in and its coordinator never
  // saw it succeed; whether a crash took an unflushed hint of `key` for `target_id`.
  const std::vector<SimTimeUs>& crash_times(int index) const { return crash_times_[index]; }
  bool stand_in_unconfirmed(const std::string& key, const std::string& target_id) const {
    return stand_ins_sent_.contains({key, target_id}) &&
           !stand_ins_confirmed_.contains({key, target_id});
  }
  bool unflushed_hint_lost(const std::string& key, const std::string& target_id) const {
    return unflushed_hints_lost_.contains({key, target_id});
  }

  // Traces every replica request about this key, and its outcome (debugging aid).
  void trace_key(std::string key) { trace_key_ = std::move(key); }

  const ClusterCounters& counters() const { return counters_; }
  const std::vector<std::string>& anomalies() const { return anomalies_; }
  std::string describe_id(const std::string& id) const;

 private:
  // One node's view of the members and gone nodes against the roles; "" when it agrees.
  std::string view_gaps(NodeHost& node) const;
  void reset_connections_to(int index);

  struct Route {
    int server = -1;
    int requester = -1;  // -1: a client outside the cluster
    uint64_t requester_epoch = 0;
    ReplyHandler done;
    bool break_reply = false;  // the connection breaks before the reply gets through
    bool counted = false;      // replica traffic (push-pull is not: it never quiesces)
    uint64_t serial = 0;       // key in open_ while counted
  };
  // A counted request not completed yet, for quiescence_gaps() to name.
  struct OpenRequest {
    wire::MessageType type;
    int requester;
    int server;
    SimTimeUs sent_us;
  };

  void request(int requester, int server, wire::Body body, ReplyHandler done);
  std::map<uint64_t, OpenRequest> open_;
  uint64_t next_serial_ = 1;
  // Ends a request at its requester after `delay_us`, unless the requester died meanwhile.
  void complete_later(const Route& route, SimTimeUs delay_us, Reply reply);
  std::string peer_address(int requester) const;
  void trace(const std::string& line) const;

  World& world_;
  Network& network_;
  Plant plant_;
  bool verbose_;
  std::vector<std::unique_ptr<NodeHost>> nodes_;
  std::vector<Role> roles_;
  std::map<std::string, int> by_address_;
  std::map<std::string, int> by_id_;
  std::map<core::ClientId, Route> routes_;
  core::ClientId next_client_id_ = 1;
  uint64_t next_request_id_ = 1;
  uint64_t in_flight_ = 0;  // counted requests not yet completed
  ClusterCounters counters_;
  std::vector<std::string> anomalies_;
  std::string trace_key_;
  std::vector<std::vector<SimTimeUs>> crash_times_;
  // (key, hint target id) pairs.
  std::set<std::pair<std::string, std::string>> stand_ins_sent_;
  std::set<std::pair<std::string, std::string>> stand_ins_confirmed_;
  std::set<std::pair<std::string, std::string>> unflushed_hints_lost_;
};

}  // namespace ringkv::cluster_sim
