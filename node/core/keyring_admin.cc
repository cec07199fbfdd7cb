#include "node/core/keyring_admin.h"

#include <algorithm>
#include <cassert>
#include <utility>

namespace ringkv::core {
namespace {

wire::ErrorReply error(wire::ErrorCode code, std::string message) { return wire::ErrorReply{code, std::move(message)}; }

const char* action_name(wire::KeyAction action) {
  switch (action) {
    case wire::KeyAction::kList:
      return "list";
    case wire::KeyAction::kInstall:
      return "install";
    case wire::KeyAction::kUse:
      return "use";
    case wire::KeyAction::kRemove:
      return "remove";
    case wire::KeyAction::kSync:
      return "sync";
    case wire::KeyAction::kConfirm:
      return "confirm";
  }
  return "unknown";
}

std::string to_hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string text;
  for (unsigned char c : bytes) {
    text.push_back(kDigits[c >> 4]);
    text.push_back(kDigits[c & 15]);
  }
  return text;
}

std::optional<std::string> from_hex(std::string_view text) {
  if (text.size() % 2 != 0) return std::nullopt;
  auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  std::string bytes;
  for (size_t i = 0; i < text.size(); i += 2) {
    const int high = digit(text[i]);
    const int low = digit(text[i + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    bytes.push_back(static_cast<char>(high * 16 + low));
  }
  return bytes;
}

}  // namespace

KeyringAdmin::KeyringAdmin(KeyringAdminConfig config, const ClusterView& view, const membership::Swim& swim,
                           KeyringPort* port, storage::Engine& engine)
    : config_(config), view_(view), swim_(swim), port_(port), engine_(engine) {
  // Lines of "<id hex> <fingerprint> <version>"; a damaged line is skipped
  // (at worst a remove is refused until that member confirms again).
  auto text = engine_.meta_get(kKeyringConfirmationsMeta);
  if (!text || !*text) return;
  std::string_view rest = **text;
  while (!rest.empty() && confirmations_.size() < config_.confirmations_max) {
    const size_t end = rest.find('\n');
    const std::string line(rest.substr(0, end));
    rest.remove_prefix(end == std::string_view::npos ? rest.size() : end + 1);
    const size_t first = line.find(' ');
    const size_t second = first == std::string::npos ? first : line.find(' ', first + 1);
    if (second == std::string::npos) continue;
    auto id = from_hex(std::string_view(line).substr(0, first));
    const std::string digits = line.substr(second + 1);
    if (!id || digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos || digits.size() > 19) {
      continue;
    }
    confirmations_[*id] = Confirmation{line.substr(first + 1, second - first - 1), std::stoull(digits)};
  }
}

std::vector<membership::Member> KeyringAdmin::live_members() const {
  std::vector<membership::Member> live;
  for (membership::Member& member : swim_.members()) {
    if (member.id == view_.self_id) continue;
    if (member.liveness != membership::Liveness::kAlive && member.liveness != membership::Liveness::kSuspect) continue;
    live.push_back(std::move(member));
  }
  return live;
}

void KeyringAdmin::answer(wire::Body body) {
  assert(operation_.has_value() && "an answer belongs to the operation in progress");
  replies_.push_back(Outgoing{operation_->client, wire::Message{operation_->request_id, std::move(body)}});
  operation_.reset();
}

void KeyringAdmin::emit(Route route, const std::string& address, wire::Body body, std::string seal_with) {
  const PeerRoute peer_route = ids_.next();
  routes_.emplace(peer_route.id, std::move(route));
  peer_requests_.push_back(PeerRequest{peer_route, address, std::move(body), std::move(seal_with)});
}

wire::KeysNodeResult KeyringAdmin::own_line(bool ok, std::string message) const {
  wire::KeysNodeResult line;
  line.name = swim_.self().name;
  line.ok = ok;
  line.message = std::move(message);
  if (port_ != nullptr && port_->enabled()) {
    KeyringState state = port_->state();
    line.fingerprints = std::move(state.fingerprints);
    line.version = state.version;
  }
  return line;
}

void KeyringAdmin::handle_keys(ClientId client, uint64_t request_id, const wire::KeysRequest& request, Now now) {
  auto refuse = [&](wire::ErrorCode code, std::string message) {
    replies_.push_back(Outgoing{client, wire::Message{request_id, error(code, std::move(message))}});
  };
  if (port_ == nullptr || !port_->enabled()) {
    refuse(wire::ErrorCode::kInvalid, "this node runs without a keyring (--keyring): there are no keys to rotate");
    return;
  }
  if (request.action != wire::KeyAction::kList && port_->fingerprint(request.key).empty()) {
    refuse(wire::ErrorCode::kInvalid, "not a 32-byte key (make one with `kv keygen`)");
    return;
  }
  if (operation_) {
    refuse(wire::ErrorCode::kUnavailable, "another `kv keys` operation is in progress on this node; try again");
    return;
  }
  operation_ = Operation{.client = client, .request_id = request_id, .action = request.action, .key = request.key};
  if (request.action == wire::KeyAction::kUse) {
    uint64_t highest = port_->state().version;
    for (const auto& [id, confirmation] : confirmations_) highest = std::max(highest, confirmation.version);
    operation_->version = highest + 1;
  }
  if (request.action == wire::KeyAction::kRemove) {
    operation_->checking = true;
  } else {
    operation_->results[view_.self_id] = apply_local(request.action, request.key, operation_->version, now);
  }
  fan_out(now);
}

void KeyringAdmin::fan_out(Now now) {
  Operation& operation = *operation_;
  std::vector<membership::Member> live = live_members();
  for (const membership::Member& member : live) {
    wire::KeyringRequest request{.action = operation.checking ? wire::KeyAction::kList : operation.action,
                                 .key = operation.checking ? std::string() : operation.key,
                                 .version = operation.version};
    emit(Route{RouteKind::kFanOut, member.id}, member.address, std::move(request));
    ++operation.waiting;
  }
  if (!operation.checking) {
    // Ring members that are down are named too: they were not reached.
    for (const RingNode& node : view_.ring->nodes()) {
      if (node.id == view_.self_id || operation.results.contains(node.id)) continue;
      const bool reached = std::any_of(live.begin(), live.end(), [&](const auto& m) { return m.id == node.id; });
      if (reached) continue;
      wire::KeysNodeResult line;
      line.name = node.name;
      line.message =
          "down, not reached (a member that missed a new primary adopts it from the others when "
          "it returns)";
      operation.results[node.id] = std::move(line);
    }
  }
  if (operation.waiting == 0) operation.checking ? after_check(now) : finish_fan_out();
}

void KeyringAdmin::finish_fan_out() {
  wire::KeysReply reply;
  for (auto& [id, line] : operation_->results) reply.nodes.push_back(std::move(line));
  std::sort(reply.nodes.begin(), reply.nodes.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  answer(std::move(reply));
}

void KeyringAdmin::after_check(Now now) {
  Operation& operation = *operation_;
  const KeyringState own = port_->state();
  Confirmation target{own.fingerprints.front(), own.version};
  for (const RingNode& node : view_.ring->nodes()) {
    auto it = confirmations_.find(node.id);
    if (it != confirmations_.end() && it->second.version > target.version) target = it->second;
  }
  const std::string removed = port_->fingerprint(operation.key);
  if (removed == target.fingerprint) {
    answer(error(wire::ErrorCode::kInvalid, "remove refused, nothing changed: key " + removed +
                                                " is the current primary (version " + std::to_string(target.version) +
                                                "); `kv keys use` another key first"));
    return;
  }
  const std::vector<membership::Member> live = live_members();
  std::string unconfirmed;
  // What a member must seal with is the primary's key; versions only order
  // adoptions (a node added later from a key file runs the same primary at
  // version 0 until it hears a higher one).
  for (const RingNode& node : view_.ring->nodes()) {
    const bool confirmed = node.id == view_.self_id ? own.fingerprints.front() == target.fingerprint
                                                    : confirmations_.contains(node.id) &&
                                                          confirmations_.at(node.id).fingerprint == target.fingerprint;
    if (confirmed) continue;
    const bool up = node.id == view_.self_id ||
                    std::any_of(live.begin(), live.end(), [&](const auto& m) { return m.id == node.id; });
    unconfirmed += (unconfirmed.empty() ? "" : ", ") + node.name + (up ? "" : " (down)");
  }
  if (!unconfirmed.empty()) {
    answer(error(wire::ErrorCode::kInvalid,
                 "remove refused, nothing changed: not every ring member has confirmed the primary " +
                     target.fingerprint + " (version " + std::to_string(target.version) + "): " + unconfirmed +
                     "; a member that was down adopts the primary from the others once it is back: retry then"));
    return;
  }
  operation.checking = false;
  operation.results.clear();
  operation.results[view_.self_id] = apply_local(wire::KeyAction::kRemove, operation.key, 0, now);
  fan_out(now);
}

wire::KeysNodeResult KeyringAdmin::apply_local(wire::KeyAction action, std::string_view key, uint64_t version,
                                               Now /*now*/) {
  std::expected<void, std::string> done;
  switch (action) {
    case wire::KeyAction::kList:
      break;
    case wire::KeyAction::kInstall:
      done = port_->install(key);
      break;
    case wire::KeyAction::kUse: {
      const KeyringState before = port_->state();
      const bool switching = port_->fingerprint(key) != before.fingerprints.front();
      const uint64_t adopted_version = std::max(version, before.version + (switching ? 1 : 0));
      done = port_->use(key, adopted_version);
      if (done && (switching || adopted_version != before.version)) adopted(adopted_version, "kv keys use");
      break;
    }
    case wire::KeyAction::kRemove:
      done = port_->remove(key);
      break;
    default:
      done = std::unexpected(std::string("not a client action: ") + action_name(action));
  }
  return own_line(done.has_value(), done ? std::string() : done.error());
}

wire::Body KeyringAdmin::handle_keyring(const wire::KeyringRequest& request, Now now) {
  if (port_ == nullptr || !port_->enabled()) {
    return wire::KeyringReply{false, "this node runs without a keyring", {}, 0};
  }
  auto reply_of = [](wire::KeysNodeResult line) {
    return wire::KeyringReply{line.ok, std::move(line.message), std::move(line.fingerprints), line.version};
  };
  switch (request.action) {
    case wire::KeyAction::kList:
    case wire::KeyAction::kInstall:
    case wire::KeyAction::kUse:
    case wire::KeyAction::kRemove:
      if (request.action != wire::KeyAction::kList && port_->fingerprint(request.key).empty()) {
        return reply_of(own_line(false, "not a 32-byte key"));
      }
      return reply_of(apply_local(request.action, request.key, request.version, now));
    case wire::KeyAction::kSync: {
      const std::string offered = port_->fingerprint(request.key);
      if (offered.empty()) return reply_of(own_line(false, "not a 32-byte key"));
      const KeyringState before = port_->state();
      if (request.version <= before.version) return reply_of(own_line(true, "not newer: kept"));
      std::expected<void, std::string> done = port_->install(request.key);
      if (done) done = port_->use(request.key, request.version);
      if (!done) return reply_of(own_line(false, done.error()));
      notices_.push_back("keyring: adopted primary " + offered + " at version " + std::to_string(request.version) +
                         " from a member (this node had " + before.fingerprints.front() + " at version " +
                         std::to_string(before.version) + ")");
      adopted(request.version, "sync");
      return reply_of(own_line(true, "adopted"));
    }
    case wire::KeyAction::kConfirm:
      if (request.node.size() != membership::kNodeIdBytes || request.fingerprint.empty()) {
        return reply_of(own_line(false, "a confirmation needs a node id and a fingerprint"));
      }
      record(request.node, Confirmation{request.fingerprint, request.version}, /*fresh=*/false);
      return reply_of(own_line(true, ""));
  }
  return reply_of(own_line(false, "unknown action"));
}

bool KeyringAdmin::handle_reply(uint64_t id, const std::expected<wire::Message, std::string>& reply, Now now) {
  auto node = routes_.extract(id);
  if (node.empty()) return false;
  const Route route = std::move(node.mapped());
  const auto* keyring = reply ? std::get_if<wire::KeyringReply>(&reply->body) : nullptr;
  if (keyring != nullptr && !keyring->fingerprints.empty()) {
    record(route.member_id, Confirmation{keyring->fingerprints.front(), keyring->version}, /*fresh=*/true);
  }
  if (route.kind != RouteKind::kFanOut || !operation_) return true;
  Operation& operation = *operation_;
  wire::KeysNodeResult line;
  const auto member = swim_.member(route.member_id);
  line.name = member ? member->name : membership::id_to_hex(route.member_id);
  if (keyring != nullptr) {
    line.ok = keyring->ok;
    line.message = keyring->message;
    line.fingerprints = keyring->fingerprints;
    line.version = keyring->version;
  } else if (!reply) {
    line.message = "not reached: " + reply.error();
  } else if (const auto* refused = std::get_if<wire::ErrorReply>(&reply->body)) {
    line.message = std::string(wire::error_code_name(refused->code)) + ": " + refused->message;
  } else {
    line.message = "unexpected reply";
  }
  operation.results[route.member_id] = std::move(line);
  assert(operation.waiting > 0 && "a fan-out reply belongs to a request still waiting");
  if (--operation.waiting > 0) return true;
  operation.checking ? after_check(now) : finish_fan_out();
  return true;
}

void KeyringAdmin::on_old_key_seen(std::string_view sender_id, std::string_view key, Now now) {
  if (port_ == nullptr || !port_->enabled() || sender_id == view_.self_id) return;
  const auto member = swim_.member(sender_id);
  if (!member || member->liveness == membership::Liveness::kLeft) return;
  auto it = last_push_ms_.find(member->id);
  if (it != last_push_ms_.end() && now.monotonic_ms - it->second < config_.sync_push_interval_ms) return;
  if (it == last_push_ms_.end() && last_push_ms_.size() >= config_.push_table_max) last_push_ms_.clear();
  last_push_ms_[member->id] = now.monotonic_ms;
  wire::KeyringRequest push{
      .action = wire::KeyAction::kSync, .key = port_->primary_key(), .version = port_->state().version};
  emit(Route{RouteKind::kSync, member->id}, member->address, std::move(push), std::string(key));
}

void KeyringAdmin::on_old_key_from_host(std::string_view host, std::string_view key, Now now) {
  for (const membership::Member& member : swim_.members()) {
    const std::string_view address = member.address;
    if (member.id != view_.self_id && address.substr(0, address.rfind(':')) == host) {
      on_old_key_seen(member.id, key, now);
    }
  }
}

void KeyringAdmin::record(const std::string& member_id, const Confirmation& confirmation, bool fresh) {
  if (member_id == view_.self_id) return;
  auto it = confirmations_.find(member_id);
  if (it == confirmations_.end()) {
    if (confirmations_.size() >= config_.confirmations_max) return;
  } else if (it->second == confirmation || (!fresh && it->second.version > confirmation.version)) {
    return;
  }
  confirmations_[member_id] = confirmation;
  persist_confirmations();
  // The same primary at a higher version: take the version, so a `use` this
  // node coordinates later, or a sync it pushes, is not ordered below it.
  if (port_ != nullptr && port_->enabled()) {
    const KeyringState own = port_->state();
    if (own.fingerprints.front() == confirmation.fingerprint && confirmation.version > own.version) {
      (void)port_->use(port_->primary_key(), confirmation.version);
    }
  }
}

void KeyringAdmin::persist_confirmations() {
  std::string text;
  for (const auto& [id, confirmation] : confirmations_) {
    text += to_hex(id) + " " + confirmation.fingerprint + " " + std::to_string(confirmation.version) + "\n";
  }
  // Best effort: a lost confirmation only makes a later remove wait for it.
  (void)engine_.meta_put(kKeyringConfirmationsMeta, text);
}

void KeyringAdmin::adopted(uint64_t version, const char* how) {
  const KeyringState state = port_->state();
  notices_.push_back("keyring: primary is now " + state.fingerprints.front() + " at version " +
                     std::to_string(version) + " (" + how + "); telling every live member");
  for (const membership::Member& member : live_members()) {
    wire::KeyringRequest confirm{.action = wire::KeyAction::kConfirm,
                                 .version = state.version,
                                 .node = view_.self_id,
                                 .fingerprint = state.fingerprints.front()};
    emit(Route{RouteKind::kConfirm, member.id}, member.address, std::move(confirm));
  }
}

}  // namespace ringkv::core
