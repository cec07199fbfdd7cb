#include "cli/scan_command.h"

#include <cstdio>

#include "cli/client.h"
#include "cli/json.h"
#include "node/wire/glob.h"

namespace ringkv::cli {
namespace {

void print_key(const std::string& key) {
  std::fwrite(key.data(), 1, key.size(), stdout);
  std::fputc('\n', stdout);
}

void append_json_key(std::string& json, const std::string& key) {
  if (is_valid_utf8(key)) {
    json += json_string(key);
  } else {
    json += "{\"base64\": " + json_string(base64_encode(key)) + "}";
  }
}

}  // namespace

int run_scan(const GlobalOptions& options, const std::string& prefix, uint64_t limit) {
  Client client(options.hosts, options.timeout_ms, options.credentials);
  const std::string pattern = wire::prefix_pattern(prefix);
  std::string json = "{\"keys\": [";
  uint64_t count = 0;
  uint64_t cursor = 0;
  bool complete = false;
  while (true) {
    auto reply = client.call(wire::ScanRequest{cursor, pattern, wire::kScanCountMax, options.consistency});
    if (!reply) {
      const bool unreachable = reply.error().kind == ClientErrorKind::kUnreachable;
      std::fprintf(stderr, "kv: %s%s (after %llu keys)\n",
                   reply.error().kind == ClientErrorKind::kTimeout ? "TIMEOUT: " : "", reply.error().message.c_str(),
                   static_cast<unsigned long long>(count));
      return unreachable ? kExitUnreachable : kExitClusterError;
    }
    if (const auto* error = std::get_if<wire::ErrorReply>(&reply->body)) {
      std::fprintf(stderr, "kv: %s: %s (after %llu keys)\n", std::string(wire::error_code_name(error->code)).c_str(),
                   error->message.c_str(), static_cast<unsigned long long>(count));
      return exit_code_for(*error);
    }
    auto* page = std::get_if<wire::ScanReply>(&reply->body);
    if (page == nullptr) {
      std::fprintf(stderr, "kv: the node sent a reply of the wrong type\n");
      return kExitClusterError;
    }
    for (const std::string& key : page->keys) {
      if (limit != 0 && count == limit) break;
      if (options.json) {
        if (count > 0) json += ", ";
        append_json_key(json, key);
      } else {
        print_key(key);
      }
      ++count;
    }
    if (limit != 0 && count == limit) break;
    if (page->cursor == 0) {
      complete = true;
      break;
    }
    cursor = page->cursor;
  }
  if (options.json) {
    json += "], \"count\": " + std::to_string(count) + ", \"complete\": " + (complete ? "true" : "false") + "}";
    std::puts(json.c_str());
  }
  return kExitOk;
}

}  // namespace ringkv::cli
