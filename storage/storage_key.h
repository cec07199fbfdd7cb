// Ring positions and storage keys.
//
// The ring position of a user key is XXH64(key, seed 0), a value in
// [0, 2^64). The storage key is the 8-byte big-endian position followed by the
// user key, so every token range of the ring is one contiguous, ordered range
// of storage keys: streaming is a range scan and cleanup is a DeleteRange.
// Every module that places keys (ring, coordinator, CLI's `endpoints`) uses
// ring_position() from here so they all agree.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace ringkv::storage {

uint64_t ring_position(std::string_view user_key);

// 8-byte big-endian position + user key.
std::string storage_key(std::string_view user_key);
// The first storage key at or after `position` (its 8-byte big-endian form).
std::string position_prefix(uint64_t position);

// Splits a storage key; returns false when it is shorter than 8 bytes.
bool split_storage_key(std::string_view storage_key, uint64_t& position,
                       std::string_view& user_key);

}  // namespace ringkv::storage
