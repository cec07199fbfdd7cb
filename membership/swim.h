// SWIM failure detection and gossip membership with the Lifeguard extensions, as a pure state
// machine (no sockets, no clocks, no threads, no global randomness).
//
// What it promises: every member's view converges on the same table of members (node id,
// name, address, incarnation, liveness, ring status, vnode count, protocol version). A member
// that stops answering is suspected after a failed direct and indirect probe and declared dead
// after the Lifeguard suspicion timeout unless it refutes; a member that hears it is suspected
// refutes by raising its incarnation. The merge rule is in member.h, the wire format in
// codec.h, the knobs in config.h.
//
// Thread model: not thread-safe. One owner (the node's event loop, or a simulator) calls
// every method from one thread. No method blocks or throws; malformed, truncated, oversized,
// foreign-cluster and unknown-version input is dropped, counted in stats() and reported as a
// DropReason, and never changes the view.
//
// Driving it: time is a value (TimeMs, monotonic milliseconds). tick() and handle_datagram()
// also take the wall clock (microseconds since the epoch; 0 when the owner has none), which
// only stamps pings and acks so that each node estimates its peers' clock offsets
// (clock_offset.h); nothing is timed by it. After any call that takes
// `now`, the owner drains take_outgoing() (UDP datagrams, each at most
// Config::datagram_bytes_max bytes), take_push_pull_requests() (payloads to send over TCP;
// the reply bytes go to handle_push_pull_reply), take_events(), take_clock_warnings(), and
// arms one timer for
// next_deadline(), calling tick() when it fires. Calling tick() early or late is harmless. A
// `now` earlier than one already passed in is taken as that latest time and counted in
// stats().time_went_backwards, so two clock sources that disagree slightly do no harm.
//
// Trust: without the cluster key (not this module's business) anyone can send datagrams, so
// no claim one node makes about another may put that member where it cannot refute it. A
// claim about member X counts as X's own only when it rides a datagram whose sender is X and
// that comes from X's address, or X's push-pull reply from the address we dialed as X's;
// every other claim (relayed gossip, push-pulls, anything from
// an unknown address) is third-party, and is refused and counted when it
//   - carries an incarnation at kIncarnationMax, or more than kIncarnationJumpMax (an
//     accusation: kAccusationJumpMax) above the one we know for X (member.h), so X can always
//     refute by going one higher and every view accepts the refutation when relayed;
//   - says X left while we hold X alive or suspect, unless it is a known member relaying
//     from its own address (X's own announcement may reach us only that way): only X
//     announces its own leave, and the removal protocol removes only members already dead
//     (node/core/topology_removal.cc), declaring them left through declare_left on every
//     member.
// X, running and not leaving, refutes any suspect, dead or left verdict about itself it
// hears, and a member that talks to us while we hold it suspect, dead or left is told so; a
// higher incarnation beats left, so every view recovers.
//
// Addresses are "HOST:PORT" strings and are opaque here. Randomness comes from a generator
// seeded by the caller, so a run replays exactly from its seed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <expected>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "membership/awareness.h"
#include "membership/broadcast_queue.h"
#include "membership/clock_offset.h"
#include "membership/codec.h"
#include "membership/config.h"
#include "membership/member.h"
#include "membership/random.h"
#include "membership/suspicion.h"

namespace ringkv::membership {

struct OutgoingDatagram {
  std::string address;
  std::string bytes;
};

struct PushPullRequest {
  std::string address;
  std::string bytes;
};

enum class EventKind {
  kJoined,   // first time this member is seen (its record says in which liveness)
  kAlive,    // a known member is alive again (after suspect, dead or left)
  kSuspect,  // a member became suspect
  kDead,     // a member was declared dead
  kLeft,     // a member left gracefully (or was removed with declare_left)
  kUpdated,  // same liveness, new attributes (ring status, address, vnode count, ...)
};
std::string_view to_string(EventKind kind);

// A push-pull with a node whose cluster settings differ from ours: nothing was merged.
// `we_asked`: it answered our push-pull (we are the one trying to join it), rather than
// asking us.
struct SettingsMismatch {
  std::string address;
  std::string theirs;
  bool we_asked = false;
};

struct Event {
  EventKind kind;
  Member member;  // the record after the change
};

// A newer record of a known member that names another rack: refused (a member's rack is fixed
// for the life of its id, since a new one would move data silently; see member.h).
struct RackConflict {
  Member known;              // the record we hold
  std::string claimed_rack;  // the rack the refused record names
};

// A member whose clock is off by more than Config::max_clock_offset_ms beyond doubt.
struct ClockWarning {
  Member member;
  ClockOffset offset;
};

enum class DropReason {
  kTruncated,
  kMalformed,
  kLimitExceeded,
  kUnknownVersion,
  kUnknownKind,
  kForeignCluster,
  kWrongTarget,  // a ping meant for another node id (the address changed hands)
  kOutOfRange,   // an incarnation or vnode count beyond its bound (member.h)
  kSettingsMismatch,  // a push-pull from a node with other cluster settings (Config::settings)
};
std::string_view to_string(DropReason reason);

struct Stats {
  // Inputs that decoded and were processed.
  uint64_t datagrams_received = 0;
  uint64_t datagram_bytes_received = 0;
  uint64_t push_pulls_received = 0;
  // Inputs dropped, by reason (datagrams and push-pulls together).
  uint64_t dropped_truncated = 0;
  uint64_t dropped_malformed = 0;
  uint64_t dropped_limit_exceeded = 0;
  uint64_t dropped_unknown_version = 0;
  uint64_t dropped_unknown_kind = 0;
  uint64_t dropped_foreign_cluster = 0;
  uint64_t dropped_settings_mismatch = 0;
  uint64_t dropped_wrong_target = 0;
  uint64_t dropped_out_of_range = 0;
  // Outputs.
  uint64_t datagrams_sent = 0;
  uint64_t datagram_bytes_sent = 0;
  uint64_t push_pull_requests_sent = 0;
  uint64_t outputs_dropped_undrained = 0;
  uint64_t time_went_backwards = 0;
  // Protocol activity.
  uint64_t probes_started = 0;
  uint64_t probes_acked = 0;
  uint64_t probes_failed = 0;
  uint64_t ping_reqs_sent = 0;
  uint64_t ping_reqs_relayed = 0;
  uint64_t relays_refused = 0;
  uint64_t nacks_received = 0;
  uint64_t acks_unmatched = 0;
  uint64_t suspicions_started = 0;
  uint64_t suspicion_confirmations = 0;
  uint64_t members_declared_dead = 0;
  uint64_t refutations = 0;
  uint64_t updates_applied = 0;
  uint64_t updates_ignored = 0;
  // Claims by one member about another that no honest node makes (see "Trust" in swim.h).
  uint64_t claims_refused_incarnation = 0;
  uint64_t claims_refused_left = 0;
  // Newer records of a known member naming another rack (RackConflict).
  uint64_t claims_refused_rack = 0;
  uint64_t members_refused_table_full = 0;
  uint64_t members_told_directly = 0;
  uint64_t clock_offset_samples = 0;
  uint64_t clock_offset_warnings = 0;

  uint64_t dropped_total() const;
};

class Swim {
 public:
  // `self` is this node's record (id, name, address, ring status, vnode count); its
  // incarnation and liveness are set here: incarnation starts at generation << 32 (see
  // member.h) and liveness at alive. `generation` is persisted by the caller and raised on
  // every restart. `rng_seed` seeds the only source of randomness.
  // Returns an error if the config or the record is invalid.
  static std::expected<Swim, std::string> create(Config config, Member self, uint32_t generation,
                                                 uint64_t rng_seed, TimeMs now);

  // Starts contacting `seed_addresses` (own address ignored) by push-pull, retrying with
  // exponential backoff until one exchange succeeds. With no other seed the node founds a
  // cluster and is joined at once. Seeds are also re-contacted periodically (see config.h).
  void join(std::vector<std::string> seed_addresses, TimeMs now);
  bool joined() const { return joined_; }

  // A UDP datagram from `from_address`; `wall_us` as for tick().
  std::expected<void, DropReason> handle_datagram(std::string_view from_address,
                                                  std::string_view bytes, TimeMs now,
                                                  uint64_t wall_us = 0);
  // The receiving side of a push-pull: merges the remote state and returns the reply bytes
  // (this node's state before the merge). On error the caller closes the connection.
  std::expected<std::string, DropReason> handle_push_pull_request(std::string_view from_address,
                                                                  std::string_view bytes,
                                                                  TimeMs now);
  // The reply to one of our take_push_pull_requests().
  std::expected<void, DropReason> handle_push_pull_reply(std::string_view from_address,
                                                         std::string_view bytes, TimeMs now);

  // Runs every timer that is due at `now`. `wall_us` (the wall clock, microseconds since the
  // epoch; 0: unknown) stamps the pings sent now.
  void tick(TimeMs now, uint64_t wall_us = 0);
  // The earliest time at which tick() has something to do.
  TimeMs next_deadline() const;

  std::vector<OutgoingDatagram> take_outgoing();
  std::vector<PushPullRequest> take_push_pull_requests();
  std::vector<Event> take_events();
  std::vector<ClockWarning> take_clock_warnings();
  // Records refused for changing a member's rack (at most outgoing_max kept).
  std::vector<RackConflict> take_rack_conflicts();
  // Push-pulls refused because the peer's settings differ (at most outgoing_max kept).
  std::vector<SettingsMismatch> take_settings_mismatches();

  // Publishes a new ring status (raises the incarnation so the change wins everywhere).
  void set_ring_status(RingStatus status, TimeMs now);
  // Graceful leave: broadcasts `left`, stops probing and anti-entropy, and reports
  // leave_complete() once the update has been retransmitted its full count (or after
  // Config::leave_propagate_max_ms). The owner then stops the node.
  void leave(TimeMs now);
  bool leave_complete() const { return leave_complete_; }
  // Operator removal of another member (removenode): gossips it as left at its current
  // incarnation. Only the member itself can override this, by returning at a higher one.
  // Returns false if the id is unknown or is this node.
  bool declare_left(std::string_view id, TimeMs now);
  // A member known from before a restart (the owner's remembered ring) that this table
  // lacks: added as dead at incarnation 0, and gossiped so, so that it can still be removed
  // when every node that saw it die has restarted since. Any claim by the member itself (a
  // running node's incarnation is above 0) or a `left` supersedes it. Returns false if the
  // id is known or is this node.
  bool remember_dead(Member member, TimeMs now);

  const Member& self() const { return self_; }
  // The whole table including this node, ordered by node id.
  std::vector<Member> members() const;
  std::optional<Member> member(std::string_view id) const;
  // The member's wall clock minus ours, from our recent probes of it; nullopt for this node,
  // an unknown member, or before an ack with both clocks set.
  std::optional<ClockOffset> clock_offset(std::string_view id) const;
  // Members (including this node) that are alive or suspect.
  std::size_t live_member_count() const;
  const Stats& stats() const { return stats_; }
  // Lifeguard local health score, 0 = healthy.
  int health_score() const { return awareness_.score(); }
  const Config& config() const { return config_; }

 private:
  struct MemberState {
    Member record;
    TimeMs changed_at_ms = 0;  // when the liveness last changed
    TimeMs told_at_ms = 0;     // when we last told it directly that it is suspect or dead
    bool told = false;
    TimeMs probed_at_ms = 0;  // when we last probed it
    ClockOffsetEstimator clock;
    std::optional<TimeMs> clock_warned_at_ms;
  };
  struct Probe {
    uint64_t seq = 0;
    std::string target_id;
    TimeMs sent_at_ms = 0;
    TimeMs ping_deadline_ms = 0;
    TimeMs period_end_ms = 0;
    bool indirect_sent = false;
    uint32_t nacks_expected = 0;
    uint32_t nacks_received = 0;
  };
  struct Relay {
    std::string requester_address;
    uint64_t requester_seq = 0;
    TimeMs nack_at_ms = 0;
  };
  // Who makes a claim: this node (its own verdicts and declare_left), the member the claim
  // is about (a datagram it sent from its address), or a third party.
  // kRelay: gossip from a known member, sent from the address we know it by.
  enum class Source { kLocal, kMember, kRelay, kGossip, kPushPull };
  // Lets the index be searched with a string_view, without building a string per lookup.
  struct IdHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view id) const { return std::hash<std::string_view>{}(id); }
  };

  Swim(Config config, Member self, uint64_t rng_seed, TimeMs now);

  // swim.cc
  // The time to act on: `now`, or the latest time seen if `now` is earlier.
  TimeMs observe_time(TimeMs now);
  PacketHeader header() const;
  void send(std::string address, std::string bytes);
  void send_packet(const std::string& address, const Body& body,
                   std::optional<std::string> forced_update = std::nullopt);
  void emit(EventKind kind, const Member& member);
  MemberState* find(std::string_view id);
  const MemberState* find(std::string_view id) const;
  std::expected<void, DropReason> count_drop(DecodeError error);
  std::expected<void, DropReason> count_drop(DropReason reason);

  // swim_probe.cc: failure detection.
  void tick_probe(TimeMs now);
  void start_probe(TimeMs now);
  void send_indirect_probes(TimeMs now);
  void finish_failed_probe(TimeMs now);
  void tick_relays(TimeMs now);
  void handle_ping(std::string_view from, const Ping& ping);
  void handle_ping_req(std::string_view from, const PingReq& request, TimeMs now);
  void handle_ack(const Ack& ack, std::string_view sender_id, TimeMs now);
  void take_clock_sample(MemberState& state, const Ack& ack, TimeMs sent_ms, TimeMs now);
  void handle_nack(const Nack& nack);
  std::optional<std::string> next_probe_target();
  void add_to_probe_order(const std::string& id);
  std::optional<std::string> suspect_to_probe() const;

  // swim_state.cc: merging claims into the table.
  bool apply(const Member& claim, std::string_view origin_id, Source source, TimeMs now);
  // False (and counted) when a third-party claim is one no honest node makes (see "Trust").
  bool plausible(const Member& claim, const MemberState* state, Source source);
  bool apply_about_self(const Member& claim, TimeMs now);
  bool add_member(const Member& claim, std::string_view origin_id, TimeMs now);
  void start_suspicion(const Member& member, std::string_view origin_id, TimeMs now);
  void suspect(const std::string& id, TimeMs now);
  void tick_suspicions(TimeMs now);
  void refute(uint64_t accused_incarnation, bool accused);
  void broadcast(const Member& member, std::string_view origin_id);
  void tell_if_accused(std::string_view from, const PacketHeader& header, TimeMs now);

  // swim_gossip.cc: dissemination, anti-entropy, join and leave.
  void tick_gossip(TimeMs now);
  void tick_push_pull(TimeMs now);
  void tick_reconnect(TimeMs now);
  void tick_join(TimeMs now);
  void tick_leave(TimeMs now);
  void request_push_pull(const std::string& address, bool join);
  std::string encode_state(bool join) const;
  // `reply_from`: the address a push-pull reply came from (we dialed it); its sender's own
  // record then counts as the member's own if that is the sender's address. Empty for
  // requests (the peer's TCP source port is not its address).
  void merge_state(const PushPull& remote, std::string_view reply_from, TimeMs now);
  std::expected<PushPull, DropReason> decode_state(std::string_view bytes);
  // True when `remote` carries settings that differ from ours (recorded and counted).
  bool settings_differ(const PushPull& remote, std::string_view address, bool we_asked);
  // Up to `count` distinct members for which `eligible` holds, chosen at random.
  std::vector<const MemberState*> random_members(
      std::size_t count, const std::function<bool(const MemberState&)>& eligible);
  bool is_gossip_target(const MemberState& state, TimeMs now) const;
  uint32_t transmit_limit() const;

  Config config_;
  Rng rng_;
  Member self_;
  Awareness awareness_;
  BroadcastQueue broadcasts_;
  TimeMs now_ms_;
  uint64_t wall_us_ = 0;  // the wall clock of the input being handled (0: unknown)

  // The table, without this node. `index_` maps node id to position in `members_`.
  std::vector<MemberState> members_;
  std::unordered_map<std::string, std::size_t, IdHash, std::equal_to<>> index_;
  std::map<std::string, Suspicion> suspicions_;

  // Round-robin probing over a shuffled list, reshuffled at the end of each pass.
  std::vector<std::string> probe_order_;
  std::size_t probe_cursor_ = 0;
  std::optional<Probe> probe_;
  // While anyone is suspect, every other probe goes to a suspect (see swim_probe.cc).
  bool probe_suspect_next_ = false;
  std::map<uint64_t, Relay> relays_;  // by the seq of our ping to the target
  uint64_t next_seq_;

  std::vector<std::string> seeds_;
  bool join_started_ = false;
  bool joined_ = false;
  TimeMs join_backoff_ms_;
  bool leaving_ = false;
  bool leave_complete_ = false;
  TimeMs leave_deadline_ms_ = 0;

  TimeMs next_probe_at_ms_;
  TimeMs next_gossip_at_ms_;
  TimeMs next_push_pull_at_ms_;
  TimeMs next_reconnect_at_ms_;
  TimeMs next_join_at_ms_ = 0;
  // Set while merging a datagram's claims when one of them is an outdated accusation of this
  // node; the sender then gets our current record directly.
  bool stale_accusation_heard_ = false;

  std::vector<OutgoingDatagram> outgoing_;
  std::vector<PushPullRequest> push_pull_requests_;
  std::vector<Event> events_;
  std::vector<ClockWarning> clock_warnings_;
  std::vector<RackConflict> rack_conflicts_;
  std::vector<SettingsMismatch> settings_mismatches_;
  Stats stats_;
};

}  // namespace ringkv::membership
