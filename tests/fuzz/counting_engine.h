// CountingEngine: an Engine that forwards to another and counts the calls that change state
// (write, delete_range, put_hint, delete_hint, meta_put, open_identity, compact), so the NodeCore
// fuzz target can check that a refused message stored nothing.
#pragma once

#include <cstdint>

#include "storage/engine.h"

namespace ringkv::fuzz {

class CountingEngine : public storage::Engine {
 public:
  explicit CountingEngine(storage::Engine& inner) : inner_(inner) {}
  uint64_t mutations() const { return mutations_; }

  storage::Status write(const std::vector<std::pair<std::string, storage::Record>>& batch) override {
    ++mutations_;
    return inner_.write(batch);
  }
  storage::Result<std::optional<storage::Record>> read(std::string_view user_key) override {
    return inner_.read(user_key);
  }
  storage::Result<std::vector<std::optional<storage::Record>>> read_many(
      const std::vector<std::string>& user_keys) override {
    return inner_.read_many(user_keys);
  }
  storage::Result<storage::ScanBatch> scan(const storage::ScanRange& range, size_t max_entries,
                                           size_t max_bytes) override {
    return inner_.scan(range, max_entries, max_bytes);
  }
  storage::Status delete_range(uint64_t begin, uint64_t end) override {
    ++mutations_;
    return inner_.delete_range(begin, end);
  }
  storage::Status put_hint(const storage::Hint& hint) override {
    ++mutations_;
    return inner_.put_hint(hint);
  }
  storage::Result<std::vector<storage::Hint>> hints_for(std::string_view target, size_t max_hints,
                                                        uint64_t after_sequence) override {
    return inner_.hints_for(target, max_hints, after_sequence);
  }
  storage::Status delete_hint(std::string_view target, uint64_t sequence) override {
    ++mutations_;
    return inner_.delete_hint(target, sequence);
  }
  storage::Result<std::map<std::string, storage::HintTally>> hint_tallies() override {
    return inner_.hint_tallies();
  }
  storage::Result<std::optional<std::string>> meta_get(std::string_view name) override {
    return inner_.meta_get(name);
  }
  storage::Status meta_put(std::string_view name, std::string_view value) override {
    ++mutations_;
    return inner_.meta_put(name, value);
  }
  storage::Result<storage::Identity> open_identity(std::string_view new_node_id) override {
    ++mutations_;
    return inner_.open_identity(new_node_id);
  }
  storage::Status flush_wal() override { return inner_.flush_wal(); }
  storage::Status compact() override {
    ++mutations_;
    return inner_.compact();
  }
  storage::Stats stats() override { return inner_.stats(); }
  storage::Result<storage::SnapshotInfo> create_snapshot(std::string_view tag) override {
    ++mutations_;
    return inner_.create_snapshot(tag);
  }
  storage::Result<std::vector<storage::SnapshotInfo>> snapshots() override { return inner_.snapshots(); }
  storage::Status remove_snapshot(std::string_view tag) override {
    ++mutations_;
    return inner_.remove_snapshot(tag);
  }

 private:
  storage::Engine& inner_;
  uint64_t mutations_ = 0;
};

}  // namespace ringkv::fuzz
