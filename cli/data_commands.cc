#include "cli/data_commands.h"

#include <unistd.h>

#include <cstdio>
#include <optional>

#include "cli/client.h"
#include "cli/json.h"

namespace ringkv::cli {
namespace {

// Sends one request; on failure prints the reason and stores the exit code.
std::optional<wire::Message> call(const GlobalOptions& options, wire::Body request, int& exit_code) {
  Client client(options.hosts, options.timeout_ms, options.credentials);
  auto reply = client.call(std::move(request));
  if (!reply) {
    const bool unreachable = reply.error().kind == ClientErrorKind::kUnreachable;
    const char* label = reply.error().kind == ClientErrorKind::kTimeout ? "TIMEOUT: " : "";
    std::fprintf(stderr, "kv: %s%s%s\n", label, reply.error().message.c_str(),
                 reply.error().kind == ClientErrorKind::kTimeout ? " (a write may still have landed)" : "");
    exit_code = unreachable ? kExitUnreachable : kExitClusterError;
    return std::nullopt;
  }
  if (const auto* error = std::get_if<wire::ErrorReply>(&reply->body)) {
    std::fprintf(stderr, "kv: %s: %s\n", std::string(wire::error_code_name(error->code)).c_str(),
                 error->message.c_str());
    exit_code = exit_code_for(*error);
    return std::nullopt;
  }
  return std::move(*reply);
}

int unexpected_reply(int& exit_code) {
  std::fprintf(stderr, "kv: the node sent a reply of the wrong type\n");
  return exit_code = kExitClusterError;
}

void print_write(const GlobalOptions& options, const std::string& key, const wire::WriteReply& reply) {
  if (!options.json) return;
  std::string json = "{";
  append_bytes_field(json, "key", key, "key_encoding");
  json += ", \"timestamp\": " + std::to_string(reply.timestamp_us) +
          ", \"tiebreak\": " + std::to_string(reply.tiebreak) + "}";
  std::puts(json.c_str());
}

int run_write(const GlobalOptions& options, const std::string& key, wire::Body request) {
  int exit_code = kExitOk;
  auto reply = call(options, std::move(request), exit_code);
  if (!reply) return exit_code;
  const auto* written = std::get_if<wire::WriteReply>(&reply->body);
  if (written == nullptr) return unexpected_reply(exit_code);
  print_write(options, key, *written);
  return kExitOk;
}

}  // namespace

int run_put(const GlobalOptions& options, const std::string& key, const std::string& value, uint64_t ttl_s) {
  return run_write(options, key, wire::PutRequest{key, value, options.consistency, ttl_s * 1000});
}

int run_delete(const GlobalOptions& options, const std::string& key) {
  return run_write(options, key, wire::DeleteRequest{key, options.consistency});
}

int run_get(const GlobalOptions& options, const std::string& key, bool local) {
  int exit_code = kExitOk;
  auto reply = call(options, wire::GetRequest{key, options.consistency, local}, exit_code);
  if (!reply) return exit_code;
  const auto* found = std::get_if<wire::GetReply>(&reply->body);
  if (found == nullptr) return unexpected_reply(exit_code);
  if (options.json) {
    std::string json = "{";
    append_bytes_field(json, "key", key, "key_encoding");
    if (found->found) {
      json += ", ";
      append_bytes_field(json, "value", found->value, "encoding");
      json += ", \"timestamp\": " + std::to_string(found->timestamp_us) +
              ", \"tiebreak\": " + std::to_string(found->tiebreak);
      if (found->ttl_ms) json += ", \"ttl_ms\": " + std::to_string(found->ttl_ms);
      if (found->expires_at_us) json += ", \"expires_at\": " + std::to_string(found->expires_at_us);
    }
    json += std::string(", \"found\": ") + (found->found ? "true" : "false") + "}";
    std::puts(json.c_str());
  }
  if (!found->found) {
    if (!options.json) std::fprintf(stderr, "kv: key not found\n");
    return kExitNotFound;
  }
  if (!options.json) {
    std::fwrite(found->value.data(), 1, found->value.size(), stdout);
    // Exact bytes for pipes and files; a newline only for a person's terminal.
    if (isatty(STDOUT_FILENO)) std::fputc('\n', stdout);
  }
  return kExitOk;
}

}  // namespace ringkv::cli
