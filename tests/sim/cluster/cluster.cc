#include "tests/sim/cluster/cluster.h"

#include <cstdio>

#include "membership/member.h"
#include "storage/storage_key.h"

namespace ringkv::cluster_sim {
namespace {

// Where clients connect from; only logged by the core.
constexpr const char* kClientAddress = "192.0.2.1:40000";

}  // namespace

// Appends rather than `"literal" + std::string`, which trips GCC 12's false -Wrestrict.
std::string node_name(int index) { return std::string("n").append(std::to_string(index)); }
std::string node_address(int index) {
  return std::string("10.0.0.").append(std::to_string(index + 1)).append(":7000");
}

Cluster::Cluster(World& world, Network& network, std::vector<NodeSettings> settings, Plant plant,
                 bool verbose)
    : world_(world),
      network_(network),
      plant_(plant),
      verbose_(verbose),
      roles_(settings.size(), Role::kMember),
      crash_times_(settings.size()) {
  for (size_t i = 0; i < settings.size(); ++i) {
    std::string id(membership::kNodeIdBytes, '\0');
    for (char& byte : id) byte = static_cast<char>(world_.random().next());
    const std::string name = node_name(static_cast<int>(i));
    const std::string address = node_address(static_cast<int>(i));
    by_address_[address] = static_cast<int>(i);
    by_id_[id] = static_cast<int>(i);
    nodes_.push_back(std::make_unique<NodeHost>(static_cast<int>(i), id, name, address,
                                                std::move(settings[i]), world_, *this));
    if (verbose_) {
      nodes_.back()->on_event = [this](const NodeHost& node, const membership::Event& event) {
        trace(node.name() + " sees " + event.member.name + " " +
              std::string(membership::to_string(event.kind)) + " (incarnation " +
              std::to_string(event.member.incarnation) + ", " +
              std::string(membership::to_string(event.member.liveness)) + ", " +
              std::string(membership::to_string(event.member.ring_status)) + ")");
      };
      nodes_.back()->on_notice = [this](const NodeHost& node, const std::string& notice) {
        trace(node.name() + ": " + notice);
      };
    }
    nodes_.back()->on_finished = [this](const NodeHost& node) {
      const int index = node.index();
      ++counters_.decommissions_finished;
      crash_times_[index].push_back(world_.now_us());  // open operations end as in a crash
      nodes_[index]->stop();
      roles_[index] = Role::kGone;
      if (verbose_) trace(node.name() + " finished its decommission and stopped");
      reset_connections_to(index);
      if (on_finished) on_finished(index);
    };
  }
}

int Cluster::index_of_address(const std::string& address) const {
  auto it = by_address_.find(address);
  return it == by_address_.end() ? -1 : it->second;
}

int Cluster::index_of_id(const std::string& id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? -1 : it->second;
}

std::string Cluster::describe_id(const std::string& id) const {
  const int index = index_of_id(id);
  return index < 0 ? "unknown node " + membership::id_to_hex(id) : nodes_[index]->name();
}

int Cluster::members_down() const {
  int down = 0;
  for (const auto& node : nodes_) {
    if (roles_[node->index()] == Role::kMember && !node->up()) ++down;
  }
  return down;
}

std::vector<int> Cluster::members() const {
  std::vector<int> members;
  for (const auto& node : nodes_) {
    if (roles_[node->index()] == Role::kMember) members.push_back(node->index());
  }
  return members;
}

std::vector<int> Cluster::up_nodes() const {
  std::vector<int> up;
  for (const auto& node : nodes_) {
    if (node->up()) up.push_back(node->index());
  }
  return up;
}

void Cluster::trace(const std::string& line) const {
  std::printf("  [%9.3f s] %s\n", static_cast<double>(world_.now_us()) / kUsPerS, line.c_str());
}

void Cluster::start(int index) {
  NodeHost& node = *nodes_[index];
  if (node.epoch() > 0) ++counters_.restarts;
  if (!node.start()) {
    ++counters_.refused_starts;
    roles_[index] = Role::kGone;
    if (verbose_) trace(node.name() + " refused to start: it was decommissioned");
    if (on_refused) on_refused(index);
    return;
  }
  roles_[index] = Role::kMember;
  if (verbose_) trace(node.name() + " started, generation " + std::to_string(node.generation()));
}

void Cluster::kill_for_good(int index) {
  if (nodes_[index]->up()) crash(index);
  roles_[index] = Role::kGone;
  if (verbose_) trace(nodes_[index]->name() + " is gone for good (to be removed)");
}

void Cluster::reset_connections_to(int index) {
  for (auto it = routes_.begin(); it != routes_.end();) {
    if (it->second.server == index) {
      complete_later(it->second, network_.delay(), std::unexpected("connection reset by peer"));
      it = routes_.erase(it);
    } else {
      ++it;
    }
  }
}

void Cluster::crash(int index) {
  NodeHost& node = *nodes_[index];
  ++counters_.crashes;
  crash_times_[index].push_back(world_.now_us());
  const CrashLoss lost = node.crash();
  counters_.planted_writes_lost += lost.planted;
  counters_.unflushed_writes_lost += lost.unflushed;
  for (const auto& hint : lost.unflushed_hints) unflushed_hints_lost_.insert(hint);
  if (verbose_) {
    trace(
        node.name() + " crashed, losing " + std::to_string(lost.unflushed) + " unflushed changes" +
        (lost.planted > 0 ? " and " + std::to_string(lost.planted) + " flushed ones (plant)" : ""));
    for (const auto& what : lost.what) trace("  lost: " + what);
  }
  // Its connections are reset: whoever waits on it hears so.
  reset_connections_to(index);
}

std::string Cluster::peer_address(int requester) const {
  return requester < 0 ? kClientAddress : nodes_[requester]->address();
}

void Cluster::send_datagram(int from, const std::string& to_address, std::string bytes) {
  NetworkCounters& counters = network_.counters();
  ++counters.datagrams_sent;
  const int to = index_of_address(to_address);
  if (to < 0) {
    ++counters.datagrams_lost;
    return;
  }
  if (!network_.udp_passes(from, to)) {
    ++counters.datagrams_blocked;
    return;
  }
  if (world_.random().chance(network_.profile().loss)) {
    ++counters.datagrams_lost;
    return;
  }
  const int copies = world_.random().chance(network_.profile().duplicate) ? 2 : 1;
  if (copies == 2) ++counters.datagrams_duplicated;
  auto shared = std::make_shared<const std::string>(std::move(bytes));
  const std::string& from_address = nodes_[from]->address();
  for (int i = 0; i < copies; ++i) {
    // UDP reaches whichever process holds the port when it lands, even a restarted one.
    world_.after(network_.delay(), [this, to, shared, from_address] {
      if (nodes_[to]->up()) nodes_[to]->receive_datagram(from_address, *shared);
    });
  }
}

void Cluster::send_request(int from, const std::string& to_address, wire::Body body,
                           ReplyHandler done) {
  request(from, index_of_address(to_address), std::move(body), std::move(done));
}

void Cluster::client_request(int server, wire::Body body, ReplyHandler done) {
  request(-1, server, std::move(body), std::move(done));
}

namespace {

// The key a request is about and a short name for it, for --trace-key.
std::pair<std::string, std::string> request_key(const wire::Body& body) {
  if (const auto* write = std::get_if<wire::ReplicaWriteRequest>(&body)) {
    return {write->key, write->hint_target.empty() ? "replica write" : "hinted write"};
  }
  if (const auto* read = std::get_if<wire::ReplicaReadRequest>(&body)) {
    return {read->key, "replica read"};
  }
  if (const auto* put = std::get_if<wire::PutRequest>(&body)) return {put->key, "put"};
  if (const auto* get = std::get_if<wire::GetRequest>(&body)) return {get->key, "get"};
  return {};
}

}  // namespace

void Cluster::request(int requester, int server, wire::Body body, ReplyHandler done) {
  ++network_.counters().requests_sent;
  if (!trace_key_.empty()) {
    auto [key, what] = request_key(body);
    // Streams that carry (or may carry) the traced key.
    const uint64_t position = storage::ring_position(trace_key_);
    if (const auto* read = std::get_if<wire::StreamReadRequest>(&body);
        read != nullptr && position >= read->begin && (read->end == 0 || position < read->end)) {
      key = trace_key_;
      what = "stream read of its range [" + std::to_string(read->begin) + ", " +
             std::to_string(read->end) + ") after '" + read->after + "' for";
    }
    if (const auto* write = std::get_if<wire::StreamWriteRequest>(&body); write != nullptr) {
      for (const auto& entry : write->entries) {
        if (entry.key == trace_key_) {
          key = trace_key_;
          what = "stream write (" + std::to_string(write->entries.size()) + " entries) of";
        }
      }
    }
    if (key == trace_key_) {
      const std::string line = what + " " + key + " " + peer_address(requester) + " -> " +
                               (server < 0 ? "?" : nodes_[server]->name());
      trace(line);
      done = [this, line, done = std::move(done)](const Reply& reply) {
        std::string outcome =
            reply ? std::to_string(static_cast<int>(wire::type_of(reply->body))) : reply.error();
        if (const auto* batch = reply ? std::get_if<wire::StreamReadReply>(&reply->body) : nullptr) {
          bool has = false;
          for (const auto& entry : batch->entries) has = has || entry.key == trace_key_;
          outcome += " (" + std::to_string(batch->entries.size()) + " entries, " +
                     (has ? "with the key" : "without the key") +
                     (batch->done ? ", done" : ", more") + ")";
        }
        trace(line + ": " + outcome);
        done(reply);
      };
    }
  }
  Route route{.server = server,
              .requester = requester,
              .requester_epoch = requester >= 0 ? nodes_[requester]->epoch() : 0,
              .done = std::move(done),
              // Push-pull and anti-entropy digests recur forever: they never quiesce.
              .counted = !std::holds_alternative<wire::PushPullRequest>(body) &&
                         !std::holds_alternative<wire::RangeDigestRequest>(body)};
  if (const auto* write = std::get_if<wire::ReplicaWriteRequest>(&body);
      write != nullptr && !write->hint_target.empty()) {
    stand_ins_sent_.insert({write->key, write->hint_target});
    route.done = [this, key = write->key, target = write->hint_target,
                  done = std::move(route.done)](const Reply& reply) {
      if (reply && std::holds_alternative<wire::ReplicaWriteReply>(reply->body)) {
        stand_ins_confirmed_.insert({key, target});
      }
      done(reply);
    };
  }
  if (route.counted) {
    ++in_flight_;
    route.serial = next_serial_++;
    open_.emplace(route.serial, OpenRequest{wire::type_of(body), requester, server, world_.now_us()});
  }
  if (server < 0) {
    complete_later(route, network_.delay(), std::unexpected("no route to host"));
    return;
  }
  if (requester >= 0 && !network_.tcp_link_up(requester, server)) {
    complete_later(route, network_.tcp_timeout(), std::unexpected("timed out (partition)"));
    return;
  }
  if (!nodes_[server]->up()) {
    complete_later(route, network_.delay(), std::unexpected("connection refused"));
    return;
  }
  if (plant_ == Plant::kDropHints) {
    const auto* write = std::get_if<wire::ReplicaWriteRequest>(&body);
    if (write != nullptr && !write->hint_target.empty()) {
      ++counters_.planted_hint_drops;
      complete_later(route, 2 * network_.delay(),
                     wire::Message{next_request_id_++, wire::ReplicaWriteReply{}});
      return;
    }
  }
  if (world_.random().chance(network_.profile().tcp_failure)) {
    // The connection breaks: before the request got through, or after it was processed.
    if (world_.random().chance(0.5)) {
      complete_later(route, network_.delay(), std::unexpected("connection reset (flaky link)"));
      return;
    }
    route.break_reply = true;
  }
  const uint64_t server_epoch = nodes_[server]->epoch();
  world_.after(network_.delay(), [this, route = std::move(route), server_epoch,
                                  body = std::move(body)]() mutable {
    NodeHost& target = *nodes_[route.server];
    if (!target.up() || target.epoch() != server_epoch) {
      complete_later(route, network_.delay(), std::unexpected("connection reset by peer"));
      return;
    }
    if (route.requester >= 0 && !network_.tcp_link_up(route.requester, route.server)) {
      complete_later(route, network_.tcp_timeout(), std::unexpected("timed out (partition)"));
      return;
    }
    if (on_stream_request && (std::holds_alternative<wire::StreamReadRequest>(body) ||
                              std::holds_alternative<wire::StreamWriteRequest>(body))) {
      on_stream_request(route.requester, route.server);
    }
    const core::ClientId client = next_client_id_++;
    const std::string from = peer_address(route.requester);
    routes_.emplace(client, std::move(route));
    target.receive_request(client, from, wire::Message{next_request_id_++, std::move(body)});
  });
}

void Cluster::send_reply(int from, core::Outgoing reply) {
  auto it = routes_.find(reply.client);
  if (it == routes_.end()) {
    anomalies_.push_back(nodes_[from]->name() + " answered connection " +
                         std::to_string(reply.client) +
                         ", which has no request waiting (answered twice, or never asked)");
    return;
  }
  Route route = std::move(it->second);
  routes_.erase(it);
  if (route.server != from) {
    anomalies_.push_back(nodes_[from]->name() + " answered a request sent to " +
                         nodes_[route.server]->name());
  }
  if (route.break_reply) {
    complete_later(route, network_.tcp_timeout(), std::unexpected("connection reset (flaky link)"));
    return;
  }
  if (route.requester >= 0 && !network_.tcp_link_up(route.requester, route.server)) {
    complete_later(route, network_.tcp_timeout(), std::unexpected("timed out (partition)"));
    return;
  }
  complete_later(route, network_.delay(), std::move(reply.message));
}

void Cluster::complete_later(const Route& route, SimTimeUs delay_us, Reply reply) {
  world_.after(delay_us, [this, route, reply = std::move(reply)] {
    if (route.counted) {
      --in_flight_;
      open_.erase(route.serial);
    }
    if (!reply) ++network_.counters().requests_failed;
    if (route.requester >= 0) {
      const NodeHost& requester = *nodes_[route.requester];
      if (!requester.up() || requester.epoch() != route.requester_epoch) return;
    }
    route.done(reply);
  });
}

bool Cluster::formed() const {
  const std::vector<int> expected = members();
  for (int index : expected) {
    NodeHost& node = *nodes_[index];
    if (!node.up()) return false;
    size_t alive_members = 0;
    for (const auto& member : node.core().membership().members()) {
      const int other = index_of_id(member.id);
      if (other < 0 || roles_[other] != Role::kMember) continue;
      if (member.liveness != membership::Liveness::kAlive) return false;
      ++alive_members;
    }
    if (alive_members != expected.size()) return false;
    if (node.core().view().ring->node_count() != expected.size()) return false;
  }
  return true;
}

std::string Cluster::view_gaps(NodeHost& node) const {
  std::string gaps;
  auto gap = [&](const std::string& text) { gaps += (gaps.empty() ? "" : "; ") + text; };
  const std::vector<int> expected = members();
  size_t members_seen = 0;
  for (const auto& member : node.core().membership().members()) {
    const int other = index_of_id(member.id);
    const Role role = other < 0 ? Role::kAbsent : roles_[other];
    if (role == Role::kMember) {
      ++members_seen;
      if (member.liveness != membership::Liveness::kAlive) {
        gap(node.name() + " sees " + member.name + " " +
            std::string(membership::to_string(member.liveness)));
      }
      if (member.ring_status != membership::RingStatus::kNormal) {
        gap(node.name() + " sees " + member.name + " " +
            std::string(membership::to_string(member.ring_status)));
      }
    } else if (role == Role::kGone) {
      if (member.liveness != membership::Liveness::kLeft) {
        gap(node.name() + " sees gone " + member.name + " " +
            std::string(membership::to_string(member.liveness)) + " " +
            std::string(membership::to_string(member.ring_status)) + ", not left");
      }
    } else {
      gap(node.name() + " knows " + member.name + ", which never started");
    }
  }
  if (members_seen != expected.size()) {
    gap(node.name() + " knows " + std::to_string(members_seen) + " of " +
        std::to_string(expected.size()) + " members");
  }
  const core::ClusterView& view = node.core().view();
  if (!view.down_since_ms.empty()) {
    gap(node.name() + " has " + std::to_string(view.down_since_ms.size()) + " nodes down");
  }
  size_t in_ring = 0;
  for (const core::RingNode& ring_node : view.ring->nodes()) {
    const int other = index_of_id(ring_node.id);
    if (other >= 0 && roles_[other] == Role::kMember) {
      ++in_ring;
    } else {
      gap(node.name() + "'s ring holds " + ring_node.name);
    }
  }
  if (in_ring != expected.size()) {
    gap(node.name() + "'s ring has " + std::to_string(in_ring) + " of " +
        std::to_string(expected.size()) + " members");
  }
  if (view.changing()) gap(node.name() + " sees a ring change in progress");
  return gaps;
}

std::vector<std::tuple<std::string, std::string, uint64_t>> Cluster::stale_hints() const {
  std::vector<std::tuple<std::string, std::string, uint64_t>> stale;
  for (const auto& node : nodes_) {
    if (roles_[node->index()] != Role::kMember || !node->up()) continue;
    for (const auto& [target, count] : node->store().hint_counts()) {
      const int other = index_of_id(target);
      if (count > 0 && other >= 0 && roles_[other] == Role::kGone) {
        stale.emplace_back(node->name(), nodes_[other]->name(), count);
      }
    }
  }
  return stale;
}

const core::Ring* Cluster::member_ring() const {
  for (const auto& node : nodes_) {
    if (roles_[node->index()] == Role::kMember && node->up()) return node->core().view().ring.get();
  }
  return nullptr;
}

std::string Cluster::quiescence_gaps() const {
  std::string gaps;
  auto gap = [&](const std::string& text) {
    if (gaps.size() < 400) gaps += (gaps.empty() ? "" : "; ") + text;
  };
  for (const auto& node : nodes_) {
    if (roles_[node->index()] != Role::kMember) continue;
    if (!node->up()) {
      gap(node->name() + " is down");
      continue;
    }
    if (std::string view = view_gaps(*node); !view.empty()) gap(view);
    for (const auto& [target, count] : node->store().hint_counts()) {
      const int other = index_of_id(target);
      if (count > 0 && !(other >= 0 && roles_[other] == Role::kGone)) {
        gap(node->name() + " holds " + std::to_string(count) + " hints for " + describe_id(target));
      }
    }
  }
  if (in_flight_ > 0) {
    std::map<int, int> waiting;  // server -> requests it holds unanswered
    for (const auto& [client, route] : routes_) {
      if (route.counted) ++waiting[route.server];
    }
    std::string where;
    for (const auto& [server, count] : waiting) {
      where += " " + nodes_[server]->name() + ":" + std::to_string(count);
    }
    // The oldest few, by type (wire::MessageType), requester and server.
    std::string oldest;
    int shown = 0;
    for (const auto& [serial, open] : open_) {
      if (++shown > 3) break;
      oldest += " type " + std::to_string(static_cast<int>(open.type)) + " " +
                (open.requester < 0 ? std::string("client") : nodes_[open.requester]->name()) +
                "->" + (open.server < 0 ? std::string("?") : nodes_[open.server]->name()) +
                " sent at " + std::to_string(open.sent_us / kUsPerMs) + " ms;";
    }
    gap(std::to_string(in_flight_) + " requests in flight (unanswered at" +
        (where.empty() ? " none" : where) + "; oldest:" + oldest + ")");
  }
  return gaps;
}

}  // namespace ringkv::cluster_sim
