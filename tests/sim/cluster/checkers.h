// Checkers: judge a run's History and the cluster's final state (TESTING.md's C1-C4).
//
// check_replicas runs right after quiescence, BEFORE the checker's own reads, which would
// read-repair what they find and so hide a replica that hinted handoff failed to deliver:
//   C1 (local)  every ok put is on each of its N natural replicas (from the final ring, the
//               same on every node) with the exact value and version, read from each node's
//               disk directly, as `kv get --local` would;
//   C2          every value stored anywhere was attempted for that key with that value (no
//               phantom, no corruption: values carry a checksum); a key whose only put
//               failed (UNAVAILABLE) is stored nowhere; an ok put's version is the one its
//               client was told;
//   C4          the natural replicas of every key (ok and info puts) hold the same version;
//               and every node's ring is the same.
//               A replica that misses a write (C1 local, C4) may be excused by a tolerance
//               (tolerances.h) when the harness holds the evidence of that known defect for
//               that very replica. check_replicas runs after every member completed an
//               anti-entropy round that started after the heal (scenario.h).
// check_placement: C6 after a topology change and cleanup on every member: the final ring
//               holds exactly the members (every node whose role is member, none gone), and
//               no member holds a key the final ring does not give it (an extra copy). The
//               other half of C6, no copy missing, is C1 (local) and C4 above, which already
//               judge every key on the replicas of the final ring.
// check_final_reads: C1 (quorum) every ok put is readable at QUORUM after quiescence with
//               its value (the checker's reads, issued after check_replicas).
// check_reads:  C3 every ok QUORUM get that started after the ok put of its key ended
//               returned that put (found, version >= the put's, same value); and no ok get
//               ever returns a value that was not written for its key.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "tests/sim/cluster/cluster.h"
#include "tests/sim/cluster/history.h"
#include "tests/sim/cluster/tolerances.h"

namespace ringkv::cluster_sim {

struct ReplicaCheck {
  std::vector<std::string> violations;
  // Replica gaps excused by a tolerance, by tolerance name.
  std::map<std::string, uint64_t> tolerated;
};

ReplicaCheck check_replicas(const History& history, Cluster& cluster, size_t replicas,
                            const Tolerances& tolerances);

struct PlacementCheck {
  std::vector<std::string> violations;
  uint64_t copies = 0;  // (key, member) copies looked at
};
PlacementCheck check_placement(Cluster& cluster, size_t replicas);

std::vector<std::string> check_final_reads(const History& history);
std::vector<std::string> check_reads(const History& history);

}  // namespace ringkv::cluster_sim
