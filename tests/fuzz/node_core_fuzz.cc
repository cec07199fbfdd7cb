// Fuzz target: a whole NodeCore (node/core/node_core.h) over the in-memory engine, fed a
// sequence of decoded messages, replies to its peer requests, gossip, push-pull replies, ticks
// and closed connections, with explicit time (input layout: node_core_steps.h). After every step
// it checks:
// - no crash, no sanitizer report, no assertion;
// - nothing stored from a refused message: a request answered with a refusal (INVALID,
//   FORBIDDEN, NOT_AUTHENTICATED, UNAVAILABLE, unknown type or version) made no state-changing
//   storage call; an internode message (or a reply) on a client connection is always FORBIDDEN;
// - replies: at most one per request, to the connection that sent it, and every request not
//   on a closed connection is answered once time has passed every deadline (checked at the end);
// - everything the node sends decodes at the other end: replies and peer requests (wire codec),
//   gossip datagrams and push-pull requests (membership codec);
// - bounded memory: the heap in use stays within a fixed slack plus a fixed multiple of the
//   input bytes consumed, and the peer requests left unanswered stay bounded by the harness.
// Time only moves forward. Request ids are the harness's own (unique), so replies can be
// matched; the message itself is the fuzzer's.
#include <sanitizer/allocator_interface.h>
#include <sodium.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "membership/codec.h"
#include "node/core/client_access.h"
#include "node/core/known_members.h"
#include "node/core/node_core.h"
#include "node/wire/codec.h"
#include "storage/memory_engine.h"
#include "tests/fuzz/counting_engine.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/node_core_steps.h"

using namespace ringkv;
using fuzz::FuzzInput;
using fuzz::StepOp;

namespace {

constexpr uint64_t kWallStartUs = 1'700'000'000'000'000;
constexpr membership::TimeMs kMonotonicStartMs = 1000;
// Request ids the harness gives (the fuzzer's own are masked below this).
constexpr uint64_t kHarnessIdBase = uint64_t{1} << 62;
// Unanswered peer requests the harness keeps to reply to; older ones are never answered (the
// core's deadlines deal with them).
constexpr size_t kPendingPeerRequestsMax = 256;
// Route ids from here on are never issued in a run (each owner counts from 1).
constexpr uint64_t kForgedIdBase = uint64_t{1} << 40;
// Heap allowed beyond what was in use after setup: a fixed slack plus this much per input byte.
constexpr size_t kHeapSlackBytes = 16 << 20;
constexpr size_t kHeapBytesPerInputByte = 512;
// After the last step: ticks that carry time past every request deadline.
constexpr membership::TimeMs kFinishTickMs = 2500;
constexpr int kFinishTicks = 4;

// Users for kSetupUsers, hashed once with the cheapest argon2 settings (the hash string carries
// its settings, so verifying them costs microseconds, not the interactive tens of milliseconds).
std::vector<trust::User>* g_users = nullptr;

const wire::Limits kWireLimits{};
const membership::Config kMembershipConfig{};

membership::Member member_of(int index) {
  membership::Member member;
  member.id = std::string(membership::kNodeIdBytes, fuzz::kNodeIdByte[index]);
  member.name = "node" + std::to_string(index + 1);
  member.address = std::string(fuzz::kNodeAddress[index]);
  member.ring_status = membership::RingStatus::kNormal;
  member.vnode_count = fuzz::kVnodes;
  return member;
}

bool is_refusal(const wire::Body& body) {
  const auto* error = std::get_if<wire::ErrorReply>(&body);
  if (error == nullptr) return false;
  switch (error->code) {
    case wire::ErrorCode::kInvalid:
    case wire::ErrorCode::kForbidden:
    case wire::ErrorCode::kNotAuthenticated:
    case wire::ErrorCode::kUnavailable:
    case wire::ErrorCode::kUnknownType:
    case wire::ErrorCode::kBadVersion:
      return true;
    default:
      return false;
  }
}

void check_decodes(const wire::Message& message) {
  auto decoded = wire::decode(wire::encode(message), kWireLimits);
  FUZZ_CHECK(decoded.has_value(), "what the node sends decodes at the other end");
}

class Harness {
 public:
  explicit Harness(uint8_t setup) {
    if (setup & fuzz::kSetupRemembered) {
      std::vector<core::RingNode> others;
      for (int i = 1; i < 3; ++i) {
        const membership::Member m = member_of(i);
        others.push_back(core::RingNode{m.id, m.name, m.address, m.vnode_count});
      }
      FUZZ_CHECK(memory_.meta_put(core::kKnownMembersMeta, core::encode_known_members(others)).has_value(),
                 "setup: remembered members stored");
    }
    store_.emplace(*core::ReplicaStore::open(engine_, core::HintLimits{}));
    auto swim = membership::Swim::create(kMembershipConfig, member_of(0), /*generation=*/1, /*rng_seed=*/1,
                                         now_.monotonic_ms);
    FUZZ_CHECK(swim.has_value(), "setup: membership starts");
    swim->join({}, now_.monotonic_ms);
    core_ = std::make_unique<core::NodeCore>(core::NodeConfig{}, *store_, /*tiebreak=*/7, std::move(*swim), now_);
    if (setup & fuzz::kSetupUsers) {
      core_->set_users(trust::UserTable(*g_users));
      users_configured_ = true;
    }
    drain();
    heap_baseline_ = __sanitizer_get_current_allocated_bytes();
  }

  void step(FuzzInput& in) {
    const size_t before = in.remaining();
    const auto op = static_cast<StepOp>(in.byte() % fuzz::kStepOps);
    const uint8_t arg = in.byte();
    advance(in.u16());
    const std::string_view payload = in.field();
    switch (op) {
      case StepOp::kClientMessage:
        message(core::Channel::kClient, arg % 4 + 1, payload);
        break;
      case StepOp::kPeerMessage:
        message(core::Channel::kPeer, arg % 4 + 5, payload);
        break;
      case StepOp::kPeerReply:
        peer_reply(arg, payload);
        break;
      case StepOp::kDatagram:
        (void)core_->membership().handle_datagram(fuzz::kPeerAddress[arg % 3], payload, now_.monotonic_ms,
                                                  now_.wall_us);
        break;
      case StepOp::kPushPullReply:
        (void)core_->membership().handle_push_pull_reply(fuzz::kPeerAddress[arg % 3], payload, now_.monotonic_ms);
        break;
      case StepOp::kTick:
        tick();
        break;
      case StepOp::kClose:
        close(arg % 4 + 1);
        break;
    }
    drain();
    consumed_bytes_ += before - in.remaining();
    check_heap();
  }

  // Carries time past every deadline; then every request on an open connection has its reply.
  void finish() {
    for (int i = 0; i < kFinishTicks; ++i) {
      advance(kFinishTickMs);
      tick();
      drain();
    }
    for (const auto& [id, request] : issued_) {
      FUZZ_CHECK(request.answered || request.closed, "every request is answered once its deadline passed");
    }
  }

 private:
  struct Issued {
    core::ClientId client = 0;
    bool answered = false;
    bool closed = false;  // its connection closed first: a reply is not required
  };

  void advance(uint16_t dt_ms) {
    now_.monotonic_ms += dt_ms;
    now_.wall_us = kWallStartUs + static_cast<uint64_t>(now_.monotonic_ms) * 1000;
  }

  void tick() {
    core_->tick(now_);
    core_->membership().tick(now_.monotonic_ms, now_.wall_us);
  }

  void message(core::Channel channel, core::ClientId client, std::string_view payload) {
    auto decoded = wire::decode(payload, kWireLimits);
    if (!decoded) return;  // the I/O layer closes such a connection; the core never sees it
    if (refuses_costly_auth(decoded->body)) return;
    const uint64_t id = next_id_++;
    issued_[id] = Issued{client};
    decoded->request_id = id;
    const bool internode = !core::client_role_needed(decoded->body).has_value();
    const uint64_t mutations = engine_.mutations();
    core_->handle_client(client, fuzz::kPeerAddress[client % 3], channel, std::move(*decoded), now_);
    drain();
    const wire::Body* reply = step_replies_.contains(id) ? &step_replies_.at(id) : nullptr;
    if (channel == core::Channel::kClient && internode) {
      FUZZ_CHECK(reply != nullptr && std::holds_alternative<wire::ErrorReply>(*reply) &&
                     std::get<wire::ErrorReply>(*reply).code == wire::ErrorCode::kForbidden,
                 "an internode message on a client connection is refused");
    }
    if (reply != nullptr && is_refusal(*reply)) {
      FUZZ_CHECK(engine_.mutations() == mutations, "a refused message stores nothing");
    }
  }

  // An AUTH for a user not in the table costs a full interactive argon2 run by design (unknown
  // names cost what wrong passwords do); the harness does not send those, to keep its pace.
  bool refuses_costly_auth(const wire::Body& body) const {
    const auto* auth = std::get_if<wire::AuthRequest>(&body);
    if (auth == nullptr || !users_configured_) return false;
    for (std::string_view name : fuzz::kUserNames) {
      if (auth->user == name) return false;
    }
    return true;
  }

  // The outcome of a request the node sent; with the top bit of `arg` set, a
  // reply on a route never issued (any owner byte, an id beyond any issued),
  // which must be dropped and counted.
  void peer_reply(uint8_t arg, std::string_view payload) {
    auto decoded = wire::decode(payload, kWireLimits);
    const std::expected<wire::Message, std::string> reply =
        decoded ? std::expected<wire::Message, std::string>(std::move(*decoded))
                : std::unexpected(std::string("connection refused"));
    if (arg & 0x80) {
      const core::PeerRoute forged{static_cast<core::PeerOwner>(arg & 0x7f), kForgedIdBase + payload.size()};
      const uint64_t dropped = core_->peer_replies_dropped();
      core_->handle_peer_reply(forged, reply, now_);
      FUZZ_CHECK(core_->peer_replies_dropped() == dropped + 1, "a reply on a route never issued is dropped");
      return;
    }
    if (pending_.empty()) return;
    const size_t index = arg % pending_.size();
    const core::PeerRoute route = pending_[index];
    pending_.erase(pending_.begin() + static_cast<std::ptrdiff_t>(index));
    core_->handle_peer_reply(route, reply, now_);
  }

  void close(core::ClientId client) {
    core_->client_closed(client);
    for (auto& [id, request] : issued_) {
      if (request.client == client) request.closed = true;
    }
  }

  void drain() {
    step_replies_.clear();
    (void)core_->take_membership_events(now_);
    for (core::Outgoing& out : core_->take_outgoing()) {
      check_decodes(out.message);
      const auto issued = issued_.find(out.message.request_id);
      FUZZ_CHECK(issued != issued_.end(), "a reply answers a request that was sent");
      FUZZ_CHECK(issued->second.client == out.client, "a reply goes to the connection that asked");
      FUZZ_CHECK(!issued->second.answered, "one reply per request");
      issued->second.answered = true;
      step_replies_.emplace(out.message.request_id, std::move(out.message.body));
    }
    for (core::PeerRequest& request : core_->take_peer_requests()) {
      check_decodes(wire::Message{1, request.body});
      pending_.push_back(request.route);
      if (pending_.size() > kPendingPeerRequestsMax) pending_.pop_front();
    }
    for (const auto& datagram : core_->membership().take_outgoing()) {
      FUZZ_CHECK(membership::decode_packet(datagram.bytes, kMembershipConfig.datagram_bytes_max).has_value(),
                 "every gossip datagram the node sends decodes");
    }
    for (const auto& request : core_->membership().take_push_pull_requests()) {
      FUZZ_CHECK(membership::decode_push_pull(request.bytes, kMembershipConfig.push_pull_bytes_max,
                                              kMembershipConfig.members_max)
                     .has_value(),
                 "every push-pull the node sends decodes");
    }
    (void)core_->take_notices();
  }

  void check_heap() const {
    const size_t in_use = __sanitizer_get_current_allocated_bytes();
    FUZZ_CHECK(in_use <= heap_baseline_ + kHeapSlackBytes + kHeapBytesPerInputByte * consumed_bytes_,
               "memory stays bounded by the input");
  }

  core::Now now_{kWallStartUs + kMonotonicStartMs * 1000, kMonotonicStartMs};
  storage::MemoryEngine memory_{storage::Options{.clock_us = [this] { return now_.wall_us; }}};
  fuzz::CountingEngine engine_{memory_};
  std::optional<core::ReplicaStore> store_;
  std::unique_ptr<core::NodeCore> core_;
  bool users_configured_ = false;
  uint64_t next_id_ = kHarnessIdBase;
  std::map<uint64_t, Issued> issued_;
  std::map<uint64_t, wire::Body> step_replies_;
  std::deque<core::PeerRoute> pending_;
  size_t heap_baseline_ = 0;
  size_t consumed_bytes_ = 0;
};

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  FUZZ_CHECK(sodium_init() >= 0, "libsodium starts");
  g_users = new std::vector<trust::User>;
  const trust::Role roles[3] = {trust::Role::kRead, trust::Role::kReadWrite, trust::Role::kAdmin};
  for (int i = 0; i < 3; ++i) {
    const std::string password = "pw-" + std::string(fuzz::kUserNames[i]);
    char hash[crypto_pwhash_STRBYTES];
    FUZZ_CHECK(crypto_pwhash_str(hash, password.data(), password.size(), crypto_pwhash_OPSLIMIT_MIN,
                                 crypto_pwhash_MEMLIMIT_MIN) == 0,
               "setup: user hashed");
    g_users->push_back(trust::User{std::string(fuzz::kUserNames[i]), roles[i], hash});
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzInput in(data, size);
  Harness harness(in.byte());
  while (!in.empty()) harness.step(in);
  harness.finish();
  return 0;
}
