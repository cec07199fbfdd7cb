#include "node/io/trust_context.h"

#include <cassert>

#include <spdlog/spdlog.h>

#include <algorithm>
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
  context.persisted_path_ = (std::filesystem::path(settings.data) / "keyring").string();
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
    auto opened = trust::open_sealed(*keyring_, cluster_name_, datagram);
    if (opened && !replay_guard_.accept(opened->sender_id, opened->generation, opened->counter)) {
      opened = std::unexpected(trust::Refusal::kReplayed);
    }
    if (opened) {
      if (opened->key_index != 0 && on_old_key) {
        const trust::Key& key = keyring_->list()[opened->key_index];
        on_old_key(opened->sender_id, std::string_view(reinterpret_cast<const char*>(key.data()), key.size()));
      }
      return std::move(opened->plaintext);
    }
    result = std::unexpected(opened.error());
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

void TrustContext::handshake_refused(const std::string& address, const std::string& reason, uint64_t now_ms) {
  ++handshakes_refused_by_peer;
  refused_by_ = address;
  refusal_reason_ = reason;
  if (!log_.should_log("handshake refused", now_ms)) return;
  if (sessions_opened == 0) {
    spdlog::error("no seed accepts this node's keys: {}: {} (this node's primary is {}; it does not serve until a "
                  "member accepts its keys: give it the cluster's keyring; logged once a minute)",
                  address, reason, trust::fingerprint(keyring_->primary()));
  } else {
    spdlog::warn("{} refused this node's sealed handshake: {} (logged once a minute)", address, reason);
  }
}

void TrustContext::handshake_opened() {
  ++sessions_opened;
  refused_by_.clear();
  refusal_reason_.clear();
}

std::string TrustContext::trust_problem() const {
  if (refused_by_.empty() || sessions_opened > 0) return "";
  return "no seed accepts this node's keys: " + refused_by_ + ": " + refusal_reason_;
}

core::KeyringState TrustContext::state() const {
  core::KeyringState state;
  for (const trust::Key& key : keyring_->list()) state.fingerprints.push_back(trust::fingerprint(key));
  state.version = keyring_->primary_version();
  return state;
}

namespace {

std::optional<trust::Key> key_of(std::string_view bytes) {
  if (bytes.size() != trust::kKeyBytes) return std::nullopt;
  trust::Key key;
  std::copy(bytes.begin(), bytes.end(), key.begin());
  return key;
}

}  // namespace

std::string TrustContext::fingerprint(std::string_view key) const {
  auto parsed = key_of(key);
  return parsed ? trust::fingerprint(*parsed) : std::string();
}

std::string TrustContext::primary_key() const {
  const trust::Key& key = keyring_->primary();
  return std::string(reinterpret_cast<const char*>(key.data()), key.size());
}

std::expected<void, std::string> TrustContext::change(
    const std::function<std::expected<void, std::string>(trust::Keyring&)>& edit, const std::string& what) {
  if (!keyring_) return std::unexpected("this node runs without a keyring");
  trust::Keyring edited = *keyring_;
  if (auto done = edit(edited); !done) return done;
  if (edited.list() == keyring_->list() && edited.primary_version() == keyring_->primary_version()) return {};
  if (auto saved = trust::save_keyring_file(edited, persisted_path_); !saved) return saved;
  keyring_ = std::move(edited);
  spdlog::info("keyring: {}; now {} key(s), primary {} at version {} (kept in {})", what, keyring_->list().size(),
               trust::fingerprint(keyring_->primary()), keyring_->primary_version(), persisted_path_);
  return {};
}

std::expected<void, std::string> TrustContext::install(std::string_view bytes) {
  auto key = key_of(bytes);
  if (!key) return std::unexpected("not a 32-byte key");
  return change([&](trust::Keyring& keyring) -> std::expected<void, std::string> {
    keyring.install(*key);
    return {};
  }, "installed " + trust::fingerprint(*key));
}

std::expected<void, std::string> TrustContext::use(std::string_view bytes, uint64_t version) {
  auto key = key_of(bytes);
  if (!key) return std::unexpected("not a 32-byte key");
  return change([&](trust::Keyring& keyring) -> std::expected<void, std::string> {
    if (auto done = keyring.use(*key); !done) return done;
    keyring.set_primary_version(version);
    return {};
  }, "using " + trust::fingerprint(*key));
}

std::expected<void, std::string> TrustContext::remove(std::string_view bytes) {
  auto key = key_of(bytes);
  if (!key) return std::unexpected("not a 32-byte key");
  return change([&](trust::Keyring& keyring) -> std::expected<void, std::string> {
    if (!keyring.contains(*key)) return {};  // absent: nothing to do
    return keyring.remove(*key);
  }, "removed " + trust::fingerprint(*key));
}

void append_frame(std::string& out, std::string_view payload) {
  const uint32_t length = static_cast<uint32_t>(payload.size());
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((length >> shift) & 0xff));
  out.append(payload);
}

}  // namespace ringkv::io
