// KeyringAdmin: cluster-wide key rotation (`kv keys list|install|use|remove`)
// as a pure state machine, and the two mechanisms that keep a node that was
// down through a rotation from being stranded (DESIGN.md "Trust").
//
// Rotation. A client's KeysRequest reaches one node, which applies it to its
// own keyring (KeyringPort) and sends a KeyringRequest to every live member
// (sealed sessions); each answers with its outcome and keyring. The client
// gets one line per node: every live member, plus every ring member that is
// down (failed: not reached). One operation at a time; a second one is
// answered UNAVAILABLE. Every action is idempotent (install an installed key,
// use the primary, remove an absent key: ok).
//
// Versions. `use` carries the primary version max(known versions) + 1; each
// node persists it with its keyring.
//
// Confirmations. After a node adopts a primary (by use or by sync) it sends
// kConfirm (its id, the primary's fingerprint, the version) to every live
// member; every node persists what members confirmed (meta
// "keyring_confirmations"; a reply's keyring counts as a confirmation too).
//
// A node that hears its own primary confirmed at a higher version takes that
// version (a node added later from a key file starts at version 0).
//
// Remove is two-phase: first a list to every live member (fresh
// confirmations), then, only if every ring member (down ones included) has
// confirmed the current primary (the key of the highest version known; the
// fingerprint must match, the version need not) and the key is not that
// primary, the removal. Otherwise it is refused (ErrorReply INVALID
// naming the unconfirmed members) and nothing changed anywhere.
//
// Sync. When the I/O layer opens traffic from a member with an installed key
// that is not this node's primary (on_old_key_seen: a datagram;
// on_old_key_from_host: a session's Hello), this node pushes its
// primary key and version to that member (kSync), sealed with the key the
// member used (PeerRequest::seal_with), so a member that never got the new
// key still opens it. The member adopts it only when the version is higher
// than its own (no flapping during a rollout). At most one push per member
// per sync_push_interval_ms.
//
// Pure: inputs are method calls with the time, outputs are drained (replies,
// peer requests routed to PeerOwner::kKeyringAdmin, log notices). PeerClient
// answers every peer request exactly once (reply, failure or timeout), so
// an operation always completes. Single-threaded.
#pragma once

#include <cstdint>
#include <expected>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "membership/swim.h"
#include "node/core/cluster_view.h"
#include "node/core/coordinator.h"
#include "node/core/keyring_port.h"
#include "node/core/peer_request.h"
#include "node/wire/message.h"
#include "storage/engine.h"

namespace ringkv::core {

inline constexpr std::string_view kKeyringConfirmationsMeta = "keyring_confirmations";

struct KeyringAdminConfig {
  membership::TimeMs sync_push_interval_ms = 2000;
  size_t confirmations_max = 4096;  // members remembered (a cluster is far smaller)
  size_t push_table_max = 4096;     // members with a recent sync push
};

// What a member last confirmed: it seals with `fingerprint` at `version`.
struct Confirmation {
  std::string fingerprint;
  uint64_t version = 0;
  bool operator==(const Confirmation&) const = default;
};

class KeyringAdmin {
 public:
  // `port` may be null (no keyring: every request is refused with a reason).
  // Loads the persisted confirmations from `engine`.
  KeyringAdmin(KeyringAdminConfig config, const ClusterView& view, const membership::Swim& swim, KeyringPort* port,
               storage::Engine& engine);

  // A client's `kv keys ...`; the answer comes out of take_replies().
  void handle_keys(ClientId client, uint64_t request_id, const wire::KeysRequest& request, Now now);
  // A member's KeyringRequest (sealed channel only): the answer.
  wire::Body handle_keyring(const wire::KeyringRequest& request, Now now);
  // The outcome of a request this unit emitted, by route id (peer_route.h);
  // false when it awaits no such reply.
  bool handle_reply(uint64_t id, const std::expected<wire::Message, std::string>& reply, Now now);
  // Traffic from member `sender_id` opened with installed key `key` (raw
  // bytes), not this node's primary: push the primary to it (rate-limited).
  void on_old_key_seen(std::string_view sender_id, std::string_view key, Now now);
  // The same for a sealed session accepted from `host` (a TCP peer's source
  // port says nothing): every member at that host gets the push; one that
  // already runs a newer primary ignores it.
  void on_old_key_from_host(std::string_view host, std::string_view key, Now now);

  std::vector<Outgoing> take_replies() { return std::exchange(replies_, {}); }
  std::vector<PeerRequest> take_peer_requests() { return std::exchange(peer_requests_, {}); }
  std::vector<std::string> take_notices() { return std::exchange(notices_, {}); }

  // Confirmations known, by member id (tests, status).
  const std::map<std::string, Confirmation>& confirmations() const { return confirmations_; }
  bool busy() const { return operation_.has_value(); }
  // Wiring (the I/O layer owns the keyring); null: no keyring.
  void set_port(KeyringPort* port) { port_ = port; }

 private:
  enum class RouteKind { kFanOut, kSync, kConfirm };
  struct Route {
    RouteKind kind;
    std::string member_id;
  };
  struct Operation {
    ClientId client = 0;
    uint64_t request_id = 0;
    wire::KeyAction action = wire::KeyAction::kList;
    std::string key;
    uint64_t version = 0;
    bool checking = false;                                // remove, phase one: a list for fresh confirmations
    std::map<std::string, wire::KeysNodeResult> results;  // by member id
    size_t waiting = 0;
  };

  // Applies an action to this node's keyring; the node's line.
  wire::KeysNodeResult apply_local(wire::KeyAction action, std::string_view key, uint64_t version, Now now);
  wire::KeysNodeResult own_line(bool ok, std::string message) const;
  void fan_out(Now now);
  void finish_fan_out();
  void after_check(Now now);
  // `fresh`: the member's own reply just now, which wins even over a higher
  // version (it may have lost its keyring); kConfirm messages may arrive out
  // of order, so they only raise the version.
  void record(const std::string& member_id, const Confirmation& confirmation, bool fresh);
  void adopted(uint64_t version, const char* how);
  std::vector<membership::Member> live_members() const;
  void answer(wire::Body body);
  void emit(Route route, const std::string& address, wire::Body body, std::string seal_with = "");
  void persist_confirmations();

  KeyringAdminConfig config_;
  const ClusterView& view_;
  const membership::Swim& swim_;
  KeyringPort* port_;
  storage::Engine& engine_;
  std::map<std::string, Confirmation> confirmations_;       // member id -> what it confirmed
  std::map<std::string, membership::TimeMs> last_push_ms_;  // member id -> last sync push
  std::optional<Operation> operation_;
  std::map<uint64_t, Route> routes_;  // route id -> what the reply is for
  PeerIds ids_{PeerOwner::kKeyringAdmin};
  std::vector<Outgoing> replies_;
  std::vector<PeerRequest> peer_requests_;
  std::vector<std::string> notices_;
};

}  // namespace ringkv::core
