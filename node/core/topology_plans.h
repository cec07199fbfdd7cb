// Helpers of Topology (topology.cc, topology_removal.cc): refusals, liveness,
// and stream plans from range moves. Internal to node/core.
#pragma once

#include <string>
#include <vector>

#include "membership/member.h"
#include "node/core/range_moves.h"
#include "node/core/streamer.h"
#include "node/wire/message.h"

namespace ringkv::core::topology_detail {

// A refused topology request: kInvalid with the reason (nothing changed).
wire::ErrorReply refuse(std::string message);
bool live(const membership::Member& m);
// Each of the range's storage scan ranges as a task of `kind` with these peers.
void add_tasks(std::vector<StreamTask>& tasks, StreamTask::Kind kind, const TokenRange& range,
               const std::vector<std::string>& peers);
// Pulls of a moved range from N - W + 1 of its current replicas (`from`,
// which may include a removed node that cannot serve), N the replicas per key
// and W = N/2 + 1 a QUORUM: any one replica may have missed a write the others
// acknowledged (a hint on its way, a coordinator that crashed), but a QUORUM
// write is on at least one of any N - W + 1. For N = 3 that is 2 sources
// (all there are when the ring holds only two replicas of the range); for
// N = 2, one, so a join never waits for a dead replica there.
// With `split`, large ranges are split so that several batches stream at
// once (the Streamer's window): a 2-node ring's join is one range of the
// whole ring. (Only joins split: removals stalled more often in the
// simulator with split pulls, not yet understood.)
void add_pulls(std::vector<StreamTask>& tasks, const RangeMove& move, const std::vector<std::string>& sources,
               size_t replicas, bool split);

}  // namespace ringkv::core::topology_detail
