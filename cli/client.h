// Client: a blocking, one-request-at-a-time connection to a ringkv node,
// for the kv command. Tries the given hosts in order and fails over to the
// next when one cannot be reached. With credentials, every new connection
// first authenticates (an AuthRequest); a refusal is the answer to the call.
#pragma once

#include <cstdint>
#include <expected>
#include <string>
#include <vector>

#include "cli/options.h"
#include "node/wire/message.h"

namespace ringkv::cli {

enum class ClientErrorKind {
  kUnreachable,  // no host accepted a connection (exit code 4)
  kTimeout,      // connected and sent, but no reply in time (exit code 3)
  kProtocol,     // the reply could not be decoded (exit code 3)
};

struct ClientError {
  ClientErrorKind kind;
  std::string message;
};

class Client {
 public:
  Client(std::vector<std::string> hosts, int timeout_ms, Credentials credentials);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Sends `request` and waits for the reply with the same id. A host that
  // cannot be connected to, or drops the connection before answering, is
  // skipped for the next one. When authentication is refused, the reply is
  // the node's ErrorReply (kNotAuthenticated).
  std::expected<wire::Message, ClientError> call(wire::Body request);
  // The host that answered the last call.
  const std::string& connected_host() const { return connected_host_; }

 private:
  bool connect_to(const std::string& host, std::string& error);
  bool send_all(const std::string& bytes);
  // Sends one message on the live connection and waits for its reply.
  std::expected<wire::Message, ClientError> exchange(const wire::Message& message);
  std::expected<wire::Message, ClientError> receive(uint64_t request_id);
  void disconnect();

  std::vector<std::string> hosts_;
  int timeout_ms_;
  Credentials credentials_;
  bool authenticated_ = false;  // on the live connection
  int fd_ = -1;
  std::string connected_host_;
  uint64_t next_request_id_ = 1;
};

}  // namespace ringkv::cli
