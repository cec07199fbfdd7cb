// TrustContext: what this node's I/O layer needs to seal and open internode
// traffic (node/trust), and the mode it runs in. Owned by node_process, used
// by GossipDriver, PeerClient and TcpServer on the loop's thread.
//
// Modes (Consul's staged verify_incoming/outgoing, for a rolling change from
// plaintext to keyed):
//   insecure  no keyring: plaintext everywhere, every TCP connection is a
//             peer (only allowed on loopback, or with --insecure)
//   accept    keyring, --keyring-transition accept: accepts plaintext and
//             sealed, sends plaintext
//   seal      keyring, --keyring-transition seal: accepts both, sends sealed
//   strict    keyring, no transition flag: sealed only; a plaintext TCP
//             connection is a client and may send client requests only
//
// Refusals are counted by reason (`sealed_refused_*` in `kv stats`) and
// logged at most once a minute per source address.
//
// Key rotation: TrustContext is the core's KeyringPort (node/core/
// keyring_port.h): every change is applied to the keyring in use and
// persisted to DATA/keyring (mode 0600, atomically) before it counts; only
// fingerprints are logged. A datagram opened with an installed key that is
// not the primary is reported through on_old_key (the sender missed a
// rotation; the core pushes it the primary).
//
// Trust problem: when peers refuse this node's sealed Hello (they answer
// with an ErrorReply: none of their keys opens it) and no handshake this
// node started has succeeded yet, trust_problem() says so for `kv status`,
// and the log says it once a minute.
#pragma once

#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <functional>
#include <unordered_map>

#include "node/core/keyring_port.h"

#include "node/trust/keyring.h"
#include "node/trust/refusal.h"
#include "node/trust/replay_guard.h"
#include "node/trust/sealed_datagram.h"
#include "node/trust/sealed_batch.h"
#include "node/trust/session.h"

namespace ringkv::io {

enum class TrustMode { kInsecure, kAccept, kSeal, kStrict };
const char* to_string(TrustMode mode);

// Logs one line per source address at most once per interval; bounded (the
// table is cleared when it fills, which at worst logs a few lines more).
class RateLimitedLog {
 public:
  static constexpr uint64_t kIntervalMs = 60'000;
  static constexpr size_t kSourcesMax = 4096;
  bool should_log(const std::string& source, uint64_t now_ms);

 private:
  std::unordered_map<std::string, uint64_t> last_ms_;
};

struct TrustSettings {
  std::string keyring_path;  // --keyring; empty: none
  std::string transition;    // --keyring-transition: "", "accept" or "seal"
  bool insecure = false;     // --insecure
  std::string listen;        // --listen HOST:PORT
  std::string data;          // data directory; the keyring in use is kept in DATA/keyring
};

class TrustContext : public core::KeyringPort {
 public:
  // Loads the keyring (DATA/keyring wins over --keyring, which seeds a new
  // node and is then persisted) and checks the secure-by-default rule.
  // Errors are one clear sentence for the operator.
  static std::expected<TrustContext, std::string> load(const TrustSettings& settings);

  // Call once the node's id and generation are known, before any traffic.
  void start(std::string cluster_name, std::string node_id, uint64_t generation);

  TrustMode mode() const { return mode_; }
  bool has_keyring() const { return keyring_.has_value(); }
  const trust::Keyring& keyring() const { return *keyring_; }
  const std::string& cluster_name() const { return cluster_name_; }
  trust::DatagramSealer& sealer() { return *sealer_; }
  // Whether this node seals what it sends.
  bool seals() const { return mode_ == TrustMode::kSeal || mode_ == TrustMode::kStrict; }
  // Whether plaintext internode traffic is taken (as from a peer).
  bool accepts_plaintext() const { return mode_ != TrustMode::kStrict; }

  // Gossip in: the plaintext to hand to membership, or the refusal (counted
  // and logged here).
  std::expected<std::string, trust::Refusal> open_datagram(std::string_view datagram, const std::string& source,
                                                           uint64_t now_ms);
  // Gossip out: sealed when this node seals.
  std::string seal_datagram(std::string bytes);

  // Counts and (rate-limited) logs a refusal of traffic from `source`.
  void refuse(trust::Refusal refusal, const std::string& source, uint64_t now_ms);
  const trust::RefusalCounters& refusals() const { return refusals_; }
  uint64_t sessions_accepted = 0;
  uint64_t sessions_opened = 0;
  uint64_t handshakes_refused_by_peer = 0;

  // A peer refused a sealed Hello this node sent, saying `reason`.
  void handshake_refused(const std::string& address, const std::string& reason, uint64_t now_ms);
  // A sealed handshake this node started succeeded.
  void handshake_opened();
  // Empty, or why no seed accepts this node (for `kv status`).
  std::string trust_problem() const;

  // Set by the owner: called with the sender's id and the installed key
  // (raw bytes) that opened its datagram, when that key is not the primary.
  std::function<void(std::string_view sender_id, std::string_view key)> on_old_key;
  // The same for a sealed session accepted from `host` (TcpServer).
  std::function<void(std::string_view host, std::string_view key)> on_old_key_session;

  // core::KeyringPort
  bool enabled() const override { return keyring_.has_value(); }
  core::KeyringState state() const override;
  std::string fingerprint(std::string_view key) const override;
  std::string primary_key() const override;
  std::expected<void, std::string> install(std::string_view key) override;
  std::expected<void, std::string> use(std::string_view key, uint64_t version) override;
  std::expected<void, std::string> remove(std::string_view key) override;

 private:
  // Applies `change` to a copy, persists it, then makes it the keyring in use.
  std::expected<void, std::string> change(const std::function<std::expected<void, std::string>(trust::Keyring&)>& edit,
                                          const std::string& what);
  TrustMode mode_ = TrustMode::kInsecure;
  std::optional<trust::Keyring> keyring_;
  std::string cluster_name_;
  std::optional<trust::DatagramSealer> sealer_;
  trust::ReplayGuard replay_guard_;
  trust::RefusalCounters refusals_;
  RateLimitedLog log_;
  std::string persisted_path_;  // DATA/keyring
  std::string refused_by_;      // the last peer refusal of this node's Hello ("" when none)
  std::string refusal_reason_;
};

// Appends a TCP frame (4-byte big-endian length, then `payload`).
void append_frame(std::string& out, std::string_view payload);

}  // namespace ringkv::io
