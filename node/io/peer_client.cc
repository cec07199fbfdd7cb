#include "node/io/peer_client.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <deque>
#include <optional>

#include "node/trust/session.h"
#include "node/wire/address.h"
#include "node/wire/codec.h"
#include "node/wire/spare_capacity.h"

namespace ringkv::io {

struct PeerClient::Peer {
  uv_tcp_t handle;  // first member: callbacks cast back from the handle
  uv_connect_t connect_request;
  PeerClient* owner = nullptr;
  std::string address;
  std::string connection_key;  // its key in peers_
  std::optional<trust::Key> hello_key;  // seal the Hello with this key, not the primary
  wire::FrameReader reader;
  bool connected = false;
  bool ready = false;  // connected, and the sealed handshake (if any) is done
  bool failed = false;
  bool dirty = false;  // listed in dirty_
  bool retiring = false;  // its key was removed: out of peers_, closes when idle
  std::optional<trust::Session> session;  // when this node seals
  std::string queued;  // framed messages not yet written (encoded straight here)
  size_t last_write_bytes = 0;  // what the last flush wrote (queued reserves as much)
  struct Pending {
    uint64_t id;
    Callback done;  // empty once answered
    uint64_t deadline_ms;
  };
  // In the order sent: ids and deadlines ascend. Answered entries leave from
  // the front, so the front (when any) is unanswered and has the earliest
  // deadline.
  std::deque<Pending> pending;
  char read_buffer[64 * 1024];

  Peer(PeerClient* client, std::string peer_address, const wire::Limits& limits)
      : owner(client), address(std::move(peer_address)), reader(limits) {}
};

namespace {

struct WriteRequest {
  uv_write_t request;
  std::string data;
};

uint64_t now_ms() { return uv_hrtime() / 1'000'000; }

}  // namespace

PeerClient::PeerClient(uv_loop_t* loop, std::string bind_host, wire::Limits limits, TrustContext& trust,
                       uint64_t request_timeout_ms)
    : loop_(loop),
      bind_host_(std::move(bind_host)),
      limits_(limits),
      trust_(trust),
      request_timeout_ms_(request_timeout_ms) {
  uv_timer_init(loop_, &sweeper_);
  sweeper_.data = this;
  uv_timer_start(&sweeper_, on_sweep, 250, 250);
}

PeerClient::~PeerClient() { close(); }

void PeerClient::close() {
  if (closed_) return;
  closed_ = true;
  dirty_.clear();
  uv_close(reinterpret_cast<uv_handle_t*>(&sweeper_), nullptr);
  while (!peers_.empty()) fail_peer(*peers_.begin()->second, "node is stopping");
  while (!retiring_.empty()) fail_peer(*retiring_.front(), "node is stopping");
}

void PeerClient::send(const std::string& address, wire::Body body, Callback done, const std::string& seal_with) {
  if (closed_) {
    done(std::unexpected("node is stopping"));
    return;
  }
  const bool own_key = !seal_with.empty() && trust_.seals();
  const std::string keyed = own_key ? address + "#" + trust_.fingerprint(seal_with) : std::string();
  const std::string& connection_key = own_key ? keyed : address;  // no copy of the address per request
  Peer* peer = nullptr;
  if (auto it = peers_.find(connection_key); it != peers_.end()) {
    peer = it->second;
  } else {
    std::string error;
    peer = connect(address, connection_key, own_key ? seal_with : std::string(), error);
    if (peer == nullptr) {
      done(std::unexpected(error));
      return;
    }
  }
  const uint64_t id = next_request_id_++;
  wire::reserve_like_last(peer->queued, peer->last_write_bytes);
  wire::encode_frame(wire::Message{id, std::move(body)}, peer->queued);
  peer->pending.push_back(Peer::Pending{id, std::move(done), now_ms() + request_timeout_ms_});
  if (peer->ready && !peer->dirty) {
    peer->dirty = true;
    dirty_.push_back(peer);
  }
}

void PeerClient::flush_all() {
  // flush() may fail a peer, which only closes it (deleted later by libuv).
  for (Peer* peer : std::exchange(dirty_, {})) {
    peer->dirty = false;
    if (!peer->failed) flush(*peer);
  }
}

PeerClient::Peer* PeerClient::connect(const std::string& address, const std::string& connection_key,
                                      const std::string& seal_with, std::string& error) {
  auto target = wire::parse_address(address);
  if (!target) {
    error = target.error();
    return nullptr;
  }
  if (!seal_with.empty() && seal_with.size() != trust::kKeyBytes) {
    error = "not a key to seal with";
    return nullptr;
  }
  auto* peer = new Peer(this, address, limits_);
  peer->connection_key = connection_key;
  if (!seal_with.empty()) {
    peer->hello_key.emplace();
    std::copy(seal_with.begin(), seal_with.end(), peer->hello_key->begin());
  }
  uv_tcp_init(loop_, &peer->handle);
  peer->handle.data = peer;
  // Bind the source address to our own host; port 0 lets the kernel choose.
  if (auto source = wire::parse_address(bind_host_ + ":1")) {
    source->sin_port = 0;
    uv_tcp_bind(&peer->handle, reinterpret_cast<const sockaddr*>(&*source), 0);
  }
  peer->connect_request.data = peer;
  const int rc = uv_tcp_connect(&peer->connect_request, &peer->handle,
                                reinterpret_cast<const sockaddr*>(&*target), [](uv_connect_t* request, int status) {
    auto* p = static_cast<Peer*>(request->data);
    if (p->failed) return;
    if (status < 0) {
      p->owner->fail_peer(*p, std::string("cannot connect: ") + uv_strerror(status));
      return;
    }
    p->owner->on_connected(*p);
  });
  if (rc != 0) {
    error = std::string("cannot connect to ") + address + ": " + uv_strerror(rc);
    uv_close(reinterpret_cast<uv_handle_t*>(&peer->handle), [](uv_handle_t* h) { delete static_cast<Peer*>(h->data); });
    return nullptr;
  }
  peers_.emplace(connection_key, peer);
  return peer;
}

void PeerClient::on_connected(Peer& peer) {
  peer.connected = true;
  uv_tcp_nodelay(&peer.handle, 1);
  uv_read_start(
      reinterpret_cast<uv_stream_t*>(&peer.handle),
      [](uv_handle_t* h, size_t, uv_buf_t* buf) {
        auto* self = static_cast<Peer*>(h->data);
        *buf = uv_buf_init(self->read_buffer, sizeof(self->read_buffer));
      },
      [](uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
        auto* self = static_cast<Peer*>(stream->data);
        if (nread < 0) {
          self->owner->fail_peer(*self, "connection closed");
        } else if (nread > 0) {
          self->owner->handle_bytes(*self, std::string_view(buf->base, static_cast<size_t>(nread)));
        }
      });
  if (trust_.seals()) {
    std::string hello;
    peer.session = peer.hello_key
                       ? trust::Session::initiate_with(*peer.hello_key, trust_.sealer(), trust_.cluster_name(), hello)
                       : trust::Session::initiate(trust_.keyring(), trust_.sealer(), trust_.cluster_name(), hello);
    std::string frame;
    append_frame(frame, hello);
    write_bytes(peer, std::move(frame));
    return;  // queued requests wait for the HelloAck
  }
  peer.ready = true;
  flush(peer);
}

void PeerClient::flush(Peer& peer) {
  if (peer.queued.empty() || !peer.ready) return;
  peer.last_write_bytes = peer.queued.size();
  if (peer.session) {
    std::string sealed;
    trust::append_sealed_batch(sealed, *peer.session, peer.queued, limits_.frame_bytes_max);
    peer.queued.clear();
    write_bytes(peer, std::move(sealed));
  } else {
    write_bytes(peer, std::exchange(peer.queued, {}));  // the frames go out as they are
  }
}

void PeerClient::write_bytes(Peer& peer, std::string bytes) {
  auto* write = new WriteRequest;
  write->data = std::move(bytes);
  write->request.data = write;
  uv_buf_t buf = uv_buf_init(write->data.data(), static_cast<unsigned>(write->data.size()));
  const int rc = uv_write(&write->request, reinterpret_cast<uv_stream_t*>(&peer.handle), &buf, 1,
                          [](uv_write_t* request, int) { delete static_cast<WriteRequest*>(request->data); });
  if (rc != 0) {
    delete write;
    fail_peer(peer, std::string("write failed: ") + uv_strerror(rc));
  }
}

void PeerClient::handle_bytes(Peer& peer, std::string_view bytes) {
  peer.reader.feed(bytes);
  std::string_view payload;
  std::string error;
  while (!peer.failed) {
    const auto status = peer.reader.next(payload, error);
    if (status == wire::FrameReader::Status::kNeedMore) return;
    if (status == wire::FrameReader::Status::kError) {
      fail_peer(peer, "bad frame from peer: " + error);
      return;
    }
    if (peer.session) {
      if (!peer.session->established()) {
        if (auto done = peer.session->complete(payload); !done) {
          // A peer none of whose keys opens the Hello says so in plaintext.
          auto answer = trust::looks_sealed(payload) ? std::expected<wire::Message, wire::DecodeError>(
                                                           std::unexpected(wire::DecodeError{}))
                                                     : wire::decode(payload, limits_);
          const auto* refused = answer ? std::get_if<wire::ErrorReply>(&answer->body) : nullptr;
          if (refused != nullptr) {
            trust_.handshake_refused(peer.address, refused->message, now_ms());
            fail_peer(peer, "sealed handshake refused by the peer: " + refused->message);
            return;
          }
          trust_.refuse(done.error(), peer.address, now_ms());
          fail_peer(peer, std::string("sealed handshake refused: ") + trust::to_string(done.error()));
          return;
        }
        trust_.handshake_opened();
        peer.ready = true;
        flush(peer);
        continue;
      }
      // opened_ is reused: the decoded messages own their bytes.
      if (auto reply = peer.session->open_into(payload, opened_); !reply) {
        trust_.refuse(reply.error(), peer.address, now_ms());
        fail_peer(peer, std::string("sealed reply refused: ") + trust::to_string(reply.error()));
        return;
      }
      std::string_view batch = opened_;
      while (!batch.empty() && !peer.failed) {
        auto message = trust::take_batched(batch, limits_.frame_bytes_max);
        if (!message) {
          fail_peer(peer, "bad sealed batch from peer: " + message.error());
          return;
        }
        handle_reply(peer, *message);
      }
      continue;
    }
    handle_reply(peer, payload);
  }
}

void PeerClient::handle_reply(Peer& peer, std::string_view payload) {
  auto message = wire::decode(payload, limits_);
  if (!message) {
    fail_peer(peer, "bad reply from peer: " + message.error().reason);
    return;
  }
  auto it = std::ranges::lower_bound(peer.pending, message->request_id, {}, &Peer::Pending::id);
  // An id not pending here (never sent, or answered already) is dropped.
  if (it == peer.pending.end() || it->id != message->request_id || !it->done) return;
  Callback done = std::move(it->done);
  it->done = nullptr;
  while (!peer.pending.empty() && !peer.pending.front().done) peer.pending.pop_front();
  done(std::move(*message));
  if (peer.retiring && peer.pending.empty()) fail_peer(peer, "its cluster key was removed");
}

void PeerClient::fail_peer(Peer& peer, const std::string& reason) {
  if (peer.failed) return;
  peer.failed = true;
  if (auto it = peers_.find(peer.connection_key); it != peers_.end() && it->second == &peer) peers_.erase(it);
  std::erase(retiring_, &peer);
  auto pending = std::move(peer.pending);
  peer.pending.clear();
  uv_close(reinterpret_cast<uv_handle_t*>(&peer.handle), [](uv_handle_t* h) { delete static_cast<Peer*>(h->data); });
  for (Peer::Pending& request : pending) {
    if (request.done) request.done(std::unexpected(peer.address + ": " + reason));
  }
}

void PeerClient::retire_removed_keys() {
  if (!trust_.has_keyring()) return;
  std::vector<Peer*> removed;
  for (auto& [key, peer] : peers_) {
    if (peer->session && peer->session->established() && !trust_.keyring().contains(peer->session->cluster_key())) {
      removed.push_back(peer);
    }
  }
  for (Peer* peer : removed) {
    spdlog::info("retiring the sealed session to {}: its cluster key was removed (new requests open a new one)",
                 peer->address);
    peers_.erase(peer->connection_key);
    peer->retiring = true;
    retiring_.push_back(peer);
    if (peer->pending.empty()) fail_peer(*peer, "its cluster key was removed");
  }
}

void PeerClient::on_sweep(uv_timer_t* timer) {
  auto* client = static_cast<PeerClient*>(timer->data);
  client->retire_removed_keys();
  const uint64_t now = now_ms();
  std::vector<Peer*> expired;
  auto check = [&](Peer* peer) {
    if (!peer->pending.empty() && peer->pending.front().deadline_ms <= now) expired.push_back(peer);
  };
  for (auto& [address, peer] : client->peers_) check(peer);
  for (Peer* peer : client->retiring_) check(peer);
  for (Peer* peer : expired) client->fail_peer(*peer, "no reply in time");
}

}  // namespace ringkv::io
