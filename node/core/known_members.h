// Known members: the ring as this node last saw it, kept in `meta` so a
// restarted node starts from it instead of from a ring of itself alone.
//
// Without it a node that restarts would, until gossip reaches it, see a ring
// holding only itself, and with N capped by the ring's size it would
// acknowledge QUORUM and ALL writes with a single copy. With it, the old
// members are in the ring from the first request, counted down until
// membership confirms them, so a write gets UNAVAILABLE rather than a false
// acknowledgement. Their addresses are also the restarted node's seeds.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "node/core/ring.h"

namespace ringkv::core {

// `meta` entry holding the encoded list.
inline constexpr std::string_view kKnownMembersMeta = "known_members";

// One line per node: hex id, name, address, vnodes and, when not the default rack, the rack,
// separated by tabs.
std::string encode_known_members(const std::vector<RingNode>& nodes);
// nullopt when the text is malformed (then it is ignored, not trusted).
std::optional<std::vector<RingNode>> decode_known_members(std::string_view text);

}  // namespace ringkv::core
