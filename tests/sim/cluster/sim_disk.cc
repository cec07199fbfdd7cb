#include "tests/sim/cluster/sim_disk.h"

#include "storage/storage_key.h"

namespace ringkv::cluster_sim {
namespace {

storage::Options memory_options(std::function<uint64_t()> wall_clock_us) {
  storage::Options options;
  options.clock_us = std::move(wall_clock_us);
  return options;
}

}  // namespace

SimDisk::SimDisk(std::function<uint64_t()> wall_clock_us, World& world,
                 std::optional<SimTimeUs> planted_window_us)
    : storage::MemoryEngine(memory_options(std::move(wall_clock_us))),
      world_(world),
      planted_window_us_(planted_window_us) {}

storage::Status SimDisk::write(const std::vector<std::pair<std::string, storage::Record>>& batch) {
  std::vector<Undo> undos;
  for (const auto& [key, record] : batch) {
    auto before = Base::read(key);
    if (!before) return std::unexpected(before.error());
    undos.push_back(
        Undo{.change = Change::kData, .at_us = world_.now_us(), .key = key, .before = *before});
  }
  auto written = Base::write(batch);
  if (written) {
    for (auto& undo : undos) undo_.push_back(std::move(undo));
  }
  return written;
}

storage::Status SimDisk::put_hint(const storage::Hint& hint) {
  // Sequences come from a hybrid clock and never repeat, so a put adds a hint.
  auto put = Base::put_hint(hint);
  if (put) {
    hints_[{hint.target, hint.sequence}] = hint;
    undo_.push_back(Undo{.change = Change::kHintPut, .at_us = world_.now_us(), .hint = hint});
  }
  return put;
}

storage::Status SimDisk::delete_hint(std::string_view target, uint64_t sequence) {
  auto deleted = Base::delete_hint(target, sequence);
  auto it = hints_.find({std::string(target), sequence});
  if (deleted && it != hints_.end()) {
    undo_.push_back(
        Undo{.change = Change::kHintDelete, .at_us = world_.now_us(), .hint = it->second});
    hints_.erase(it);
  }
  return deleted;
}

storage::Status SimDisk::flush_wal() {
  auto flushed = Base::flush_wal();
  if (flushed) {
    flushed_ = undo_.size();
    trim();
  }
  return flushed;
}

void SimDisk::trim() {
  // Flushed changes are needed only while the plant may still take them back.
  const SimTimeUs keep_from =
      planted_window_us_ ? world_.now_us() - *planted_window_us_ : world_.now_us() + 1;
  while (flushed_ > 0 && undo_.front().at_us < keep_from) {
    undo_.pop_front();
    --flushed_;
  }
}

std::string SimDisk::undo(const Undo& undo) {
  const std::string when = " (from " + std::to_string(undo.at_us / kUsPerMs) + " ms)";
  switch (undo.change) {
    case Change::kData: {
      // The engine has no single-key delete: clear the key's ring position (one key, barring
      // a 64-bit hash collision), then put back what it held.
      const uint64_t position = storage::ring_position(undo.key);
      (void)Base::delete_range(position, position + 1);  // position + 1 == 0 means 2^64
      if (undo.before) (void)Base::write({{undo.key, *undo.before}});
      return "write of " + undo.key + when;
    }
    case Change::kHintPut:
      (void)Base::delete_hint(undo.hint.target, undo.hint.sequence);
      hints_.erase({undo.hint.target, undo.hint.sequence});
      return "hint of " + undo.hint.user_key + when;
    case Change::kHintDelete:
      (void)Base::put_hint(undo.hint);
      hints_[{undo.hint.target, undo.hint.sequence}] = undo.hint;
      return "deletion of the hint of " + undo.hint.user_key + when;
  }
  return "";
}

CrashLoss SimDisk::crash() {
  Base::simulate_crash();
  CrashLoss loss;
  // The unflushed tail: RocksDB may have written a prefix of its buffer out by itself.
  const size_t unflushed = undo_.size() - flushed_;
  const size_t survivors = unflushed == 0 ? 0 : world_.random().below(unflushed + 1);
  while (undo_.size() > flushed_ + survivors) {
    const Undo& last = undo_.back();
    if (last.change == Change::kHintPut) {
      loss.unflushed_hints.emplace_back(last.hint.user_key, last.hint.target);
    }
    loss.what.push_back(undo(last));
    undo_.pop_back();
    ++loss.unflushed;
  }
  if (planted_window_us_) {
    // Newest first, so a key changed twice in the window ends at what it held before both.
    const SimTimeUs window_start = world_.now_us() - *planted_window_us_;
    for (size_t i = flushed_; i-- > 0;) {
      if (undo_[i].at_us < window_start) break;
      loss.what.push_back(undo(undo_[i]) + " [plant]");
      ++loss.planted;
    }
  }
  undo_.clear();
  flushed_ = 0;
  return loss;
}

}  // namespace ringkv::cluster_sim
