#include "node/io/trust_context.h"

#include <cassert>

#include <spdlog/spdlog.h>

#include <filesystem>

#include "node/wire/address.h"

namespace ringkv::io {
namespace {

bool is_loopback(const std::string& listen) {
  const std::string host = listen.substr(0, listen.rfind(':'));
  return host == "localhost" || host.starts_with("127.");
}

}  // namespace

const char* to_string(TrustMode mode) {
  switch (mode) {
    case TrustMode::kInsecure: return "insecure (no keyring)";
    case TrustMode::kAccept: return "transition accept (accepts plaintext and sealed, sends plaintext)";
    case TrustMode::kSeal: return "transition seal (accepts plaintext and sealed, sends sealed)";
    case TrustMode::kStrict: return "strict (sealed internode traffic only)";
  }
  return "unknown";
}

bool RateLimitedLog::should_log(const std::string& source, uint64_t now_ms) {
  auto it = last_ms_.find(source);
  if (it != last_ms_.end()) {
    if (now_ms - it->second < kIntervalMs) return false;
    it->second = now_ms;
    return true;
  }
  if (last_ms_.size() >= kSourcesMax) last_ms_.clear();
  last_ms_.emplace(source, now_ms);
  return true;
}

std::expected<TrustContext, std::string> TrustContext::load(const TrustSettings& settings) {
  if (!trust::init_sodium()) return std::unexpected("libsodium cannot start (no entropy source?)");
  TrustContext context;
  const std::string persisted = (std::filesystem::path(settings.data) / "keyring").string();
  std::error_code ec;
  if (std::filesystem::exists(persisted, ec)) {
    auto keyring = trust::load_keyring_file(persisted);
    if (!keyring) return std::unexpected(keyring.error());
    if (!settings.keyring_path.empty()) {
      spdlog::info("using the keyring persisted in {} (it wins over --keyring {})", persisted,
                   settings.keyring_path);
    }
    context.keyring_ = std::move(*keyring);
  } else if (!settings.keyring_path.empty()) {
    auto keyring = trust::load_keyring_file(settings.keyring_path);
    if (!keyring) return std::unexpected(keyring.error());
    std::filesystem::create_directories(settings.data, ec);
    if (auto saved = trust::save_keyring_file(*keyring, persisted); !saved) return std::unexpected(saved.error());
    context.keyring_ = std::move(*keyring);
  }
  if (!context.keyring_) {
    if (!settings.transition.empty()) {
      return std::unexpected("--keyring-transition needs a keyring (--keyring FILE)");
    }
    if (!is_loopback(settings.listen) && !settings.insecure) {
      return std::unexpected("refusing to listen on " + settings.listen +
                             " without a keyring: anyone who reaches the port would own the cluster; "
                             "give --keyring FILE (make a key with `kv keygen`), or --insecure to "
                             "run unprotected anyway");
    }
    spdlog::warn("no keyring: internode traffic is neither authenticated nor encrypted "
                 "(give --keyring FILE; see README \"Security\")");
    return context;
  }
  context.mode_ = settings.transition == "accept" ? TrustMode::kAccept
                  : settings.transition == "seal" ? TrustMode::kSeal
                                                  : TrustMode::kStrict;
  spdlog::info("keyring: {} key(s), primary {}; mode {}", context.keyring_->list().size(),
               trust::fingerprint(context.keyring_->primary()), to_string(context.mode_));
  return context;
}

void TrustContext::start(std::string cluster_name, std::string node_id, uint64_t generation) {
  cluster_name_ = std::move(cluster_name);
  sealer_.emplace(cluster_name_, std::move(node_id), generation);
}

std::expected<std::string, trust::Refusal> TrustContext::open_datagram(std::string_view datagram,
                                                                       const std::string& source,
                                                                       uint64_t now_ms) {
  std::expected<std::string, trust::Refusal> result = std::unexpected(trust::Refusal::kPlaintext);
  if (!trust::looks_sealed(datagram)) {
    if (accepts_plaintext()) return std::string(datagram);
  } else if (!keyring_) {
    result = std::unexpected(trust::Refusal::kNoKey);
  } else {
    result = trust::open_datagram(*keyring_, cluster_name_, datagram, replay_guard_);
    if (result) return result;
  }
  refuse(result.error(), source, now_ms);
  return result;
}

std::string TrustContext::seal_datagram(std::string bytes) {
  if (!seals()) return bytes;
  return sealer_->seal(keyring_->primary(), bytes);
}

void TrustContext::refuse(trust::Refusal refusal, const std::string& source, uint64_t now_ms) {
  refusals_.count(refusal);
  // Per host, not per HOST:PORT: every TCP connection has its own port.
  if (log_.should_log(source.substr(0, source.rfind(':')), now_ms)) {
    spdlog::warn("refused internode traffic from {}: {} (counted in kv stats as sealed_refused_{}; "
                 "logged once a minute per address)", source, trust::to_string(refusal), trust::to_string(refusal));
  }
}

void append_frame(std::string& out, std::string_view payload) {
  const uint32_t length = static_cast<uint32_t>(payload.size());
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((length >> shift) & 0xff));
  out.append(payload);
}

}  // namespace ringkv::io
