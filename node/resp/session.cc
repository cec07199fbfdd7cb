#include "node/resp/session.h"

#include <algorithm>
#include <cassert>
#include <cstdint>
#include <optional>

#include "node/resp/command_name.h"
#include "node/resp/info.h"
#include "node/resp/keyspace_commands.h"
#include "node/resp/reply_encoder.h"

namespace ringkv::resp {
namespace {

constexpr int kPartBits = 20;
constexpr uint64_t kPartMask = (uint64_t{1} << kPartBits) - 1;

// Redis's replies, word for word (client libraries match on them).
constexpr std::string_view kNoAuth = "NOAUTH Authentication required.";
constexpr std::string_view kWrongPass = "WRONGPASS invalid username-password pair or user is disabled.";
constexpr std::string_view kAuthWithoutUsers =
    "ERR AUTH <password> called without any password configured for the default user. Are you sure your "
    "configuration is correct?";

// Redis shows at most this much of an unknown command's name.
constexpr size_t kShownNameBytesMax = 128;
// append_simple_string(out, "OK"), the reply to every write.
constexpr std::string_view kOkReply = "+OK\r\n";
// A recycled slot keeps its reply buffer up to this capacity.
constexpr size_t kKeptReplyBytesMax = 256;

template <typename Container>
void release(Container& container) {
  if (container.capacity() != 0) container = Container();
}

}  // namespace


std::string error_text(const wire::ErrorReply& error) {
  switch (error.code) {
    case wire::ErrorCode::kUnavailable:
      return "UNAVAILABLE " + error.message;
    case wire::ErrorCode::kTimeout:
      return "TIMEOUT " + error.message;
    case wire::ErrorCode::kBusy:
      return "BUSY " + error.message;
    case wire::ErrorCode::kInternal:
      return "ERR storage failure: " + error.message;
    case wire::ErrorCode::kNotAuthenticated:
      return std::string(kNoAuth);
    case wire::ErrorCode::kForbidden:
      return "NOPERM " + error.message;
    default:
      return "ERR " + std::string(wire::error_code_name(error.code)) + ": " + error.message;
  }
}

Session::Session(const SessionConfig& config, uint64_t client_id) : config_(config) {
  identity_.id = client_id;
  assert(config_.limits.validate().empty() && "Session needs consistent limits");
}

Session::~Session() = default;

void Session::Slot::recycle() {
  kind = Kind::kReady;
  done = second_phase = false;
  outstanding = part_first = part_end = 0;
  count = 0;
  if (reply.capacity() > kKeptReplyBytesMax) {
    reply = std::string();
  } else {
    reply.clear();
  }
  error.reset();
  release(keys);
  release(pattern);
  release(values);
  status.reset();
  stats.reset();
  release(waiting);
  expiry = ExpiryCommand{};
  current = CurrentExpiry{};
}

Session::Slot& Session::open_slot() {
  Slot& slot = slots_.push_back();  // recycled: as recycle() left it
  slot.sequence = next_sequence_++;
  return slot;
}

void Session::finish_ready(Slot& slot, std::string reply) {
  slot.kind = Kind::kReady;
  slot.reply = std::move(reply);
  slot.done = true;
}

wire::Message& Session::new_request(Slot& slot, uint32_t part) {
  assert(part <= kPartMask && "request part fits its bits");
  wire::Message& request = requests_.emplace_back();
  request.request_id = (slot.sequence << kPartBits) | part;
  if (slot.outstanding++ == 0) slot.part_first = part;
  slot.part_end = part + 1;
  return request;
}

void Session::send(Slot& slot, uint32_t part, wire::Body body) { new_request(slot, part).body = std::move(body); }

void Session::fail_protocol(std::string_view reason) {
  if (closing_) return;
  Slot& slot = open_slot();
  finish_ready(slot, encoded_error("ERR Protocol error: " + std::string(reason)));
  closing_ = true;
}

void Session::take_requests(std::vector<wire::Message>& out) {
  if (out.empty()) {
    out.swap(requests_);  // the caller's emptied vector comes back for the next requests
    return;
  }
  for (auto& request : requests_) out.push_back(std::move(request));
  requests_.clear();
}

void Session::take_ready(std::string& out) {
  while (!slots_.empty() && slots_.front().done) {
    out.append(slots_.front().reply);
    slots_.front().recycle();
    slots_.pop_front();
  }
  slots_.release_spare(kSlotsKeptMax);
}

void Session::handle_command(const Command& command, uint64_t uptime_s) {
  assert(accepting() && has_room() && !command.empty());
  Slot& slot = open_slot();
  if (auth_in_flight_) {
    slot.kind = Kind::kWaitingForAuth;
    slot.waiting.assign(command.begin(), command.end());
    slot.count = static_cast<int64_t>(uptime_s);
    return;
  }
  dispatch(slot, command, uptime_s);
}

void Session::run_waiting() {
  for (size_t i = 0; i < slots_.size(); ++i) {
    Slot& slot = slots_[i];
    if (auth_in_flight_) return;
    if (slot.kind != Kind::kWaitingForAuth) continue;
    const std::vector<std::string> waiting = std::move(slot.waiting);
    const Command command(waiting.begin(), waiting.end());
    const auto uptime_s = static_cast<uint64_t>(slot.count);
    slot.kind = Kind::kReady;
    slot.count = 0;
    dispatch(slot, command, uptime_s);
  }
}

std::optional<std::string> Session::refusal(CommandName name, const Command& args) const {
  if (!config_.users_required || name == CommandName::kAuth || name == CommandName::kQuit ||
      name == CommandName::kHello || name == CommandName::kUnknown) {
    return std::nullopt;
  }
  if (!authenticated_) return std::string(kNoAuth);
  const bool writes = name == CommandName::kSet || name == CommandName::kMset || name == CommandName::kDel ||
                      name == CommandName::kSetex || name == CommandName::kPsetex ||
                      name == CommandName::kExpire || name == CommandName::kPexpire ||
                      name == CommandName::kExpireat || name == CommandName::kPexpireat ||
                      name == CommandName::kPersist || name == CommandName::kGetex;
  if (writes && !may_write_) {
    return "NOPERM this user has no permissions to run the '" + lower_case(args[0]) + "' command";
  }
  return std::nullopt;
}

void Session::authenticate(Slot& slot, const Command& args) {
  const size_t argc = args.size();
  if (argc < 2) return finish_ready(slot, wrong_arity(args[0]));
  if (argc > 3) return finish_ready(slot, encoded_error("ERR syntax error"));
  if (argc == 2 && !config_.users_required) return finish_ready(slot, encoded_error(kAuthWithoutUsers));
  slot.kind = Kind::kAuth;
  auth_in_flight_ = true;
  std::string user(argc == 3 ? args[1] : std::string_view("default"));
  send(slot, 0, wire::AuthRequest{std::move(user), std::string(args[argc - 1])});
}

void Session::dispatch(Slot& slot, const Command& args, uint64_t uptime_s) {
  const CommandName name = command_of(args[0]);
  if (auto refused = refusal(name, args)) return finish_ready(slot, encoded_error(*refused));
  const size_t argc = args.size();
  const wire::Consistency level = config_.consistency;
  std::string out;
  switch (name) {
    case CommandName::kPing:
      if (argc > 2) return finish_ready(slot, wrong_arity(args[0]));
      if (argc == 2) {
        append_bulk_string(out, args[1]);
      } else {
        append_simple_string(out, "PONG");
      }
      return finish_ready(slot, std::move(out));

    case CommandName::kEcho:
      if (argc != 2) return finish_ready(slot, wrong_arity(args[0]));
      append_bulk_string(out, args[1]);
      return finish_ready(slot, std::move(out));

    case CommandName::kQuit:
      append_simple_string(out, "OK");
      finish_ready(slot, std::move(out));
      closing_ = true;
      return;

    case CommandName::kSelect:
      if (argc != 2) return finish_ready(slot, wrong_arity(args[0]));
      if (args[1] != "0") return finish_ready(slot, encoded_error("ERR DB index is out of range (ringkv has db 0 only)"));
      append_simple_string(out, "OK");
      return finish_ready(slot, std::move(out));

    case CommandName::kGet:
      if (argc != 2) return finish_ready(slot, wrong_arity(args[0]));
      slot.kind = Kind::kGet;
      new_request(slot, 0).body.emplace<wire::GetRequest>(std::string(args[1]), level, false);
      return;

    case CommandName::kSet:
      if (argc < 3) return finish_ready(slot, wrong_arity(args[0]));
      return set(slot, name, args);

    case CommandName::kSetex:
    case CommandName::kPsetex:
      if (argc != 4) return finish_ready(slot, wrong_arity(args[0]));
      return set(slot, name, args);

    case CommandName::kExpire:
    case CommandName::kPexpire:
    case CommandName::kExpireat:
    case CommandName::kPexpireat:
    case CommandName::kTtl:
    case CommandName::kPttl:
    case CommandName::kPersist:
    case CommandName::kGetex:
      return start_expiry(slot, name, args);

    case CommandName::kMset:
      if (argc < 3 || argc % 2 == 0) return finish_ready(slot, wrong_arity(args[0]));
      slot.kind = Kind::kWrite;
      for (size_t i = 1; i < argc; i += 2) {
        send(slot, static_cast<uint32_t>(i / 2), wire::PutRequest{std::string(args[i]), std::string(args[i + 1]), level});
      }
      return;

    case CommandName::kMget:
    case CommandName::kExists:
      if (argc < 2) return finish_ready(slot, wrong_arity(args[0]));
      slot.kind = name == CommandName::kMget ? Kind::kMget : Kind::kExists;
      if (slot.kind == Kind::kMget) slot.values.resize(argc - 1);
      for (size_t i = 1; i < argc; ++i) {
        send(slot, static_cast<uint32_t>(i - 1), wire::GetRequest{std::string(args[i]), level, false});
      }
      return;

    case CommandName::kDel:
      if (argc < 2) return finish_ready(slot, wrong_arity(args[0]));
      slot.kind = Kind::kDelete;
      slot.keys.assign(args.begin() + 1, args.end());
      for (size_t i = 0; i < slot.keys.size(); ++i) {
        send(slot, static_cast<uint32_t>(i), wire::GetRequest{slot.keys[i], level, false});
      }
      return;

    case CommandName::kInfo:
      if (argc > 2) return finish_ready(slot, encoded_error("ERR INFO takes at most one section"));
      if (argc == 2 && !is_info_section(args[1])) {
        append_bulk_string(out, "");  // Redis answers an unknown section with nothing
        return finish_ready(slot, std::move(out));
      }
      slot.kind = Kind::kInfo;
      slot.count = static_cast<int64_t>(uptime_s);
      slot.keys.emplace_back(argc == 2 ? args[1] : std::string_view());
      send(slot, 0, wire::StatusRequest{});
      send(slot, 1, wire::StatsRequest{});
      return;

    case CommandName::kCommand:
      // Enough for redis-cli and client libraries that probe the server:
      // no command table is published.
      if (argc == 1) {
        append_array_header(out, 0);
      } else if (equals_ignoring_case(args[1], "count")) {
        append_integer(out, kKnownCommandCount);
      } else if (equals_ignoring_case(args[1], "docs") || equals_ignoring_case(args[1], "list")) {
        append_array_header(out, 0);
      } else if (equals_ignoring_case(args[1], "info")) {
        append_array_header(out, argc - 2);
        for (size_t i = 2; i < argc; ++i) append_null_bulk(out);
      } else {
        return finish_ready(slot, encoded_error("ERR unknown COMMAND subcommand '" +
                                                std::string(args[1].substr(0, kShownNameBytesMax)) + "'"));
      }
      return finish_ready(slot, std::move(out));

    case CommandName::kConfig: {
      if (argc < 2) return finish_ready(slot, wrong_arity(args[0]));
      if (!equals_ignoring_case(args[1], "get")) {
        return finish_ready(slot, encoded_error("ERR ringkv answers CONFIG GET only"));
      }
      if (argc < 3) return finish_ready(slot, wrong_arity("config|get"));
      // What redis-benchmark asks before it starts. Every write is in the
      // write-ahead log before it is acknowledged (appendonly in Redis
      // terms); there are no snapshots (save).
      std::vector<std::pair<std::string_view, std::string_view>> pairs;
      for (size_t i = 2; i < argc; ++i) {
        const bool all = args[i] == "*";
        if (all || equals_ignoring_case(args[i], "save")) pairs.emplace_back("save", "");
        if (all || equals_ignoring_case(args[i], "appendonly")) pairs.emplace_back("appendonly", "yes");
      }
      append_array_header(out, pairs.size() * 2);
      for (const auto& [name, value] : pairs) {
        append_bulk_string(out, name);
        append_bulk_string(out, value);
      }
      return finish_ready(slot, std::move(out));
    }

    case CommandName::kAuth:
      return authenticate(slot, args);

    case CommandName::kScan: {
      auto parsed = parse_scan(args, level);
      if (auto* ready = std::get_if<std::string>(&parsed)) return finish_ready(slot, std::move(*ready));
      slot.kind = Kind::kScan;
      send(slot, 0, std::get<wire::ScanRequest>(std::move(parsed)));
      return;
    }

    case CommandName::kKeys:
      if (argc != 2) return finish_ready(slot, wrong_arity(args[0]));
      if (args[1].size() > wire::kScanPatternBytesMax) {
        return finish_ready(slot, encoded_error("ERR pattern longer than " +
                                                std::to_string(wire::kScanPatternBytesMax) + " bytes"));
      }
      slot.kind = Kind::kKeys;
      slot.pattern = args[1] == "*" ? std::string_view() : args[1];
      send(slot, 0, wire::ScanRequest{0, slot.pattern, wire::kScanCountMax, level});
      return;

    case CommandName::kDbsize:
      if (argc != 1) return finish_ready(slot, wrong_arity(args[0]));
      slot.kind = Kind::kDbSize;
      send(slot, 0, wire::DbSizeRequest{});
      return;

    case CommandName::kHello:
      return finish_ready(slot, hello_reply(args, identity_));

    case CommandName::kClient:
      return finish_ready(slot, client_reply(args, identity_));

    case CommandName::kUnknown:
      break;
  }
  finish_ready(slot, encoded_error("ERR unknown command '" + std::string(args[0].substr(0, kShownNameBytesMax)) + "'"));
}

void Session::set(Slot& slot, CommandName name, const Command& args) {
  auto expiry = parse_set_expiry(name, args);
  if (!expiry) return finish_ready(slot, std::move(expiry.error()));
  const size_t value_index = name == CommandName::kSet ? 2 : 3;  // SETEX key seconds value
  slot.kind = Kind::kWrite;
  // The key and value are copied once, from the parser's input into the request.
  auto& put = new_request(slot, 0).body.emplace<wire::PutRequest>(std::string(args[1]), std::string(args[value_index]),
                                                                   config_.consistency);
  if (expiry->kind != NewExpiry::Kind::kKeep) apply(*expiry, put);
}

void Session::start_expiry(Slot& slot, CommandName name, const Command& args) {
  auto command = parse_expiry_command(name, args);
  if (!command) return finish_ready(slot, std::move(command.error()));
  slot.expiry = std::move(*command);
  slot.kind = Kind::kExpiry;
  slot.keys.assign(1, std::string(args[1]));
  slot.values.resize(1);
  send(slot, 0, wire::GetRequest{slot.keys[0], config_.consistency, false});
}

void Session::complete_expiry(Slot& slot) {
  std::string out;
  std::optional<std::string>& value = slot.values[0];
  const ExpiryCommand& command = slot.expiry;
  const bool getex = command.op == ExpiryOp::kGetex;
  if (slot.second_phase) {  // the write was acknowledged
    if (getex) {
      append_bulk_string(out, *value);
    } else {
      append_integer(out, 1);
    }
    return finish_ready(slot, std::move(out));
  }
  const auto left_ms = static_cast<int64_t>(slot.current.ttl_ms);
  switch (command.op) {
    case ExpiryOp::kTtl:
    case ExpiryOp::kPttl:
      append_integer(out, !value ? -2 : left_ms == 0 ? -1 : command.op == ExpiryOp::kPttl ? left_ms : (left_ms + 500) / 1000);
      return finish_ready(slot, std::move(out));
    case ExpiryOp::kGetex:
      if (!value) {
        append_null_bulk(out);
        return finish_ready(slot, std::move(out));
      }
      if (!command.error_if_found.empty()) return finish_ready(slot, command.error_if_found);
      if (command.expiry.kind == NewExpiry::Kind::kKeep ||
          (command.expiry.kind == NewExpiry::Kind::kPersist && left_ms == 0)) {
        append_bulk_string(out, *value);
        return finish_ready(slot, std::move(out));
      }
      break;
    case ExpiryOp::kPersist:
    case ExpiryOp::kExpire:
      if (!value || (command.op == ExpiryOp::kPersist && left_ms == 0) || !allows(command, slot.current)) {
        append_integer(out, 0);
        return finish_ready(slot, std::move(out));
      }
      break;
  }
  // GETEX answers with the value once the write is acknowledged: keep it.
  wire::PutRequest put{std::move(slot.keys[0]), getex ? *value : std::move(*value), config_.consistency};
  apply(command.expiry, put);
  slot.second_phase = true;
  send(slot, 1, std::move(put));
}

void Session::keys_page(Slot& slot, wire::ScanReply& page) {
  for (std::string& key : page.keys) {
    slot.count += static_cast<int64_t>(key.size());
    slot.keys.push_back(std::move(key));
  }
  if (slot.keys.size() > kKeysReplyKeysMax || static_cast<size_t>(slot.count) > kKeysReplyBytesMax) {
    slot.keys.clear();
    slot.error = keys_refusal();
    return;
  }
  if (page.cursor == 0) return;
  if (slot.part_end >= kPartMask) {
    slot.keys.clear();
    slot.error = "ERR KEYS took more pages than a command may; use SCAN";
    return;
  }
  send(slot, slot.part_end, wire::ScanRequest{page.cursor, slot.pattern, wire::kScanCountMax, config_.consistency});
}

void Session::handle_reply(wire::Message& reply, std::string& out) {
  if (slots_.empty()) return;
  const uint64_t sequence = reply.request_id >> kPartBits;
  const uint64_t part = reply.request_id & kPartMask;
  const uint64_t first = slots_.front().sequence;
  if (sequence < first || sequence - first >= slots_.size()) return;
  Slot& slot = slots_[sequence - first];
  if (slot.done || slot.outstanding == 0 || part < slot.part_first || part >= slot.part_end) return;
  --slot.outstanding;
  const bool answers_auth = slot.kind == Kind::kAuth;
  if (answers_auth) auth_in_flight_ = false;

  if (auto* error = std::get_if<wire::ErrorReply>(&reply.body)) {
    const bool wrong_credentials = slot.kind == Kind::kAuth && error->code == wire::ErrorCode::kNotAuthenticated;
    if (!slot.error) slot.error = wrong_credentials ? std::string(kWrongPass) : error_text(*error);
  } else {
    switch (slot.kind) {
      case Kind::kGet:
      case Kind::kMget:
      case Kind::kExists:
      case Kind::kDelete:
        if (auto* get = std::get_if<wire::GetReply>(&reply.body)) {
          if (slot.kind == Kind::kGet) {
            // At the head nothing precedes it: straight into the output.
            std::string& target = &slot == &slots_.front() ? out : slot.reply;
            if (get->found) {
              append_bulk_string(target, get->value);
            } else {
              append_null_bulk(target);
            }
          } else if (slot.kind == Kind::kMget) {
            if (part < slot.values.size() && get->found) slot.values[part] = std::move(get->value);
          } else if (!slot.second_phase) {
            slot.count += get->found ? 1 : 0;
          }
        } else if (!(slot.kind == Kind::kDelete && slot.second_phase &&
                     std::holds_alternative<wire::WriteReply>(reply.body))) {
          if (!slot.error) slot.error = "ERR unexpected reply from the coordinator";
        }
        break;
      case Kind::kWrite:
        if (!std::holds_alternative<wire::WriteReply>(reply.body) && !slot.error) {
          slot.error = "ERR unexpected reply from the coordinator";
        }
        break;
      case Kind::kExpiry:
        if (auto* get = std::get_if<wire::GetReply>(&reply.body); get && !slot.second_phase) {
          if (get->found) slot.values[0] = std::move(get->value);
          slot.current = CurrentExpiry{get->ttl_ms, get->expires_at_us};
        } else if (!(slot.second_phase && std::holds_alternative<wire::WriteReply>(reply.body)) && !slot.error) {
          slot.error = "ERR unexpected reply from the coordinator";
        }
        break;
      case Kind::kInfo:
        if (auto* status = std::get_if<wire::StatusReply>(&reply.body)) {
          slot.status = std::make_unique<wire::StatusReply>(std::move(*status));
        } else if (auto* stats = std::get_if<wire::StatsReply>(&reply.body)) {
          slot.stats = std::make_unique<wire::StatsReply>(std::move(*stats));
        }
        break;
      case Kind::kScan:
      case Kind::kKeys:
        if (auto* page = std::get_if<wire::ScanReply>(&reply.body)) {
          if (slot.kind == Kind::kScan) {
            slot.reply = scan_reply(*page);
          } else {
            keys_page(slot, *page);
          }
        } else if (!slot.error) {
          slot.error = "ERR unexpected reply from the coordinator";
        }
        break;
      case Kind::kDbSize:
        if (auto* size = std::get_if<wire::DbSizeReply>(&reply.body)) {
          slot.count = static_cast<int64_t>(std::min<uint64_t>(size->keys, INT64_MAX));
        } else if (!slot.error) {
          slot.error = "ERR unexpected reply from the coordinator";
        }
        break;
      case Kind::kAuth:
        if (auto* auth = std::get_if<wire::AuthReply>(&reply.body)) {
          authenticated_ = true;
          may_write_ = auth->role != "read";
        } else if (!slot.error) {
          slot.error = "ERR unexpected reply from the coordinator";
        }
        break;
      case Kind::kReady:
      case Kind::kWaitingForAuth:
        break;
    }
  }
  if (slot.outstanding == 0) complete(slot);
  if (answers_auth) run_waiting();
  take_ready(out);
}

void Session::complete(Slot& slot) {
  if (slot.error) {
    std::string out;
    append_error(out, *slot.error);
    return finish_ready(slot, std::move(out));
  }
  switch (slot.kind) {
    case Kind::kGet:
    case Kind::kScan:
      slot.done = true;  // the reply is already in slot.reply
      return;
    case Kind::kKeys: {
      std::string out;
      append_array_header(out, slot.keys.size());
      for (const std::string& key : slot.keys) append_bulk_string(out, key);
      return finish_ready(slot, std::move(out));
    }
    case Kind::kDbSize: {
      std::string out;
      append_integer(out, slot.count);
      return finish_ready(slot, std::move(out));
    }
    case Kind::kWrite:
    case Kind::kAuth:
      slot.reply.assign(kOkReply);  // into the recycled buffer
      slot.kind = Kind::kReady;
      slot.done = true;
      return;
    case Kind::kMget: {
      std::string out;
      append_array_header(out, slot.values.size());
      for (const auto& value : slot.values) {
        if (value) {
          append_bulk_string(out, *value);
        } else {
          append_null_bulk(out);
        }
      }
      return finish_ready(slot, std::move(out));
    }
    case Kind::kDelete:
      if (!slot.second_phase) {
        // Every read answered: now delete them all (second phase).
        slot.second_phase = true;
        const auto count = static_cast<uint32_t>(slot.keys.size());
        for (uint32_t i = 0; i < count; ++i) {
          send(slot, count + i, wire::DeleteRequest{std::move(slot.keys[i]), config_.consistency});
        }
        slot.keys.clear();
        return;
      }
      [[fallthrough]];
    case Kind::kExists: {
      std::string out;
      append_integer(out, slot.count);
      return finish_ready(slot, std::move(out));
    }
    case Kind::kInfo: {
      std::string out;
      const wire::StatusReply status = slot.status ? std::move(*slot.status) : wire::StatusReply{};
      const wire::StatsReply stats = slot.stats ? std::move(*slot.stats) : wire::StatsReply{};
      append_bulk_string(out, render_info(slot.keys.front(), config_.server, static_cast<uint64_t>(slot.count),
                                          config_.consistency, status, stats));
      return finish_ready(slot, std::move(out));
    }
    case Kind::kExpiry:
      return complete_expiry(slot);
    case Kind::kReady:
    case Kind::kWaitingForAuth:
      slot.done = true;
      return;
  }
}

}  // namespace ringkv::resp
