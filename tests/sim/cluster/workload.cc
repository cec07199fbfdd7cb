#include "tests/sim/cluster/workload.h"

#include <cstdio>

namespace ringkv::cluster_sim {

Workload::Workload(World& world, Cluster& cluster, History& history, WorkloadSettings settings,
                   bool verbose)
    : world_(world),
      cluster_(cluster),
      history_(history),
      settings_(settings),
      verbose_(verbose),
      next_key_(settings.clients, 0) {}

void Workload::start() {
  running_ = true;
  for (int client = 0; client < settings_.clients; ++client) {
    world_.after(world_.random().between(0, settings_.think_max_us),
                 [this, client] { wake(client); });
  }
}

int Workload::pick_coordinator() {
  const std::vector<int> up = cluster_.up_nodes();
  if (up.empty()) return -1;
  return up[world_.random().below(up.size())];
}

void Workload::wake(int client) {
  if (!running_) return;
  auto think = [this, client] {
    world_.after(world_.random().between(settings_.think_min_us, settings_.think_max_us),
                 [this, client] { wake(client); });
  };
  const int coordinator = pick_coordinator();
  if (coordinator < 0) {
    think();
    return;
  }
  Op op;
  op.client = client;
  op.coordinator = coordinator;
  op.start_us = world_.now_us();
  wire::Body body;
  if (!acknowledged_.empty() && world_.random().chance(settings_.get_fraction)) {
    op.kind = OpKind::kGet;
    op.key = acknowledged_[world_.random().below(acknowledged_.size())];
    body = wire::GetRequest{op.key, wire::Consistency::kQuorum, false};
  } else {
    op.kind = OpKind::kPut;
    op.key = std::string("c")
                 .append(std::to_string(client))
                 .append("-k")
                 .append(std::to_string(next_key_[client]++));
    op.value = make_value(op.key, world_.random().next());
    body = wire::PutRequest{op.key, op.value, wire::Consistency::kQuorum};
  }
  send(history_.begin(std::move(op)), std::move(body), think);
}

void Workload::read_all(std::vector<std::string> keys, int parallel) {
  for (auto& key : keys) read_queue_.push_back(std::move(key));
  for (int i = 0; i < parallel; ++i) next_read();
}

void Workload::next_read() {
  if (read_queue_.empty()) return;
  const int coordinator = pick_coordinator();
  if (coordinator < 0) return;
  Op op;
  op.kind = OpKind::kGet;
  op.client = -1;
  op.coordinator = coordinator;
  op.key = std::move(read_queue_.front());
  read_queue_.pop_front();
  op.start_us = world_.now_us();
  wire::Body body = wire::GetRequest{op.key, wire::Consistency::kQuorum, false};
  send(history_.begin(std::move(op)), std::move(body), [this] { next_read(); });
}

void Workload::send(size_t index, wire::Body body, std::function<void()> then) {
  ++in_flight_;
  auto ended = std::make_shared<bool>(false);
  cluster_.client_request(history_.at(index).coordinator, std::move(body),
                          [this, index, ended, then](const Reply& reply) {
                            if (*ended) return;
                            *ended = true;
                            --in_flight_;
                            record(index, reply);
                            then();
                          });
  world_.after(settings_.reply_deadline_us, [this, index, ended, then] {
    if (*ended) return;
    *ended = true;
    --in_flight_;
    Op& op = history_.at(index);
    op.outcome = Outcome::kInfo;
    op.end_us = world_.now_us();
    op.detail = "no reply";
    anomalies_.push_back("coordinator never answered: " + describe(op));
    then();
  });
}

void Workload::record(size_t index, const Reply& reply) {
  Op& op = history_.at(index);
  op.end_us = world_.now_us();
  if (!reply) {
    op.outcome = Outcome::kInfo;
    op.detail = reply.error();
  } else if (const auto* error = std::get_if<wire::ErrorReply>(&reply->body)) {
    op.detail = std::string(wire::error_code_name(error->code)) + ": " + error->message;
    switch (error->code) {
      case wire::ErrorCode::kUnavailable:
        op.outcome = Outcome::kFail;
        break;
      case wire::ErrorCode::kTimeout:
      case wire::ErrorCode::kInternal:
      case wire::ErrorCode::kFailed:
      case wire::ErrorCode::kSuperseded:
        op.outcome = Outcome::kInfo;
        break;
      default:
        op.outcome = Outcome::kInfo;
        anomalies_.push_back("unexpected error reply: " + describe(op));
    }
  } else if (const auto* written = std::get_if<wire::WriteReply>(&reply->body);
             written != nullptr && op.kind == OpKind::kPut) {
    op.outcome = Outcome::kOk;
    op.version = storage::Version{written->timestamp_us, written->tiebreak};
    acknowledged_.push_back(op.key);
  } else if (const auto* got = std::get_if<wire::GetReply>(&reply->body);
             got != nullptr && op.kind == OpKind::kGet) {
    op.outcome = Outcome::kOk;
    op.found = got->found;
    op.value = got->value;
    op.version = storage::Version{got->timestamp_us, got->tiebreak};
  } else {
    op.outcome = Outcome::kInfo;
    op.detail = "reply of the wrong type";
    anomalies_.push_back("wrong reply type: " + describe(op));
  }
  if (verbose_) {
    std::printf("  [%9.3f s] client %d: %s\n", static_cast<double>(world_.now_us()) / kUsPerS,
                op.client, describe(op).c_str());
  }
}

}  // namespace ringkv::cluster_sim
