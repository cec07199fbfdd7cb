// History: every client operation of a run, as Jepsen records it, for the checkers.
//
// Keys are written once each (unique keys), so "the" put of a key is well defined and last
// write wins can never legitimately hide an acknowledged write. Outcomes:
//   ok    acknowledged (a put's WriteReply; a get's GetReply)
//   fail  definitely had no effect (UNAVAILABLE: refused before any replica was asked)
//   info  unknown (TIMEOUT, storage error, connection reset, coordinator crash): a put may or
//         may not have landed
// Values carry a checksum of their key and nonce, so a corrupted or misplaced value shows.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "storage/record.h"
#include "tests/sim/cluster/world.h"

namespace ringkv::cluster_sim {

enum class OpKind { kPut, kGet };
enum class Outcome { kPending, kOk, kFail, kInfo };

std::string_view outcome_name(Outcome outcome);

struct Op {
  OpKind kind = OpKind::kPut;
  int client = 0;  // -1: the checker's own reads after quiescence
  int coordinator = -1;
  std::string key;
  std::string value;  // put: the value written; get: the value returned
  SimTimeUs start_us = 0;
  SimTimeUs end_us = -1;
  Outcome outcome = Outcome::kPending;
  bool found = false;        // get: the key was found
  storage::Version version;  // ok put: the version assigned; ok get: the version returned
  std::string detail;        // error text, for reports
};

std::string describe(const Op& op);

// A value for `key` that carries its own checksum.
std::string make_value(const std::string& key, uint64_t nonce);
// True when `value` is a value make_value could have produced for `key`.
bool value_checks(const std::string& key, const std::string& value);

class History {
 public:
  size_t begin(Op op);
  Op& at(size_t index) { return ops_[index]; }
  const std::vector<Op>& ops() const { return ops_; }
  // The put of `key`, or nullptr.
  const Op* put_of(const std::string& key) const;
  // A digest of every operation (kind, key, value, coordinator, times, outcome, version).
  uint64_t digest() const;

 private:
  std::vector<Op> ops_;
  std::map<std::string, size_t> put_index_;
};

}  // namespace ringkv::cluster_sim
