// Session: one RESP connection's command pipeline, without the socket.
//
// Turns parsed commands into the same wire requests the msgpack protocol
// carries (PutRequest, GetRequest, DeleteRequest, StatusRequest,
// StatsRequest) for NodeCore's coordinator, and assembles the RESP replies.
// The coordinator answers out of order; replies leave strictly in command
// order: each command owns a slot in a queue, and take_ready() hands out the
// finished slots at its head.
//
// Command semantics where ringkv differs from Redis (README "RESP"):
// - MSET writes each key as its own request (not atomic across keys); the
//   reply is +OK when every write succeeded, else the first error.
// - MGET and EXISTS read each key at the session's consistency; any failed
//   read fails the whole command with its error.
// - DEL reads the keys first, then deletes every key (a tombstone is
//   written even for a key the read did not find); the count is the keys
//   the read found. Not atomic with concurrent writers.
// - EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT (with NX|XX|GT|LT), PERSIST and
//   GETEX with an option read the key, then write its value again with the
//   new expiry (a new version; not atomic with concurrent writers, like
//   DEL). TTL/PTTL answer -2 (absent), -1 (no expiry) or the time left.
//   SET takes EX/PX/EXAT/PXAT; NX, XX, GET and KEEPTTL are refused. Parsing
//   and Redis's rules: expiry_commands.h.
// - SCAN, KEYS and DBSIZE cover the whole cluster (keyspace_commands.h);
//   DBSIZE is an estimate.
// - Errors from the cluster keep their name as the code word:
//   "-UNAVAILABLE ...", "-TIMEOUT ..." (the write may still land), "-BUSY ..."
//   (the node shed the request: nothing was done; node/core/admission.h).
//
// Authentication (users_required: the node has a users file), as Redis 6:
// before AUTH succeeds every command but AUTH and QUIT gets "-NOAUTH
// Authentication required."; `AUTH password` is user "default", `AUTH user
// password` names one; wrong credentials get "-WRONGPASS invalid
// username-password pair or user is disabled."; a `read` user's SET, MSET
// and DEL get "-NOPERM this user has no permissions to run the 'set'
// command". NodeCore verifies (an AuthRequest) and enforces roles again.
// Commands pipelined behind an unanswered AUTH wait in their slots and run
// once it is answered, with its outcome.
//
// Request ids are (command sequence << 20 | part) so a reply finds its slot
// in O(1); parts are bounded by Limits::arguments_max (< 2^19, validated).
// The number of unanswered commands is bounded by commands_in_flight_max:
// the owner stops parsing while !has_room(). Slots are reused (a ring), so a
// steady pipeline allocates none; an idle session keeps at most
// kSlotsKeptMax of them.
//
// Replies go straight into the caller's output buffer when they finish at
// the head of the queue (handle_reply's `out`), else wait in their slot.
//
// Pure: no I/O, no clock. Single-threaded.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "node/resp/command_name.h"
#include "node/resp/connection_commands.h"
#include "node/resp/expiry_commands.h"
#include "node/resp/limits.h"
#include "node/resp/recycling_ring.h"
#include "node/resp/request_parser.h"
#include "node/wire/message.h"

namespace ringkv::resp {

// What INFO reports about the node beyond what the core answers.
struct ServerInfo {
  std::string node_name;
  std::string listen;       // the node's own HOST:PORT (msgpack TCP and gossip UDP)
  std::string resp_listen;  // this RESP listener's HOST:PORT
  uint32_t process_id = 0;
};

struct SessionConfig {
  wire::Consistency consistency = wire::Consistency::kQuorum;
  Limits limits;
  size_t commands_in_flight_max = 1024;
  ServerInfo server;
  bool users_required = false;
};

class Session {
 public:
  // `config` is shared by every session of a server and outlives them;
  // `client_id` is the connection's CLIENT ID.
  explicit Session(const SessionConfig& config, uint64_t client_id = 0);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Accepts one parsed command (its bytes are copied where they are kept).
  // `uptime_s` is the node's uptime, for INFO. REQUIRES: accepting() and has_room().
  void handle_command(const Command& command, uint64_t uptime_s);
  // Queues "-ERR Protocol error: <reason>" after every earlier reply; the
  // session accepts nothing more and finishes once that reply is taken.
  void fail_protocol(std::string_view reason);

  // Moves the requests for the coordinator produced so far to the end of
  // `out`, in the order they must be handed over.
  void take_requests(std::vector<wire::Message>& out);
  // A reply NodeCore produced for one of this session's requests; then
  // appends the replies finished at the head of the queue to `out`, as
  // take_ready(). A reply that matches no waiting request is ignored.
  void handle_reply(wire::Message& reply, std::string& out);
  // Appends the replies finished at the head of the queue to `out`.
  void take_ready(std::string& out);

  bool accepting() const { return !closing_; }
  bool has_room() const { return slots_.size() < config_.commands_in_flight_max; }
  // True once no more commands are accepted (QUIT, protocol error) and every
  // reply was taken: the connection should close now.
  bool finished() const { return closing_ && slots_.empty(); }
  size_t commands_in_flight() const { return slots_.size(); }

 private:
  enum class Kind : uint8_t {
    kReady, kGet, kWrite, kMget, kExists, kDelete, kInfo, kAuth, kWaitingForAuth, kExpiry,
    kScan, kKeys, kDbSize,  // keyspace_commands.h; KEYS sends one page after another
  };
  // kExpiry: a read of one key, then for EXPIRE, PERSIST and GETEX a write of its value.

  // One command's place in the reply order.
  struct Slot {
    uint64_t sequence = 0;
    Kind kind = Kind::kReady;
    bool done = false;
    bool second_phase = false;  // DEL: the deletes are out; kExpiry: the write is out
    uint32_t outstanding = 0;
    // Parts of the current phase's requests lie in [part_first, part_end).
    uint32_t part_first = 0;
    uint32_t part_end = 0;
    int64_t count = 0;                               // EXISTS, DEL, DBSIZE; INFO: uptime; KEYS: bytes
    std::string reply;                               // the encoded reply once done
    std::optional<std::string> error;                // the first error, which becomes the reply
    std::vector<std::string> keys;                   // DEL: keys to delete; INFO: [section]; KEYS: found
    std::string pattern;                             // KEYS
    std::vector<std::optional<std::string>> values;  // MGET
    std::unique_ptr<wire::StatusReply> status;       // INFO
    std::unique_ptr<wire::StatsReply> stats;         // INFO
    std::vector<std::string> waiting;                // kWaitingForAuth: the command (count: uptime)
    ExpiryCommand expiry;                            // kExpiry: the parsed command
    CurrentExpiry current;                           // kExpiry: what the read found

    // Back to a new slot's state, keeping only small buffers for reuse.
    void recycle();
  };
  // An idle session keeps at most this many slots (a few KiB): enough for
  // redis-benchmark -P 16 to allocate none between its batches.
  static constexpr size_t kSlotsKeptMax = 16;

  Slot& open_slot();
  void finish_ready(Slot& slot, std::string reply);
  // The request for `part` of `slot`'s command, queued; the caller sets its body.
  wire::Message& new_request(Slot& slot, uint32_t part);
  void send(Slot& slot, uint32_t part, wire::Body body);
  void complete(Slot& slot);
  void dispatch(Slot& slot, const Command& command, uint64_t uptime_s);
  // Dispatches the commands that waited for an AUTH, until another AUTH waits.
  void run_waiting();
  // The reply that refuses `args` before it runs, if any (NOAUTH, NOPERM).
  std::optional<std::string> refusal(CommandName name, const Command& args) const;
  void authenticate(Slot& slot, const Command& args);
  // SET (with or without options), SETEX, PSETEX.
  void set(Slot& slot, CommandName name, const Command& args);
  // EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT, TTL, PTTL, PERSIST, GETEX: the read
  // (complete() does the rest).
  void start_expiry(Slot& slot, CommandName name, const Command& args);
  void complete_expiry(Slot& slot);
  // KEYS: takes one page, then asks for the next unless done or over the bound.
  void keys_page(Slot& slot, wire::ScanReply& page);

  const SessionConfig& config_;
  ConnectionIdentity identity_;
  RecyclingRing<Slot> slots_;
  uint64_t next_sequence_ = 1;
  std::vector<wire::Message> requests_;
  bool closing_ = false;
  bool auth_in_flight_ = false;
  bool authenticated_ = false;
  bool may_write_ = false;
};

// The RESP error line body for a coordinator error: "UNAVAILABLE ...",
// "TIMEOUT ...", "BUSY ...", or "ERR ..." for the rest.
std::string error_text(const wire::ErrorReply& error);

}  // namespace ringkv::resp
