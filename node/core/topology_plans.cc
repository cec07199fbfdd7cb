#include "node/core/topology_plans.h"

#include <algorithm>

namespace ringkv::core::topology_detail {
namespace {

// Pull ranges wider than this many positions (1/64 of the ring) are split,
// into at most kPiecesMax pieces.
constexpr uint64_t kPieceSize = uint64_t{1} << 58;
constexpr uint64_t kPiecesMax = 64;

}  // namespace

wire::ErrorReply refuse(std::string message) {
  return wire::ErrorReply{wire::ErrorCode::kInvalid, std::move(message)};
}

bool live(const membership::Member& m) {
  return m.liveness == membership::Liveness::kAlive || m.liveness == membership::Liveness::kSuspect;
}

void add_tasks(std::vector<StreamTask>& tasks, StreamTask::Kind kind, const TokenRange& range,
               const std::vector<std::string>& peers) {
  if (peers.empty()) return;
  for (const PositionRange& part : scan_ranges(range)) tasks.push_back(StreamTask{kind, part, peers});
}

void add_pulls(std::vector<StreamTask>& tasks, const RangeMove& move, const std::vector<std::string>& sources,
               size_t replicas, bool split) {
  if (sources.empty()) return;
  // A QUORUM write reached W = N/2 + 1 of the key's N replicas; any N - W + 1
  // of them hold it. Counted against N, not against the range's replicas
  // now: a ring smaller than N, or a member removed since, leaves fewer.
  const size_t needed = replicas - (replicas / 2 + 1) + 1;
  for (const PositionRange& part : scan_ranges(move.range)) {
    const uint64_t size = part.end - part.begin;  // wraps to the right size for end 0
    const uint64_t pieces =
        !split ? 1 : size == 0 ? kPiecesMax : std::clamp<uint64_t>(size / kPieceSize, 1, kPiecesMax);
    const uint64_t step = pieces == 1 ? size : (size == 0 ? (~uint64_t{0} / pieces) + 1 : size / pieces);
    for (uint64_t i = 0; i < pieces; ++i) {
      const uint64_t begin = part.begin + i * step;
      const uint64_t end = i + 1 == pieces ? part.end : begin + step;
      tasks.push_back(StreamTask{StreamTask::Kind::kPull, PositionRange{begin, end}, sources,
                                 std::min(needed, sources.size())});
    }
  }
}

}  // namespace ringkv::core::topology_detail
