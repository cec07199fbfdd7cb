// Where a node keeps things under its data directory (kvnode --data DIR):
// the RocksDB database in DIR/db and its snapshots in DIR/snapshots/TAG (kv
// snapshot). DIR/keyring belongs to node/io/trust_context. Pure.
#pragma once

#include <filesystem>
#include <string>

namespace ringkv::node {

inline std::string database_path(const std::string& data) { return (std::filesystem::path(data) / "db").string(); }
inline std::string snapshots_path(const std::string& data) {
  return (std::filesystem::path(data) / "snapshots").string();
}

}  // namespace ringkv::node
