#include "tests/sim/cluster/checkers.h"

#include <cinttypes>
#include <cstdio>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>

#include "storage/storage_key.h"

namespace ringkv::cluster_sim {
namespace {

std::string version_text(const storage::Version& version) {
  char text[64];
  std::snprintf(text, sizeof(text), "%" PRIu64 "/%016" PRIx64, version.timestamp_us,
                version.tiebreak);
  return text;
}

std::string record_text(const std::optional<storage::Record>& record) {
  if (!record) return "absent";
  return (record->tombstone ? "tombstone " : "version ") + version_text(record->version);
}

// Every data entry of a node's disk, by user key.
std::map<std::string, storage::Record> all_data(storage::Engine& engine) {
  std::map<std::string, storage::Record> data;
  storage::ScanRange range;
  for (;;) {
    auto batch = engine.scan(range, 1024, 1 << 20);
    if (!batch) break;
    for (const auto& entry : batch->entries) {
      uint64_t position = 0;
      std::string_view user_key;
      if (storage::split_storage_key(entry.storage_key, position, user_key)) {
        data.emplace(std::string(user_key), entry.record);
      }
      range.after_storage_key = entry.storage_key;
    }
    if (batch->done || batch->entries.empty()) break;
  }
  return data;
}

}  // namespace

ReplicaCheck check_replicas(const History& history, Cluster& cluster, size_t replicas,
                            const Tolerances& tolerances) {
  ReplicaCheck check;
  std::vector<std::string>& violations = check.violations;
  auto violation = [&](std::string text) { violations.push_back(std::move(text)); };

  // The final ring: the first member's; every member's must be the same.
  const core::Ring* first = cluster.member_ring();
  if (first == nullptr) throw std::runtime_error("no member is up to check");
  const core::Ring& ring = *first;
  std::string first_name;
  for (int i : cluster.members()) {
    if (first_name.empty()) {
      first_name = cluster.node(i).name();
    } else if (!(*cluster.node(i).core().view().ring == ring)) {
      violation("C4 rings differ: " + cluster.node(i).name() + "'s ring is not " + first_name +
                "'s");
    }
  }

  // The name of the tolerance that excuses `replica` missing the write `put`, or "".
  auto excuse = [&](const Op& put, const core::RingNode& replica) -> std::string {
    if (tolerances.stand_in_hint_loss && cluster.stand_in_unconfirmed(put.key, replica.id)) {
      return "stand-in-hint-loss";
    }
    if (tolerances.unflushed_hints && cluster.unflushed_hint_lost(put.key, replica.id)) {
      return "unflushed-hints";
    }
    return "";
  };

  for (const Op& op : history.ops()) {
    if (op.kind != OpKind::kPut || op.outcome == Outcome::kFail) continue;
    const auto natural = ring.preference_list(storage::ring_position(op.key), replicas);
    std::vector<std::optional<storage::Record>> stored;
    std::string states;
    for (const core::RingNode* node : natural) {
      auto record = cluster.node(cluster.index_of_id(node->id)).disk().read(op.key);
      if (!record) throw std::runtime_error("storage read failed on " + node->name);
      stored.push_back(*record);
      states += " " + node->name + "=" + record_text(*record);
    }
    // What every natural replica should hold: an acknowledged write as acknowledged; for an
    // unknown outcome, the newest any replica holds (all absent is converged too).
    std::optional<storage::Record> expected;
    if (op.outcome == Outcome::kOk) {
      expected = storage::Record{op.version, false, op.value};
    } else {
      for (const auto& record : stored) {
        if (record && (!expected || expected->version < record->version)) expected = record;
      }
    }
    for (size_t i = 0; i < natural.size(); ++i) {
      if (stored[i] == expected) continue;
      if (const std::string name = excuse(op, *natural[i]); !name.empty()) {
        ++check.tolerated[name];
        continue;
      }
      if (op.outcome == Outcome::kOk) {
        violation("C1 acknowledged write missing from natural replica " + natural[i]->name + " (" +
                  record_text(stored[i]) + "); replicas:" + states + "; " + describe(op));
      } else {
        violation("C4 replica " + natural[i]->name + " of " + op.key +
                  " diverges; replicas:" + states + "; " + describe(op));
      }
    }
  }

  // C2: what the disks hold was written, as written.
  for (int i = 0; i < cluster.size(); ++i) {
    for (const auto& [key, record] : all_data(cluster.node(i).disk())) {
      const Op* put = history.put_of(key);
      const std::string where = " on n" + std::to_string(i);
      if (put == nullptr) {
        violation("C2 phantom key " + key + where);
      } else if (record.tombstone) {
        violation("C2 tombstone for never-deleted key " + key + where);
      } else if (record.value != put->value || !value_checks(key, record.value)) {
        violation("C2 corrupted value of " + key + where + ": " + describe(*put));
      } else if (put->outcome == Outcome::kFail) {
        violation("C2 a put refused as UNAVAILABLE was stored" + where + ": " + describe(*put));
      } else if (put->outcome == Outcome::kOk && record.version != put->version) {
        violation("C2 " + key + where + " has version " + version_text(record.version) +
                  ", its client was told " + version_text(put->version));
      }
    }
  }
  return check;
}

PlacementCheck check_placement(Cluster& cluster, size_t replicas) {
  PlacementCheck check;
  const core::Ring* ring = cluster.member_ring();
  if (ring == nullptr) throw std::runtime_error("no member is up to check");
  std::set<std::string> expected;
  for (int i : cluster.members()) expected.insert(cluster.node(i).id());
  std::set<std::string> in_ring;
  for (const core::RingNode& node : ring->nodes()) {
    in_ring.insert(node.id);
    if (!expected.contains(node.id)) {
      check.violations.push_back("C6 the final ring holds " + node.name + ", which is not a member");
    }
  }
  for (const std::string& id : expected) {
    if (!in_ring.contains(id)) {
      check.violations.push_back("C6 the final ring lacks member " + cluster.describe_id(id));
    }
  }
  for (int i : cluster.members()) {
    NodeHost& node = cluster.node(i);
    for (const auto& [key, record] : all_data(node.disk())) {
      ++check.copies;
      std::string names;
      bool owner = false;
      for (const core::RingNode* replica :
           ring->preference_list(storage::ring_position(key), replicas)) {
        owner = owner || replica->id == node.id();
        names += " " + replica->name;
      }
      if (!owner) {
        check.violations.push_back("C6 extra copy of " + key + " on " + node.name() +
                                   " after cleanup (" + record_text(record) +
                                   "); its replicas:" + names);
      }
    }
  }
  return check;
}

std::vector<std::string> check_final_reads(const History& history) {
  std::vector<std::string> violations;
  std::map<std::string, const Op*> final_read;
  for (const Op& op : history.ops()) {
    if (op.kind == OpKind::kGet && op.client < 0) final_read[op.key] = &op;
  }
  for (const Op& op : history.ops()) {
    if (op.kind != OpKind::kPut || op.outcome != Outcome::kOk) continue;
    auto it = final_read.find(op.key);
    if (it == final_read.end()) {
      violations.push_back("C1 acknowledged write never read back: " + describe(op));
      continue;
    }
    const Op& read = *it->second;
    if (read.outcome != Outcome::kOk || !read.found || read.value != op.value) {
      violations.push_back("C1 acknowledged write not readable at QUORUM after quiescence: " +
                           describe(op) + "; read: " + describe(read));
    }
  }
  return violations;
}

std::vector<std::string> check_reads(const History& history) {
  std::vector<std::string> violations;
  for (const Op& read : history.ops()) {
    if (read.kind != OpKind::kGet || read.outcome != Outcome::kOk) continue;
    const Op* put = history.put_of(read.key);
    if (put == nullptr) {
      violations.push_back("read of a key never written: " + describe(read));
      continue;
    }
    if (read.found && read.value != put->value) {
      violations.push_back("C2 read returned a value never written for its key: " + describe(read) +
                           "; " + describe(*put));
    }
    if (put->outcome == Outcome::kOk && put->end_us < read.start_us &&
        (!read.found || read.version < put->version)) {
      violations.push_back("C3 QUORUM read after an acknowledged QUORUM put missed it: " +
                           describe(read) + "; " + describe(*put));
    }
  }
  return violations;
}

}  // namespace ringkv::cluster_sim
