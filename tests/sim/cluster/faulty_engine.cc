#include "tests/sim/cluster/faulty_engine.h"

#include <utility>

namespace ringkv::cluster_sim {

FaultyEngine::FaultyEngine(storage::Engine& disk, World& world, StorageFaults& faults,
                           std::string address)
    : disk_(disk), world_(world), faults_(faults), address_(std::move(address)) {}

storage::Status FaultyEngine::draw_write_error(std::string_view what) {
  if (!faults_.active || !world_.random().chance(faults_.rates.write_error)) return {};
  ++faults_.counters.write_errors;
  const bool full = world_.random().chance(0.5);
  return std::unexpected(storage::Error{
      full ? storage::ErrorKind::kNoSpace : storage::ErrorKind::kIo,
      std::string(full ? "injected: no space left on device (" : "injected: I/O error (") +
          std::string(what) + ")"});
}

storage::Status FaultyEngine::draw_read_error(std::string_view what) {
  if (!faults_.active || !world_.random().chance(faults_.rates.read_error)) return {};
  ++faults_.counters.read_errors;
  return std::unexpected(
      storage::Error{storage::ErrorKind::kIo, "injected: read error (" + std::string(what) + ")"});
}

storage::Status FaultyEngine::write(
    const std::vector<std::pair<std::string, storage::Record>>& batch) {
  if (auto failed = draw_write_error("write"); !failed) return failed;
  unflushed_ = true;
  return disk_.write(batch);
}

storage::Result<std::optional<storage::Record>> FaultyEngine::read(std::string_view user_key) {
  if (auto failed = draw_read_error("read"); !failed) return std::unexpected(failed.error());
  return disk_.read(user_key);
}

storage::Result<std::vector<std::optional<storage::Record>>> FaultyEngine::read_many(
    const std::vector<std::string>& user_keys) {
  if (auto failed = draw_read_error("read_many"); !failed) return std::unexpected(failed.error());
  return disk_.read_many(user_keys);
}

storage::Result<storage::ScanBatch> FaultyEngine::scan(const storage::ScanRange& range,
                                                       size_t max_entries, size_t max_bytes) {
  if (auto failed = draw_read_error("scan"); !failed) return std::unexpected(failed.error());
  return disk_.scan(range, max_entries, max_bytes);
}

storage::Status FaultyEngine::put_hint(const storage::Hint& hint) {
  if (auto failed = draw_write_error("put_hint"); !failed) return failed;
  unflushed_ = true;
  return disk_.put_hint(hint);
}

storage::Result<std::vector<storage::Hint>> FaultyEngine::hints_for(std::string_view target,
                                                                    size_t max_hints,
                                                                    uint64_t after_sequence) {
  if (auto failed = draw_read_error("hints_for"); !failed) return std::unexpected(failed.error());
  return disk_.hints_for(target, max_hints, after_sequence);
}

storage::Status FaultyEngine::delete_hint(std::string_view target, uint64_t sequence) {
  if (auto failed = draw_write_error("delete_hint"); !failed) return failed;
  unflushed_ = true;
  return disk_.delete_hint(target, sequence);
}

storage::Status FaultyEngine::flush_wal() {
  if (faults_.active && unflushed_) {
    if (world_.random().chance(faults_.rates.crash_before_flush)) {
      ++faults_.counters.crashes;
      faults_.crash_requested(address_);
      return std::unexpected(
          storage::Error{storage::ErrorKind::kIo, "injected: the process dies before its flush"});
    }
    if (world_.random().chance(faults_.rates.flush_error)) {
      ++faults_.counters.flush_errors;
      return std::unexpected(storage::Error{storage::ErrorKind::kIo, "injected: flush failed"});
    }
  }
  auto flushed = disk_.flush_wal();
  if (flushed) unflushed_ = false;
  return flushed;
}

}  // namespace ringkv::cluster_sim
