// kv: the ringkv command-line client. See DESIGN.md "Command lines" for the
// contract (flags, JSON fields, exit codes).
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <iterator>

#include "cli/bench.h"
#include "cli/cluster_info.h"
#include "cli/data_commands.h"
#include "cli/scan_command.h"
#include "cli/keys.h"
#include "cli/keys_command.h"
#include "cli/local_cluster.h"
#include "cli/options.h"
#include "cli/snapshot_command.h"
#include "cli/status_command.h"
#include "cli/topology_commands.h"
#include "cli/users_command.h"
#include "node/trust/users_file.h"

namespace {

using ringkv::cli::GlobalOptions;

// Reads all of standard input, byte for byte.
std::string read_stdin() {
  std::string data;
  char buffer[65536];
  size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof(buffer), stdin)) > 0) data.append(buffer, n);
  return data;
}

}  // namespace

int main(int argc, char** argv) {
  GlobalOptions options;
  std::string consistency = "quorum";
  CLI::App app{"kv: read, write and administer a ringkv cluster"};
  app.fallthrough();
  app.require_subcommand(1);
  app.add_option("--host", options.hosts, "HOST:PORT of nodes to try, in order")
      ->delimiter(',')
      ->envname("KV_HOST")
      ->capture_default_str();
  app.add_option("--consistency", consistency, "one|quorum|all|any")
      ->check(CLI::IsMember({"one", "quorum", "all", "any"}))
      ->capture_default_str();
  app.add_option("--timeout-ms", options.timeout_ms, "give up waiting for a reply after this")
      ->check(CLI::Range(1, 3600 * 1000))
      ->capture_default_str();
  app.add_flag("--json", options.json, "print one JSON document for scripts");
  std::string password_file;
  app.add_option("--user", options.credentials.user, "authenticate as this user (nodes run with --users)")
      ->envname("KV_USER");
  app.add_option("--password-file", password_file, "file whose first line is the user's password")
      ->envname("KV_PASSWORD_FILE");

  std::string key;
  std::string value;
  bool local = false;
  uint64_t ttl_s = 0;
  auto* put = app.add_subcommand("put", "write KEY = VALUE ('-' reads standard input)");
  put->add_option("key", key, "key")->required();
  put->add_option("value", value, "value, or - for standard input")->required();
  put->add_option("--ttl", ttl_s, "the value expires this many seconds after the write (it then reads as absent)")
      ->check(CLI::Range(uint64_t{1}, uint64_t{100} * 365 * 24 * 3600));
  auto* get = app.add_subcommand("get", "print the value of KEY");
  get->add_option("key", key, "key")->required();
  get->add_flag("--local", local, "read this node's own copy, without coordination");
  auto* del = app.add_subcommand("del", "delete KEY");
  del->add_option("key", key, "key")->required();

  std::string scan_prefix;
  uint64_t scan_limit = 0;
  auto* scan = app.add_subcommand("scan", "every live key of the cluster, one per line (paged by a ring cursor)");
  scan->add_option("--prefix", scan_prefix, "only keys starting with these bytes");
  scan->add_option("--limit", scan_limit, "stop after this many keys (0: all)")->capture_default_str();

  auto* status = app.add_subcommand("status", "members with liveness, ring status, incarnation and storage");
  auto* endpoints = app.add_subcommand("endpoints", "the natural replicas of KEY in preference order");
  endpoints->add_option("key", key, "key")->required();
  auto* ring = app.add_subcommand("ring", "vnodes and ownership of every node");
  auto* stats = app.add_subcommand("stats", "the node's counters, latency percentiles and hints");
  auto* decommission = app.add_subcommand("decommission", "the node leaves the ring, streaming its data away");
  std::string node_name;
  auto* removenode = app.add_subcommand("removenode", "remove a dead node; its ranges stream to new owners");
  removenode->add_option("node", node_name, "name (or hex id) of the dead node")->required();
  auto* cleanup = app.add_subcommand("cleanup", "drop data of ranges the node no longer replicates");

  auto* keygen = app.add_subcommand("keygen", "print a new random 32-byte cluster key (base64) for --keyring");

  std::string keys_action;
  std::string cluster_key;
  auto* keys = app.add_subcommand("keys", "rotate the cluster keyring on every live member: list | install KEY | "
                                          "use KEY | remove KEY (one line per node)");
  keys->add_option("action", keys_action, "list|install|use|remove")
      ->required()
      ->check(CLI::IsMember({"list", "install", "use", "remove"}));
  keys->add_option("key", cluster_key, "the key in base64 (`kv keygen`); not for list");

  std::string snapshot_tag;
  auto* snapshot = app.add_subcommand(
      "snapshot",
      "point-in-time copy of the data of the node kv reaches (per node, like nodetool snapshot: run it on every "
      "node for a cluster backup); also: snapshot list | snapshot remove TAG. Restore: kvnode --restore-snapshot");
  snapshot->add_option("--tag", snapshot_tag, "name of the snapshot (default: the UTC time)");
  snapshot->require_subcommand(0, 1);
  auto* snapshot_list = snapshot->add_subcommand("list", "the node's snapshots: tag, time (UTC), bytes");
  auto* snapshot_remove = snapshot->add_subcommand("remove", "delete the node's snapshot TAG");
  std::string removed_tag;
  snapshot_remove->add_option("tag", removed_tag, "tag of the snapshot")->required();

  ringkv::cli::BenchOptions bench;
  auto* bench_command = app.add_subcommand("bench", "load generator: throughput and latency percentiles");
  bench_command->add_option("--clients", bench.clients, "concurrent connections")->capture_default_str();
  bench_command->add_option("--pipeline", bench.pipeline, "requests in flight per connection")
      ->capture_default_str();
  bench_command->add_option("--keys", bench.keys, "size of the key space")->capture_default_str();
  bench_command->add_option("--value-size", bench.value_bytes, "bytes per value")->capture_default_str();
  bench_command->add_option("--writes", bench.write_percent, "percent of operations that are puts (0-100)")
      ->capture_default_str();
  bench_command->add_option("--requests", bench.requests, "stop after this many operations (0: use duration)")
      ->capture_default_str();
  bench_command->add_option("--duration", bench.duration_s, "seconds to run")->capture_default_str();
  bench_command->add_flag("!--no-prefill", bench.prefill, "do not write the key space before a run with gets");
  bench_command->add_option("--key-prefix", bench.key_prefix, "prefix of every key")->capture_default_str();

  ringkv::cli::ClusterOptions cluster;
  std::vector<std::string> node_names;
  auto* cluster_command = app.add_subcommand("cluster", "run a local cluster of kvnode processes");
  cluster_command->require_subcommand(1);
  cluster_command->add_option("--dir", cluster.dir, "folder holding every node's data, log and pid")
      ->capture_default_str();
  auto* up = cluster_command->add_subcommand("up", "start (or complete) a cluster on 127.0.0.1..N");
  up->add_option("--nodes", cluster.nodes, "number of nodes")->capture_default_str();
  up->add_option("--port", cluster.port, "port of every node (and of its Prometheus metrics, on 127.0.1.N)")
      ->capture_default_str();
  up->add_option("--replicas", cluster.replicas, "replicas per key (N)")->capture_default_str();
  auto* racks_option = up->add_option("--racks", cluster.racks,
                                      "nodes per rack, e.g. 3,3,2: node1-3 in rack1, node4-6 in rack2, "
                                      "node7-8 in rack3 (sets the node count)")
                           ->delimiter(',')
                           ->check(CLI::Range(1, 250));
  up->add_option("--kvnode", cluster.kvnode, "kvnode binary (default: beside kv)");
  up->add_option("--node-flag", cluster.node_flags, "extra kvnode flag, repeatable (e.g. --node-flag=--sync)")
      ->allow_extra_args(false);
  auto* down = cluster_command->add_subcommand("down", "stop every node (SIGTERM, then SIGKILL after 15 s)");
  auto* kill = cluster_command->add_subcommand("kill", "SIGKILL nodes by their recorded PID");
  kill->add_option("nodes", node_names, "node names (default: all)");
  auto* restart = cluster_command->add_subcommand("restart", "start stopped nodes, or restart named ones");
  restart->add_option("nodes", node_names, "node names (default: every stopped node)");
  auto* list = cluster_command->add_subcommand("list", "nodes with address, PID and state");

  std::string users_file;
  std::string user_name;
  std::string role;
  std::string user_password_file;
  auto* users = app.add_subcommand("users", "edit a users file (kvnode --users FILE)");
  users->require_subcommand(1);
  auto* users_add = users->add_subcommand("add", "add a user, or replace its role and password");
  users_add->add_option("file", users_file, "users file (created 0600 when absent)")->required();
  users_add->add_option("name", user_name, "user name")->required();
  users_add->add_option("--role", role, "read|readwrite|admin")
      ->check(CLI::IsMember({"read", "readwrite", "admin"}))
      ->required();
  users_add->add_option("--password-file", user_password_file, "file whose first line is the password")
      ->required();
  auto* users_remove = users->add_subcommand("remove", "remove a user");
  users_remove->add_option("file", users_file, "users file")->required();
  users_remove->add_option("name", user_name, "user name")->required();
  auto* users_list = users->add_subcommand("list", "list users and roles");
  users_list->add_option("file", users_file, "users file")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : ringkv::cli::kExitUsage;
  }
  ringkv::wire::parse_consistency(consistency, options.consistency);
  if (users_add->parsed()) return ringkv::cli::run_users_add(options, users_file, user_name, role, user_password_file);
  if (users_remove->parsed()) return ringkv::cli::run_users_remove(options, users_file, user_name);
  if (users_list->parsed()) return ringkv::cli::run_users_list(options, users_file);
  if (!options.credentials.user.empty() || !password_file.empty()) {
    // As Redis: a password alone is the "default" user's.
    if (options.credentials.user.empty()) options.credentials.user = "default";
    if (password_file.empty()) {
      std::fprintf(stderr, "kv: --user needs --password-file (or KV_PASSWORD_FILE)\n");
      return ringkv::cli::kExitUsage;
    }
    std::string warning;
    auto password = ringkv::trust::read_password_file(password_file, warning);
    if (!warning.empty()) std::fprintf(stderr, "kv: warning: %s\n", warning.c_str());
    if (!password) {
      std::fprintf(stderr, "kv: %s\n", password.error().c_str());
      return ringkv::cli::kExitUsage;
    }
    options.credentials.password = std::move(*password);
  }

  if (put->parsed()) {
    return ringkv::cli::run_put(options, key, value == "-" ? read_stdin() : value, ttl_s);
  }
  if (get->parsed()) return ringkv::cli::run_get(options, key, local);
  if (del->parsed()) return ringkv::cli::run_delete(options, key);
  if (scan->parsed()) return ringkv::cli::run_scan(options, scan_prefix, scan_limit);
  if (status->parsed()) return ringkv::cli::run_status(options);
  if (endpoints->parsed()) return ringkv::cli::run_endpoints(options, key);
  if (ring->parsed()) return ringkv::cli::run_ring(options);
  if (stats->parsed()) return ringkv::cli::run_stats(options);
  if (decommission->parsed()) return ringkv::cli::run_decommission(options);
  if (removenode->parsed()) return ringkv::cli::run_removenode(options, node_name);
  if (cleanup->parsed()) return ringkv::cli::run_cleanup(options);
  if (keygen->parsed()) return ringkv::cli::run_keygen();
  if (keys->parsed()) {
    if ((keys_action == "list") != cluster_key.empty()) {
      std::fprintf(stderr, "kv keys: %s\n", keys_action == "list" ? "list takes no KEY" : "KEY is required");
      return ringkv::cli::kExitUsage;
    }
    return ringkv::cli::run_keys(options, keys_action, cluster_key);
  }
  if (snapshot->parsed()) {
    if ((snapshot_list->parsed() || snapshot_remove->parsed()) && !snapshot_tag.empty()) {
      std::fprintf(stderr, "kv snapshot: --tag is for making a snapshot, not for list or remove\n");
      return ringkv::cli::kExitUsage;
    }
    if (snapshot_list->parsed()) return ringkv::cli::run_snapshot(options, "list", "");
    if (snapshot_remove->parsed()) return ringkv::cli::run_snapshot(options, "remove", removed_tag);
    return ringkv::cli::run_snapshot(options, "create", snapshot_tag);
  }
  if (bench_command->parsed()) return ringkv::cli::run_bench(options, bench);
  cluster.json = options.json;
  if (up->parsed()) {
    if (racks_option->count() > 0) {
      int total = 0;
      for (int count : cluster.racks) total += count;
      if (up->get_option("--nodes")->count() > 0 && total != cluster.nodes) {
        std::fprintf(stderr, "kv: --racks adds up to %d nodes but --nodes is %d\n", total, cluster.nodes);
        return ringkv::cli::kExitUsage;
      }
      cluster.nodes = total;
    }
    return ringkv::cli::cluster_up(cluster);
  }
  if (down->parsed()) return ringkv::cli::cluster_down(cluster);
  if (kill->parsed()) return ringkv::cli::cluster_kill(cluster, node_names);
  if (restart->parsed()) return ringkv::cli::cluster_restart(cluster, node_names);
  if (list->parsed()) return ringkv::cli::cluster_list(cluster);
  return ringkv::cli::kExitUsage;
}
