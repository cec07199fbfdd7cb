#include "cli/keys_command.h"

#include <sodium.h>

#include <cstdio>

#include "cli/client.h"
#include "cli/json.h"

namespace ringkv::cli {
namespace {

constexpr size_t kKeyBytes = 32;

bool parse_action(const std::string& text, wire::KeyAction& out) {
  if (text == "list")
    out = wire::KeyAction::kList;
  else if (text == "install")
    out = wire::KeyAction::kInstall;
  else if (text == "use")
    out = wire::KeyAction::kUse;
  else if (text == "remove")
    out = wire::KeyAction::kRemove;
  else
    return false;
  return true;
}

std::string join(const std::vector<std::string>& parts) {
  std::string text;
  for (const std::string& part : parts) text += (text.empty() ? "" : ", ") + part;
  return text;
}

}  // namespace

int run_keys(const GlobalOptions& options, const std::string& action_text, const std::string& key_base64) {
  wire::KeysRequest request;
  if (!parse_action(action_text, request.action)) {
    std::fprintf(stderr, "kv keys: unknown action '%s' (list|install KEY|use KEY|remove KEY)\n", action_text.c_str());
    return kExitUsage;
  }
  if (request.action != wire::KeyAction::kList) {
    unsigned char key[kKeyBytes];
    size_t length = 0;
    const char* end = nullptr;
    if (sodium_init() < 0 ||
        sodium_base642bin(key, sizeof(key), key_base64.data(), key_base64.size(), nullptr, &length, &end,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        end != key_base64.data() + key_base64.size() || length != kKeyBytes) {
      std::fprintf(stderr, "kv keys %s: KEY must be a 32-byte key in base64 (make one with `kv keygen`)\n",
                   action_text.c_str());
      return kExitUsage;
    }
    request.key.assign(reinterpret_cast<const char*>(key), sizeof(key));
    sodium_memzero(key, sizeof(key));
  }
  Client client(options.hosts, options.timeout_ms, options.credentials);
  auto reply = client.call(std::move(request));
  if (!reply) {
    std::fprintf(stderr, "kv: %s\n", reply.error().message.c_str());
    return reply.error().kind == ClientErrorKind::kUnreachable ? kExitUnreachable : kExitClusterError;
  }
  const auto* keys = std::get_if<wire::KeysReply>(&reply->body);
  if (keys == nullptr) {
    const auto* error = std::get_if<wire::ErrorReply>(&reply->body);
    std::fprintf(stderr, "kv: %s: %s\n", error ? std::string(wire::error_code_name(error->code)).c_str() : "error",
                 error ? error->message.c_str() : "unexpected reply to keys");
    return error ? exit_code_for(*error) : kExitClusterError;
  }
  bool all_ok = true;
  std::string json = "{\"action\": " + json_string(action_text) + ", \"nodes\": [";
  for (size_t i = 0; i < keys->nodes.size(); ++i) {
    const wire::KeysNodeResult& node = keys->nodes[i];
    all_ok = all_ok && node.ok;
    const std::string primary = node.fingerprints.empty() ? "" : node.fingerprints.front();
    if (options.json) {
      json += (i ? ", " : "") + std::string("{\"name\": ") + json_string(node.name) +
              ", \"ok\": " + (node.ok ? "true" : "false") + ", \"message\": " + json_string(node.message) +
              ", \"primary\": " + json_string(primary) + ", \"version\": " + std::to_string(node.version) +
              ", \"keys\": [";
      for (size_t k = 0; k < node.fingerprints.size(); ++k) {
        json += (k ? ", " : "") + json_string(node.fingerprints[k]);
      }
      json += "]}";
      continue;
    }
    std::string line = node.name + (node.ok ? " ok" : " failed: " + node.message);
    if (node.ok && !node.fingerprints.empty() && request.action == wire::KeyAction::kList) {
      line +=
          ": primary " + primary + " (version " + std::to_string(node.version) + "), keys " + join(node.fingerprints);
    }
    std::puts(line.c_str());
  }
  if (options.json) std::puts((json + "]}").c_str());
  return all_ok ? kExitOk : kExitClusterError;
}

}  // namespace ringkv::cli
