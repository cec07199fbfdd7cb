// PeerClient: replies matched to their requests by id (in any order, each
// answered once), and a request with no reply failed by the sweep. A real
// libuv loop and a plaintext peer played by this test on 127.0.0.1.
#include <doctest/doctest.h>
#include <uv.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "node/io/peer_client.h"
#include "node/io/trust_context.h"
#include "node/wire/codec.h"

using namespace ringkv;

namespace {

// Accepts one connection and collects the ReplicaReadRequests on it; once
// `expected` arrived, `answer` writes what it returns.
struct FakePeer {
  uv_tcp_t server{};
  uv_tcp_t connection{};  // data set once accepted
  wire::FrameReader reader{wire::Limits{}};
  char buffer[64 * 1024];
  size_t expected = 0;
  std::vector<wire::Message> requests;
  std::function<std::string(const std::vector<wire::Message>&)> answer;
  std::string written;  // kept alive until the loop ends
  uv_write_t write;

  std::string listen(uv_loop_t* loop) {
    uv_tcp_init(loop, &server);
    server.data = this;
    sockaddr_in any_port{};
    uv_ip4_addr("127.0.0.1", 0, &any_port);
    REQUIRE(uv_tcp_bind(&server, reinterpret_cast<const sockaddr*>(&any_port), 0) == 0);
    REQUIRE(uv_listen(reinterpret_cast<uv_stream_t*>(&server), 4, on_connection) == 0);
    sockaddr_in bound{};
    int length = sizeof(bound);
    uv_tcp_getsockname(&server, reinterpret_cast<sockaddr*>(&bound), &length);
    return "127.0.0.1:" + std::to_string(ntohs(bound.sin_port));
  }
  // Callbacks run inside libuv: they CHECK (a REQUIRE would throw through C).
  static void on_connection(uv_stream_t* stream, int status) {
    auto* self = static_cast<FakePeer*>(stream->data);
    CHECK(status == 0);
    if (status != 0 || self->connection.data != nullptr) return;
    uv_tcp_init(stream->loop, &self->connection);
    self->connection.data = self;
    CHECK(uv_accept(stream, reinterpret_cast<uv_stream_t*>(&self->connection)) == 0);
    uv_read_start(
        reinterpret_cast<uv_stream_t*>(&self->connection),
        [](uv_handle_t* h, size_t, uv_buf_t* buf) {
          auto* peer = static_cast<FakePeer*>(h->data);
          *buf = uv_buf_init(peer->buffer, sizeof(peer->buffer));
        },
        [](uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
          if (nread > 0) static_cast<FakePeer*>(s->data)->received(std::string_view(buf->base, nread));
        });
  }
  void received(std::string_view bytes) {
    reader.feed(bytes);
    std::string_view payload;
    std::string error;
    while (reader.next(payload, error) == wire::FrameReader::Status::kFrame) {
      auto message = wire::decode(payload, wire::Limits{});
      CHECK(message.has_value());
      if (!message) return;
      requests.push_back(std::move(*message));
    }
    if (requests.size() != expected || !answer) return;
    written = answer(requests);
    uv_buf_t buf = uv_buf_init(written.data(), static_cast<unsigned>(written.size()));
    uv_write(&write, reinterpret_cast<uv_stream_t*>(&connection), &buf, 1, nullptr);
  }
  void close() {
    uv_close(reinterpret_cast<uv_handle_t*>(&server), nullptr);
    if (connection.data == this) uv_close(reinterpret_cast<uv_handle_t*>(&connection), nullptr);
  }
};

void reply(std::string& out, const wire::Message& request) {
  wire::ReplicaReadReply body;
  body.found = true;
  body.record.value = "for " + std::get<wire::ReplicaReadRequest>(request.body).key;
  wire::encode_frame(wire::Message{request.request_id, body}, out);
}

io::TrustContext plaintext_trust() {
  auto trust = io::TrustContext::load(io::TrustSettings{.listen = "127.0.0.1:1", .data = "/nonexistent"});
  REQUIRE(trust.has_value());
  trust->start("test", std::string(16, 'n'), 1);  // a node id is 16 bytes
  return std::move(*trust);
}

// Sends ReplicaReadRequests for "a", "b" and "c" to a FakePeer answering
// with `answer`, runs the loop until each got its callback, then closes all.
struct Run {
  uv_loop_t loop;
  FakePeer peer;
  std::map<std::string, std::vector<std::string>> outcomes;  // by key: what each callback got

  Run(std::function<std::string(const std::vector<wire::Message>&)> answer, uint64_t request_timeout_ms) {
    uv_loop_init(&loop);
    io::TrustContext trust = plaintext_trust();
    const std::string address = peer.listen(&loop);
    peer.expected = 3;
    peer.answer = std::move(answer);
    io::PeerClient client(&loop, "127.0.0.1", wire::Limits{}, trust, request_timeout_ms);
    size_t done = 0;
    for (std::string key : {"a", "b", "c"}) {
      client.send(address, wire::ReplicaReadRequest{key}, [&, key](std::expected<wire::Message, std::string> got) {
        outcomes[key].push_back(got ? std::get<wire::ReplicaReadReply>(got->body).record.value
                                    : "error: " + got.error());
        ++done;
      });
    }
    client.flush_all();
    while (done < 3 && uv_run(&loop, UV_RUN_ONCE) != 0) {
    }
    client.close();
    peer.close();
    uv_run(&loop, UV_RUN_DEFAULT);
  }
  ~Run() { uv_loop_close(&loop); }
};

}  // namespace

TEST_CASE("replies in any order reach their own requests once; duplicates and unknown ids are dropped") {
  Run run([](const std::vector<wire::Message>& requests) {
    std::string out;
    reply(out, requests[2]);
    reply(out, requests[2]);  // a duplicate (of one still behind an unanswered request): dropped
    reply(out, requests[0]);
    reply(out, requests[0]);  // a duplicate: dropped
    wire::encode_frame(wire::Message{999'999, wire::ReplicaReadReply{}}, out);  // never sent: dropped
    reply(out, requests[1]);
    return out;
  }, 5000);
  CHECK(run.outcomes == std::map<std::string, std::vector<std::string>>{
                            {"a", {"for a"}}, {"b", {"for b"}}, {"c", {"for c"}}});
}

TEST_CASE("a request left unanswered between answered ones fails once its time is up") {
  Run run([](const std::vector<wire::Message>& requests) {
    std::string out;
    reply(out, requests[2]);
    reply(out, requests[0]);
    return out;  // the second is never answered
  }, /*request_timeout_ms=*/300);
  REQUIRE(run.outcomes["b"].size() == 1);
  CHECK(run.outcomes["b"][0].find("no reply in time") != std::string::npos);
  CHECK(run.outcomes["a"] == std::vector<std::string>{"for a"});
  CHECK(run.outcomes["c"] == std::vector<std::string>{"for c"});
}
