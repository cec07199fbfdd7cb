#include "cli/client.h"

#include <fcntl.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "node/wire/address.h"
#include "node/wire/codec.h"

namespace ringkv::cli {
namespace {

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Waits for `events` on fd until deadline; false on timeout or error.
bool wait_for(int fd, short events, int64_t deadline_ms) {
  while (true) {
    const int64_t remaining = deadline_ms - now_ms();
    if (remaining <= 0) return false;
    pollfd p{fd, events, 0};
    const int rc = poll(&p, 1, static_cast<int>(remaining));
    if (rc > 0) return true;
    if (rc < 0 && errno != EINTR) return false;
  }
}

}  // namespace

Client::Client(std::vector<std::string> hosts, int timeout_ms, Credentials credentials)
    : hosts_(std::move(hosts)), timeout_ms_(timeout_ms), credentials_(std::move(credentials)) {}

Client::~Client() { disconnect(); }

void Client::disconnect() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

bool Client::connect_to(const std::string& host, std::string& error) {
  auto address = wire::parse_address(host);
  if (!address) {
    error = address.error();
    return false;
  }
  fd_ = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) {
    error = std::strerror(errno);
    return false;
  }
  int rc = connect(fd_, reinterpret_cast<const sockaddr*>(&*address), sizeof(*address));
  if (rc != 0 && errno == EINPROGRESS) {
    if (!wait_for(fd_, POLLOUT, now_ms() + timeout_ms_)) {
      error = "connect timed out";
      disconnect();
      return false;
    }
    int so_error = 0;
    socklen_t length = sizeof(so_error);
    getsockopt(fd_, SOL_SOCKET, SO_ERROR, &so_error, &length);
    rc = so_error == 0 ? 0 : -1;
    errno = so_error;
  }
  if (rc != 0) {
    error = std::strerror(errno);
    disconnect();
    return false;
  }
  const int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  connected_host_ = host;
  return true;
}

bool Client::send_all(const std::string& bytes) {
  size_t sent = 0;
  const int64_t deadline = now_ms() + timeout_ms_;
  while (sent < bytes.size()) {
    const ssize_t n = send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (!wait_for(fd_, POLLOUT, deadline)) return false;
    } else {
      return false;
    }
  }
  return true;
}

std::expected<wire::Message, ClientError> Client::receive(uint64_t request_id) {
  wire::Limits limits;
  wire::FrameReader reader(limits);
  const int64_t deadline = now_ms() + timeout_ms_;
  char buffer[64 * 1024];
  while (true) {
    std::string_view payload;
    std::string error;
    const auto status = reader.next(payload, error);
    if (status == wire::FrameReader::Status::kError) {
      return std::unexpected(ClientError{ClientErrorKind::kProtocol, "bad reply frame: " + error});
    }
    if (status == wire::FrameReader::Status::kFrame) {
      auto message = wire::decode(payload, limits);
      if (!message) {
        return std::unexpected(ClientError{ClientErrorKind::kProtocol, "bad reply: " + message.error().reason});
      }
      // Id 0 answers a frame the node could not read far enough to see its
      // id: with one request in flight, that is ours.
      const bool connection_error = message->request_id == 0 && std::holds_alternative<wire::ErrorReply>(message->body);
      if (message->request_id == request_id || connection_error) return std::move(*message);
      continue;  // a reply to an earlier, abandoned request
    }
    if (!wait_for(fd_, POLLIN, deadline)) {
      return std::unexpected(ClientError{ClientErrorKind::kTimeout, "no reply within " +
                                             std::to_string(timeout_ms_) + " ms from " + connected_host_});
    }
    const ssize_t n = recv(fd_, buffer, sizeof(buffer), 0);
    if (n > 0) {
      reader.feed(std::string_view(buffer, static_cast<size_t>(n)));
    } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
      return std::unexpected(ClientError{ClientErrorKind::kUnreachable,
                                         "connection to " + connected_host_ + " closed before a reply"});
    }
  }
}

std::expected<wire::Message, ClientError> Client::exchange(const wire::Message& message) {
  std::string frame;
  wire::encode_frame(message, frame);
  if (!send_all(frame)) return std::unexpected(ClientError{ClientErrorKind::kUnreachable, connected_host_ + ": send failed"});
  return receive(message.request_id);
}

std::expected<wire::Message, ClientError> Client::call(wire::Body request) {
  const wire::Message message{next_request_id_++, std::move(request)};
  std::string failures;
  auto note = [&failures](const std::string& failure) {
    failures += (failures.empty() ? "" : "; ") + failure;
  };
  // Try the live connection, if any, then each host in order. Only an
  // unreachable host moves on: a timeout or an error reply is the answer.
  for (size_t next_host = 0; fd_ >= 0 || next_host < hosts_.size();) {
    if (fd_ < 0) {
      const std::string& host = hosts_[next_host++];
      std::string error;
      if (!connect_to(host, error)) {
        note(host + ": " + error);
        continue;
      }
      authenticated_ = false;
    }
    if (!credentials_.user.empty() && !authenticated_) {
      auto auth = exchange(wire::Message{next_request_id_++, wire::AuthRequest{credentials_.user, credentials_.password}});
      if (auth && std::holds_alternative<wire::AuthReply>(auth->body)) {
        authenticated_ = true;
      } else if (auth || auth.error().kind != ClientErrorKind::kUnreachable) {
        return auth;  // refused (or no answer): that is the answer to this call
      } else {
        note(auth.error().message);
        disconnect();
        continue;
      }
    }
    auto reply = exchange(message);
    if (reply || reply.error().kind != ClientErrorKind::kUnreachable) return reply;
    note(reply.error().message);
    disconnect();
  }
  return std::unexpected(
      ClientError{ClientErrorKind::kUnreachable, "no host could be reached (" + failures + ")"});
}

}  // namespace ringkv::cli
