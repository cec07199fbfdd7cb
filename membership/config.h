// Membership configuration: every knob of SWIM + Lifeguard, with units in the names.
//
// Defaults are hashicorp/memberlist's LAN configuration (probe 1 s, probe timeout 500 ms,
// 3 indirect checks, suspicion multiplier 4 with a maximum of 6x, gossip every 200 ms to 3
// nodes, retransmit multiplier 4, push-pull every 30 s). Tests shrink the intervals; the
// ratios are what matter. `validate()` must pass before a Swim is built from the Config.
//
// memberlist's DeadNodeReclaimTime has no counterpart here: members are keyed by node id, so a
// node that comes back at a new address is the same member at a higher incarnation, and a
// fresh id is a new member. Dead members stay in the table (and so in the ring) until an
// operator removes them with Swim::declare_left.
#pragma once

#include <cstddef>
#include <cstdint>
#include <expected>
#include <string>

namespace ringkv::membership {

// Milliseconds on the caller's monotonic clock. Only differences matter; the origin is the
// caller's choice.
using TimeMs = int64_t;

struct Config {
  // Every datagram and push-pull carries this; a different name is dropped and counted.
  std::string cluster_name = "ringkv";
  // The cluster-wide settings this node runs with (replicas per key, ...), opaque here and
  // compared byte for byte: every push-pull carries them, and one whose settings differ is
  // neither merged nor answered with a merge (take_settings_mismatches() reports it), so a
  // node started with other settings cannot join. Empty: not compared. At most
  // kSettingsBytesMax bytes.
  std::string settings;

  // Failure detection (SWIM).
  TimeMs probe_interval_ms = 1000;
  TimeMs probe_timeout_ms = 500;
  uint32_t indirect_checks = 3;

  // Suspicion (Lifeguard): the minimum timeout is
  // suspicion_mult * max(1, log10(members)) * probe_interval_ms; a fresh suspicion starts at
  // suspicion_max_timeout_mult times that and shrinks with independent confirmations.
  uint32_t suspicion_mult = 4;
  uint32_t suspicion_max_timeout_mult = 6;

  // Local health (Lifeguard): probe interval and timeout are multiplied by (score + 1), with
  // the score held in [0, awareness_max_multiplier - 1].
  uint32_t awareness_max_multiplier = 8;

  // Dissemination.
  TimeMs gossip_interval_ms = 200;
  uint32_t gossip_nodes = 3;
  // Dead members still receive gossip for this long, which lets a falsely accused node hear
  // about it and refute.
  TimeMs gossip_to_dead_ms = 30000;
  // An update is piggybacked retransmit_mult * ceil(log10(members + 1)) times.
  uint32_t retransmit_mult = 4;

  // Anti-entropy: full-state exchange with one random live member; the interval grows with
  // cluster size beyond 32 members, as memberlist's does.
  TimeMs push_pull_interval_ms = 30000;
  // Partition healing: this often, push-pull with one random dead or left member and with
  // every seed that the view does not show alive.
  TimeMs reconnect_interval_ms = 30000;

  // Join: retry every seed with exponential backoff until one push-pull succeeds.
  TimeMs join_retry_initial_ms = 1000;
  TimeMs join_retry_max_ms = 30000;

  // Graceful leave reports completion once the `left` update has been retransmitted its full
  // count, or after this long, whichever comes first.
  TimeMs leave_propagate_max_ms = 5000;

  // Clock offsets (clock_offset.h): a member whose wall clock is beyond doubt more than this
  // far from ours is reported (Swim::take_clock_warnings), at most once per member per
  // clock_offset_warning_interval_ms. 500 ms is CockroachDB's default --max-offset.
  TimeMs max_clock_offset_ms = 500;
  TimeMs clock_offset_warning_interval_ms = 60000;

  // Bounds.
  std::size_t datagram_bytes_max = 1400;
  std::size_t push_pull_bytes_max = 4 * 1024 * 1024;
  std::size_t members_max = 10000;
  // Ping-req relays in flight for other members.
  std::size_t relays_max = 256;
  // Outputs not yet drained by the caller; beyond this the oldest are dropped and counted.
  std::size_t outgoing_max = 4096;

  std::expected<void, std::string> validate() const;
};

}  // namespace ringkv::membership
