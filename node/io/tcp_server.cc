#include "node/io/tcp_server.h"

#include <spdlog/spdlog.h>

#include <cassert>
#include <optional>
#include <utility>

#include "node/trust/session.h"
#include "node/wire/codec.h"
#include "node/wire/spare_capacity.h"

namespace ringkv::io {
namespace {

// A session under a removed key closes once quiet this long (replies to its
// last requests have gone out; its owner opens a new one).
constexpr uint64_t kRemovedKeyQuietMs = 1000;

}  // namespace

struct TcpServer::State : ConnectionState {
  wire::FrameReader reader;
  bool started = false;  // the first frame was seen
  core::Channel channel = core::Channel::kClient;
  std::optional<trust::Session> session;  // a sealed peer session
  std::string unsealed;  // replies framed, waiting to be sealed as one batch
  size_t last_write_bytes = 0;  // replies framed for the last flush (the next reserves as much)
  // A client connection read while the node was shedding: not read again
  // until the next drain (flush_all), as on the RESP port.
  bool yielded = false;

  explicit State(const wire::Limits& limits) : reader(limits) {}
};

TcpServer::State& TcpServer::state_of(Connection& connection) {
  return static_cast<State&>(*connection.state);
}

TcpServer::TcpServer(uv_loop_t* loop, core::NodeCore& core, TrustContext& trust,
                     std::function<core::Now()> clock, std::function<void()> after_input,
                     std::function<void()> drain_replies, TcpServerConfig config)
    : core_(core),
      trust_(trust),
      clock_(std::move(clock)),
      after_input_(std::move(after_input)),
      drain_replies_(std::move(drain_replies)),
      limits_(config.limits),
      listener_(loop, *this, [this] { return static_cast<uint64_t>(clock_().monotonic_ms); },
                ListenerConfig{.listen_address = std::move(config.listen_address),
                               .label = "",
                               .first_connection_id = kMsgpackClientFirst,
                               .connections = config.connections}) {}

std::unique_ptr<ConnectionState> TcpServer::opened(Connection& connection) {
  assert(is_msgpack_client(connection.id) && "msgpack client ids stay in their range");
  return std::make_unique<State>(limits_);
}

void TcpServer::ended(Connection& connection) {
  const size_t buffered = state_of(connection).reader.buffered_bytes();
  if (buffered > 0) {
    spdlog::warn("closing connection from {}: bad frame: connection ended inside a frame ({} bytes "
                 "buffered)", connection.peer, buffered);
  }
}

void TcpServer::closed(Connection& connection) {
  sessions_.erase(connection.id);
  core_.client_closed(connection.id);
}

void TcpServer::swept(uint64_t now_ms) {
  if (!trust_.has_keyring()) return;
  std::vector<Connection*> retired;
  for (uint64_t id : sessions_) {
    Connection* connection = listener_.find(id);
    if (connection == nullptr || trust_.keyring().contains(state_of(*connection).session->cluster_key())) continue;
    if (listener_.connection_limits().quiet_for(id, now_ms, kRemovedKeyQuietMs)) retired.push_back(connection);
  }
  for (Connection* connection : retired) {
    spdlog::info("closing sealed session from {}: its cluster key was removed", connection->peer);
    listener_.close_connection(*connection);
  }
}

std::string TcpServer::over_cap_reply(size_t connections_max) const {
  std::string frame;
  wire::encode_frame(wire::Message{0, wire::ErrorReply{wire::ErrorCode::kUnavailable,
                                                      "too many connections: this node's cap is " +
                                                          std::to_string(connections_max) + " (--max-connections)"}},
                     frame);
  return frame;
}

void TcpServer::received(Connection& connection, std::string_view bytes) {
  State& state = state_of(connection);
  state.reader.feed(bytes);
  std::string_view payload;
  std::string error;
  while (!connection.closing) {
    const auto status = state.reader.next(payload, error);
    if (status == wire::FrameReader::Status::kNeedMore) break;
    if (status == wire::FrameReader::Status::kError) {
      reject(connection, error, 0);
      break;
    }
    if (!state.started) {
      if (!start_session(connection, state, payload)) break;
      if (state.session) continue;  // that frame was the Hello
    }
    if (!state.session) {
      handle_message(connection, state, payload);
      continue;
    }
    // opened_ is reused: the decoded messages own their bytes.
    if (auto opened = state.session->open_into(payload, opened_); !opened) {
      trust_.refuse(opened.error(), connection.peer, static_cast<uint64_t>(clock_().monotonic_ms));
      listener_.close_connection(connection);
      break;
    }
    std::string_view batch = opened_;
    while (!batch.empty() && !connection.closing) {
      auto message = trust::take_batched(batch, limits_.frame_bytes_max);
      if (!message) {
        reject(connection, message.error(), 0);
        break;
      }
      handle_message(connection, state, *message);
    }
  }
  state.reader.release_spare();
  if (state.channel == core::Channel::kClient && !connection.closing && core_.shedding()) {
    state.yielded = true;
    listener_.mark_dirty(connection);  // flush_all() lifts it
    listener_.update_reading(connection);
  }
  after_input_();
}

bool TcpServer::wants_input(const Connection& connection) const {
  return !static_cast<const State&>(*connection.state).yielded;
}

void TcpServer::handle_message(Connection& connection, State& state, std::string_view payload) {
  auto message = wire::decode(payload, limits_);
  if (!message) {
    const wire::DecodeError& failure = message.error();
    if (failure.kind == wire::DecodeErrorKind::kUnknownType || failure.kind == wire::DecodeErrorKind::kBadVersion) {
      // The frame itself was sound: answer it and keep the connection, so
      // a newer peer can probe what this node speaks.
      spdlog::warn("request from {} refused: {}", connection.peer, failure.reason);
      const auto code = failure.kind == wire::DecodeErrorKind::kUnknownType ? wire::ErrorCode::kUnknownType
                                                                             : wire::ErrorCode::kBadVersion;
      append_message(connection, wire::Message{failure.request_id, wire::ErrorReply{code, failure.reason}});
      listener_.mark_dirty(connection);
      return;
    }
    reject(connection, failure.reason, failure.request_id);
    return;
  }
  core_.handle_client(connection.id, connection.peer, state.channel, std::move(*message), clock_());
}

bool TcpServer::start_session(Connection& connection, State& state, std::string_view first_frame) {
  state.started = true;
  if (!trust::looks_sealed(first_frame)) {
    state.channel = trust_.accepts_plaintext() ? core::Channel::kPeer : core::Channel::kClient;
    return true;
  }
  const uint64_t now_ms = static_cast<uint64_t>(clock_().monotonic_ms);
  if (!trust_.has_keyring()) {
    trust_.refuse(trust::Refusal::kNoKey, connection.peer, now_ms);
    listener_.close_connection(connection);
    return false;
  }
  std::string hello_ack;
  auto session = trust::Session::accept(trust_.keyring(), trust_.sealer(), trust_.cluster_name(), first_frame,
                                        hello_ack);
  if (!session) {
    trust_.refuse(session.error(), connection.peer, now_ms);
    // Say why in plaintext, so a node started with the wrong keys learns it
    // (TrustContext::trust_problem on its side) instead of retrying blind.
    const std::string reason = session.error() == trust::Refusal::kNotAuthentic
                                   ? "no installed key opens this frame: this node's keyring does not hold "
                                     "the key your Hello was sealed with"
                                   : std::string("sealed handshake refused: ") + trust::to_string(session.error());
    wire::encode_frame(wire::Message{0, wire::ErrorReply{wire::ErrorCode::kInvalid, reason}}, connection.pending);
    listener_.flush(connection);
    listener_.close_connection(connection, /*after_flush=*/true);
    return false;
  }
  ++trust_.sessions_accepted;
  const trust::Key& key = session->cluster_key();
  if (key != trust_.keyring().primary() && trust_.on_old_key_session) {
    trust_.on_old_key_session(std::string_view(connection.peer).substr(0, connection.peer.rfind(':')),
                              std::string_view(reinterpret_cast<const char*>(key.data()), key.size()));
  }
  state.session = std::move(*session);
  state.channel = core::Channel::kPeer;
  sessions_.insert(connection.id);
  append_frame(connection.pending, hello_ack);
  listener_.mark_dirty(connection);
  return true;
}

void TcpServer::append_message(Connection& connection, const wire::Message& message) {
  State& state = state_of(connection);
  // A sealed session's replies are sealed together in flush().
  std::string& out = state.session ? state.unsealed : connection.pending;
  wire::reserve_like_last(out, state.last_write_bytes);
  wire::encode_frame(message, out);
}

void TcpServer::flush(Connection& connection) {
  State& state = state_of(connection);
  if (const size_t framed = (state.session ? state.unsealed : connection.pending).size(); framed > 0) {
    state.last_write_bytes = framed;
  }
  if (state.session && !state.unsealed.empty()) {
    trust::append_sealed_batch(connection.pending, *state.session, state.unsealed, limits_.frame_bytes_max);
    state.unsealed.clear();
  }
  listener_.flush(connection);
}

void TcpServer::reject(Connection& connection, const std::string& reason, uint64_t request_id) {
  spdlog::warn("closing connection from {}: bad frame: {}", connection.peer, reason);
  // Requests before the bad frame were handled: their replies go out first.
  drain_replies_();
  wire::Message message{request_id, wire::ErrorReply{wire::ErrorCode::kInvalid, "bad frame: " + reason}};
  append_message(connection, message);
  flush(connection);
  listener_.close_connection(connection, /*after_flush=*/true);
}

void TcpServer::deliver(core::Outgoing& reply) {
  Connection* connection = listener_.find(reply.client);
  if (connection == nullptr) return;  // client went away
  append_message(*connection, reply.message);
  listener_.mark_dirty(*connection);
}

void TcpServer::flush_all() {
  for (Connection* connection : listener_.take_dirty()) {
    flush(*connection);
    if (connection->closing || !std::exchange(state_of(*connection).yielded, false)) continue;
    listener_.update_reading(*connection);
  }
}

}  // namespace ringkv::io
