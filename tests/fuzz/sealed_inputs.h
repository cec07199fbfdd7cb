// The input layout of the sealed-frame fuzz target (sealed_fuzz.cc), shared with the seed
// generator (seed_generator.cc):
//
//   input = mode(1) fields...      mode taken modulo 4
//   0 forged:    bytes (the rest)
//   1 datagram:  key(1) tamper_at(u16) tamper_mask(1) cut(u16) plaintext(field)
//   2 session:   flags(1) frame_limit(u16) count(1) message(field)*count answer(field)
//                tamper_at(u16) tamper_mask(1) next(field) forged(rest)
//   3 batch:     frame_limit(u16) bytes (the rest)
// (u16 little-endian; field = u16 length then bytes: fuzz_input.h). The keys are fixed so a
// run is reproducible and seeds sealed by the generator open in the target.
#pragma once

#include <cstdint>
#include <string>

#include "node/trust/keyring.h"

namespace ringkv::fuzz {

enum class SealedMode : uint8_t { kForged = 0, kDatagram = 1, kSession = 2, kBatch = 3 };
inline constexpr uint8_t kSealedModes = 4;

inline const std::string kSealedCluster = "fuzz";

inline trust::Key fixed_key(unsigned char fill) {
  trust::Key key;
  key.fill(fill);
  return key;
}
// The receiver's primary and its second installed key, and a key nobody installed.
inline const trust::Key kPrimaryKey = fixed_key(0x11);
inline const trust::Key kInstalledKey = fixed_key(0x22);
inline const trust::Key kOutsiderKey = fixed_key(0x33);

}  // namespace ringkv::fuzz
