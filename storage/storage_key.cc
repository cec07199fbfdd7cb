#include "storage/storage_key.h"

#include <xxhash.h>

#include "storage/big_endian.h"

namespace ringkv::storage {

uint64_t ring_position(std::string_view user_key) {
  return XXH64(user_key.data(), user_key.size(), 0);
}

std::string storage_key(std::string_view user_key) {
  std::string out;
  out.reserve(8 + user_key.size());
  append_be64(out, ring_position(user_key));
  out.append(user_key);
  return out;
}

std::string position_prefix(uint64_t position) {
  std::string out;
  append_be64(out, position);
  return out;
}

bool split_storage_key(std::string_view storage_key, uint64_t& position,
                       std::string_view& user_key) {
  if (storage_key.size() < 8) return false;
  position = read_be64(storage_key);
  user_key = storage_key.substr(8);
  return true;
}

}  // namespace ringkv::storage
