#include "cli/local_cluster.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "cli/client.h"
#include "cli/json.h"
#include "cli/keys.h"
#include "cli/options.h"
#include "node/trust/users_file.h"
#include "node/wire/address.h"

namespace fs = std::filesystem;

namespace ringkv::cli {
namespace {

struct LocalNode {
  std::string name;
  fs::path dir;
  std::vector<std::string> argv;  // saved command line
  std::string address;            // its --listen value
  std::string metrics;            // its --metrics-listen value (empty for a node made before it)
  pid_t pid = 0;                  // 0 when not running
};

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::vector<std::string> split_nul(const std::string& text) {
  std::vector<std::string> parts;
  std::string current;
  for (char c : text) {
    if (c == '\0') {
      parts.push_back(current);
      current.clear();
    } else {
      current += c;
    }
  }
  if (!current.empty()) parts.push_back(current);
  return parts;
}

// True when `pid` is alive and still runs exactly `argv` (guards against a
// PID recycled by another process).
bool runs(pid_t pid, const std::vector<std::string>& argv) {
  if (pid <= 0 || kill(pid, 0) != 0) return false;
  const auto actual = split_nul(read_file("/proc/" + std::to_string(pid) + "/cmdline"));
  return actual == argv;
}

std::string flag_value(const std::vector<std::string>& argv, const std::string& flag) {
  for (size_t i = 0; i + 1 < argv.size(); ++i) {
    if (argv[i] == flag) return argv[i + 1];
  }
  return {};
}

constexpr const char* kAdminUser = "admin";

fs::path users_path(const ClusterOptions& options) { return fs::absolute(fs::path(options.dir) / "users"); }
fs::path admin_password_path(const ClusterOptions& options) {
  return fs::absolute(fs::path(options.dir) / "admin.password");
}

// The cluster's admin credentials; none for a cluster made without them.
Credentials cluster_credentials(const ClusterOptions& options) {
  std::string warning;
  auto password = trust::read_password_file(admin_password_path(options).string(), warning);
  return password ? Credentials{kAdminUser, *password} : Credentials{};
}

// Creates the users file and the admin's password file (0600) of a new cluster.
bool create_admin(const ClusterOptions& options) {
  const std::string password = trust::random_password();
  auto hash = trust::hash_password(password);
  const std::string path = admin_password_path(options).string();
  const int fd = hash ? open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600) : -1;
  const std::string line = password + "\n";
  const bool written = fd >= 0 && write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  if (fd >= 0) close(fd);
  auto saved = written ? trust::save_users_file(users_path(options).string(), {{kAdminUser, trust::Role::kAdmin, *hash}})
                       : std::expected<void, std::string>(std::unexpected("cannot write " + path));
  if (!saved) std::fprintf(stderr, "kv cluster up: %s\n", saved.error().c_str());
  return saved.has_value();
}

int node_number(const std::string& name) {
  return name.size() > 4 && name.starts_with("node") ? std::atoi(name.c_str() + 4) : 0;
}

// Nodes found under the cluster folder, in node-number order.
std::vector<LocalNode> load_nodes(const ClusterOptions& options) {
  std::vector<LocalNode> nodes;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(options.dir, ec)) {
    const fs::path cmdline = entry.path() / "cmdline";
    if (!fs::exists(cmdline)) continue;
    LocalNode node;
    node.name = entry.path().filename().string();
    node.dir = entry.path();
    node.argv = split_nul(read_file(cmdline));
    node.address = flag_value(node.argv, "--listen");
    node.metrics = flag_value(node.argv, "--metrics-listen");
    const pid_t pid = static_cast<pid_t>(std::atoi(read_file(node.dir / "pid").c_str()));
    node.pid = runs(pid, node.argv) ? pid : 0;
    nodes.push_back(std::move(node));
  }
  std::sort(nodes.begin(), nodes.end(),
            [](const LocalNode& a, const LocalNode& b) { return node_number(a.name) < node_number(b.name); });
  return nodes;
}

std::string find_kvnode(const ClusterOptions& options) {
  if (!options.kvnode.empty()) return fs::absolute(options.kvnode).string();
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec).parent_path();
  for (const fs::path& candidate : {self / "kvnode", self / ".." / "node" / "kvnode"}) {
    if (fs::exists(candidate)) return fs::canonical(candidate).string();
  }
  return "kvnode";  // resolved through PATH by execvp
}

bool accepts_connections(const std::string& address_text) {
  auto address = wire::parse_address(address_text);
  if (!address) return false;
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const bool ok = connect(fd, reinterpret_cast<const sockaddr*>(&*address), sizeof(*address)) == 0;
  close(fd);
  return ok;
}

// Starts the node's saved command line in its own session, output to its log.
bool spawn(LocalNode& node) {
  const std::string log_path = (node.dir / "node.log").string();
  const pid_t pid = fork();
  if (pid < 0) return false;
  if (pid == 0) {
    setsid();
    const int log = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    const int null_input = open("/dev/null", O_RDONLY);
    dup2(null_input, STDIN_FILENO);
    dup2(log, STDOUT_FILENO);
    dup2(log, STDERR_FILENO);
    std::vector<char*> argv;
    for (auto& arg : node.argv) argv.push_back(arg.data());
    argv.push_back(nullptr);
    execvp(argv[0], argv.data());
    std::fprintf(stderr, "kv cluster: cannot run %s\n", argv[0]);
    _exit(127);
  }
  node.pid = pid;
  std::ofstream(node.dir / "pid") << pid;
  return true;
}

// Polls until the node accepts connections, exits, or 20 s pass.
bool wait_ready(LocalNode& node) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (waitpid(node.pid, &status, WNOHANG) == node.pid) return false;
    if (accepts_connections(node.address)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

// Polls every running node's member table until each lists every running
// node alive and in ring status normal (bounded: nodes join one at a time),
// so the cluster is whole when `up` returns.
bool wait_converged(const std::vector<LocalNode>& nodes, const Credentials& credentials) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  size_t running = 0;
  for (const auto& node : nodes) running += node.pid != 0;
  while (std::chrono::steady_clock::now() < deadline) {
    bool converged = true;
    for (const auto& node : nodes) {
      if (node.pid == 0) continue;
      Client client({node.address}, 1000, credentials);
      auto reply = client.call(wire::StatusRequest{});
      const auto* status = reply ? std::get_if<wire::StatusReply>(&reply->body) : nullptr;
      const size_t alive = status == nullptr ? 0 : std::count_if(status->members.begin(), status->members.end(),
                                                                  [](const auto& m) { return m.liveness == "alive" && m.ring_status == "normal"; });
      if (alive < running) {
        converged = false;
        break;
      }
    }
    if (converged) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

bool start(LocalNode& node) {
  if (!spawn(node) || !wait_ready(node)) {
    std::fprintf(stderr, "kv cluster: %s did not start; see %s\n", node.name.c_str(),
                 (node.dir / "node.log").c_str());
    return false;
  }
  std::printf("started %s on %s (pid %d)", node.name.c_str(), node.address.c_str(), node.pid);
  if (!node.metrics.empty()) std::printf(", metrics at http://%s/metrics", node.metrics.c_str());
  std::printf("\n");
  return true;
}

// Polls until `pid` is gone; false after `timeout`.
bool wait_gone(pid_t pid, const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    waitpid(pid, nullptr, WNOHANG);  // reap if it is our child
    if (!runs(pid, argv)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return !runs(pid, argv);
}

std::vector<LocalNode*> select(std::vector<LocalNode>& nodes, const std::vector<std::string>& names, bool& ok) {
  std::vector<LocalNode*> chosen;
  ok = true;
  for (auto& node : nodes) {
    if (names.empty() || std::find(names.begin(), names.end(), node.name) != names.end()) chosen.push_back(&node);
  }
  for (const auto& name : names) {
    if (std::none_of(nodes.begin(), nodes.end(), [&](const LocalNode& n) { return n.name == name; })) {
      std::fprintf(stderr, "kv cluster: no node named %s in %s\n", name.c_str(), nodes.empty() ? "(empty)" : "the cluster");
      ok = false;
    }
  }
  return chosen;
}

// "rackK" for node i (1-based) when racks[K - 1] holds it, counting nodes rack by rack; "" when
// no racks were given.
std::string rack_of(const std::vector<int>& racks, int node) {
  int last = 0;
  for (size_t rack = 0; rack < racks.size(); ++rack) {
    last += racks[rack];
    if (node <= last) return "rack" + std::to_string(rack + 1);
  }
  return "";
}

}  // namespace

int cluster_up(const ClusterOptions& options) {
  if (options.nodes < 1 || options.nodes > 250) {
    std::fprintf(stderr, "kv cluster up: --nodes must be 1-250\n");
    return kExitUsage;
  }
  const std::string kvnode = find_kvnode(options);
  const std::string seed = "127.0.0.1:" + std::to_string(options.port);
  // Secure by default (DESIGN.md "Trust"): the cluster's own keyring, made
  // once and kept in the cluster folder. (The admin user for client
  // credentials is made here too, once users exist.)
  auto keyring = ensure_keyring_file(options.dir);
  if (!keyring) {
    std::fprintf(stderr, "kv cluster up: %s\n", keyring.error().c_str());
    return kExitClusterError;
  }
  auto existing = load_nodes(options);
  fs::create_directories(options.dir);
  const bool new_cluster = existing.empty() && !fs::exists(users_path(options));
  if (new_cluster && !create_admin(options)) return kExitClusterError;
  const bool with_users = fs::exists(users_path(options));
  bool all_ok = true;
  for (int i = 1; i <= options.nodes; ++i) {
    const std::string name = "node" + std::to_string(i);
    auto found = std::find_if(existing.begin(), existing.end(), [&](const LocalNode& n) { return n.name == name; });
    LocalNode node;
    if (found != existing.end()) {
      if (found->pid != 0) {
        std::printf("%s already running on %s (pid %d)\n", name.c_str(), found->address.c_str(), found->pid);
        continue;
      }
      node = *found;
    } else {
      node.name = name;
      node.dir = fs::absolute(fs::path(options.dir) / name);
      fs::create_directories(node.dir);
      node.address = "127.0.0." + std::to_string(i) + ":" + std::to_string(options.port);
      // Same port on 127.0.1.<i>: an address nothing else on the machine uses,
      // so neither the nodes nor other programs' loopback ports collide with it.
      node.metrics = "127.0.1." + std::to_string(i) + ":" + std::to_string(options.port);
      node.argv = {kvnode, "--name", name, "--listen", node.address, "--data", (node.dir / "data").string(),
                   "--seeds", seed, "--replicas", std::to_string(options.replicas), "--keyring", *keyring,
                   "--metrics-listen", node.metrics};
      if (with_users) node.argv.insert(node.argv.end(), {"--users", users_path(options).string()});
      if (const std::string rack = rack_of(options.racks, i); !rack.empty()) {
        node.argv.insert(node.argv.end(), {"--rack", rack});
      }
      node.argv.insert(node.argv.end(), options.node_flags.begin(), options.node_flags.end());
      std::string saved;
      for (const auto& arg : node.argv) saved += arg + '\0';
      std::ofstream(node.dir / "cmdline", std::ios::binary) << saved;
    }
    all_ok = start(node) && all_ok;
  }
  if (all_ok && !wait_converged(load_nodes(options), cluster_credentials(options))) {
    std::fprintf(stderr, "kv cluster: the nodes did not all see each other alive and normal within 60 s\n");
    return kExitClusterError;
  }
  if (with_users) {
    std::printf("clients authenticate as %s; for kv commands run:\n  export KV_USER=%s KV_PASSWORD_FILE=%s\n",
                kAdminUser, kAdminUser, admin_password_path(options).c_str());
  }
  return all_ok ? kExitOk : kExitClusterError;
}

int cluster_down(const ClusterOptions& options) {
  auto nodes = load_nodes(options);
  for (auto& node : nodes) {
    if (node.pid != 0) kill(node.pid, SIGTERM);
  }
  bool all_ok = true;
  for (auto& node : nodes) {
    if (node.pid == 0) continue;
    if (!wait_gone(node.pid, node.argv, std::chrono::seconds(15))) {
      std::fprintf(stderr, "kv cluster: %s ignored SIGTERM; killing it\n", node.name.c_str());
      kill(node.pid, SIGKILL);
      all_ok = wait_gone(node.pid, node.argv, std::chrono::seconds(5)) && all_ok;
    }
    std::printf("stopped %s\n", node.name.c_str());
  }
  return all_ok ? kExitOk : kExitClusterError;
}

int cluster_kill(const ClusterOptions& options, const std::vector<std::string>& names) {
  auto nodes = load_nodes(options);
  bool ok = true;
  for (LocalNode* node : select(nodes, names, ok)) {
    if (node->pid == 0) continue;
    kill(node->pid, SIGKILL);
    wait_gone(node->pid, node->argv, std::chrono::seconds(5));
    std::printf("killed %s (pid %d)\n", node->name.c_str(), node->pid);
  }
  return ok ? kExitOk : kExitUsage;
}

int cluster_restart(const ClusterOptions& options, const std::vector<std::string>& names) {
  auto nodes = load_nodes(options);
  bool ok = true;
  auto chosen = select(nodes, names, ok);
  if (!ok) return kExitUsage;
  bool all_ok = true;
  for (LocalNode* node : chosen) {
    if (node->pid != 0) {
      // A named running node is stopped first, as `restart` promises.
      if (names.empty()) continue;
      kill(node->pid, SIGTERM);
      if (!wait_gone(node->pid, node->argv, std::chrono::seconds(15))) kill(node->pid, SIGKILL);
      wait_gone(node->pid, node->argv, std::chrono::seconds(5));
    }
    all_ok = start(*node) && all_ok;
  }
  if (all_ok && !wait_converged(load_nodes(options), cluster_credentials(options))) {
    std::fprintf(stderr, "kv cluster: the nodes did not all see each other alive and normal within 60 s\n");
    return kExitClusterError;
  }
  return all_ok ? kExitOk : kExitClusterError;
}

int cluster_list(const ClusterOptions& options) {
  const auto nodes = load_nodes(options);
  if (options.json) {
    std::string json = "{\"nodes\": [";
    for (size_t i = 0; i < nodes.size(); ++i) {
      const auto& n = nodes[i];
      json += (i ? ", " : "") + std::string("{\"name\": ") + json_string(n.name) +
              ", \"address\": " + json_string(n.address) + ", \"metrics\": " + json_string(n.metrics) + ", \"pid\": " + std::to_string(n.pid) +
              ", \"running\": " + (n.pid ? "true" : "false") + ", \"dir\": " + json_string(n.dir.string()) + "}";
    }
    std::puts((json + "]}").c_str());
    return kExitOk;
  }
  std::printf("%-8s %-22s %-22s %-8s %s\n", "NAME", "ADDRESS", "METRICS", "PID", "STATE");
  for (const auto& n : nodes) {
    std::printf("%-8s %-22s %-22s %-8d %s\n", n.name.c_str(), n.address.c_str(), n.metrics.empty() ? "-" : n.metrics.c_str(),
                n.pid, n.pid ? "running" : "stopped");
  }
  return kExitOk;
}

}  // namespace ringkv::cli
