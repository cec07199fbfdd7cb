// kv cluster: a local cluster of kvnode processes, like Cassandra's ccm.
//
// Node i (1-based) is named node<i>, listens on 127.0.0.<i>:<port>, serves
// Prometheus metrics on 127.0.1.<i>:<port> (an address of its own, so it
// collides neither with node ports nor with other loopback users) and keeps
// its data, log and pid under <dir>/node<i>/. Every node but the first seeds
// from node1. The exact command line of each node is saved in
// <dir>/node<i>/cmdline so `restart` brings it back identically. Processes
// `up` returns once every node lists every running node alive. Processes
// are signalled only by the PID recorded at start, and only while
// /proc/<pid>/cmdline still shows that same command (no kill by name, no
// stray signal to a recycled PID).
//
// Racks: `up --racks 3,3,2` starts 3 + 3 + 2 nodes, node1..node3 with --rack rack1,
// node4..node6 with --rack rack2, node7 and node8 with --rack rack3 (saved in cmdline, so a
// restart keeps the rack). Without it every node is in the default rack.
//
// Credentials: `up` creates the cluster's users file <dir>/users with one
// admin user, "admin", whose random password is in <dir>/admin.password
// (both 0600), and starts every node with --users. `up` and `restart`
// authenticate with it; `up` prints the KV_USER / KV_PASSWORD_FILE exports
// for other kv commands. A cluster folder made before this has neither, and
// its nodes keep running without credentials.
#pragma once

#include <string>
#include <vector>

namespace ringkv::cli {

struct ClusterOptions {
  std::string dir = "ringkv-cluster";
  int nodes = 3;
  int port = 7000;
  int replicas = 3;
  // Nodes per rack (rack1, rack2, ...); empty: no --rack. When set, it decides the node count.
  std::vector<int> racks;
  // kvnode binary; empty: next to kv, then ../node/kvnode (build tree), then PATH.
  std::string kvnode;
  // Extra flags passed to every kvnode (e.g. --probe-interval-ms 200).
  std::vector<std::string> node_flags;
  bool json = false;
};

int cluster_up(const ClusterOptions& options);
int cluster_down(const ClusterOptions& options);
// Sends SIGKILL to the named nodes (all when `names` is empty).
int cluster_kill(const ClusterOptions& options, const std::vector<std::string>& names);
// Starts the named stopped nodes again (all stopped ones when empty).
int cluster_restart(const ClusterOptions& options, const std::vector<std::string>& names);
int cluster_list(const ClusterOptions& options);

}  // namespace ringkv::cli
