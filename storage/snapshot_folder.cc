#include "storage/snapshot_folder.h"

#include <algorithm>
#include <chrono>
#include <filesystem>

#include "storage/snapshot_tag.h"

namespace ringkv::storage {
namespace fs = std::filesystem;
namespace {

Error invalid(std::string message) { return Error{ErrorKind::kInvalidArgument, std::move(message)}; }
Error io_error(const std::string& what, const std::error_code& ec) {
  return Error{ec == std::errc::no_space_on_device ? ErrorKind::kNoSpace : ErrorKind::kIo, what + ": " + ec.message()};
}

}  // namespace

Result<std::string> snapshot_folder(const std::string& root, std::string_view tag) {
  if (root.empty()) return std::unexpected(invalid("this engine keeps no snapshots"));
  if (auto problem = snapshot_tag_problem(tag)) return std::unexpected(invalid(*problem));
  return (fs::path(root) / std::string(tag)).string();
}

bool snapshot_complete(const std::string& folder) {
  std::error_code ec;
  return fs::is_regular_file(fs::path(folder) / "CURRENT", ec);
}

Result<SnapshotInfo> snapshot_info(const std::string& root, std::string_view tag) {
  auto folder = snapshot_folder(root, tag);
  if (!folder) return std::unexpected(folder.error());
  if (!snapshot_complete(*folder)) return std::unexpected(invalid("no snapshot " + std::string(tag)));
  SnapshotInfo info{std::string(tag), 0, 0};
  std::error_code ec;
  const auto modified = fs::last_write_time(*folder, ec);
  if (ec) return std::unexpected(io_error("cannot read the time of " + *folder, ec));
  info.created_us = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                              std::chrono::file_clock::to_sys(modified).time_since_epoch())
                                              .count());
  for (fs::directory_iterator it(*folder, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code size_ec;
    if (it->is_regular_file(size_ec)) info.bytes += it->file_size(size_ec);
  }
  if (ec) return std::unexpected(io_error("cannot list " + *folder, ec));
  return info;
}

Result<std::vector<SnapshotInfo>> list_snapshot_folders(const std::string& root) {
  std::vector<SnapshotInfo> snapshots;
  if (root.empty()) return std::unexpected(invalid("this engine keeps no snapshots"));
  std::error_code ec;
  if (!fs::exists(root, ec)) return snapshots;
  for (fs::directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string tag = it->path().filename().string();
    // Anything else in the folder (a checkpoint being made, TAG.tmp) is not a snapshot.
    if (snapshot_tag_problem(tag) || !snapshot_complete(it->path().string())) continue;
    auto info = snapshot_info(root, tag);
    if (!info) return std::unexpected(info.error());
    snapshots.push_back(std::move(*info));
  }
  if (ec) return std::unexpected(io_error("cannot list " + root, ec));
  std::sort(snapshots.begin(), snapshots.end(),
            [](const SnapshotInfo& a, const SnapshotInfo& b) { return a.tag < b.tag; });
  return snapshots;
}

Status remove_snapshot_folder(const std::string& root, std::string_view tag) {
  auto folder = snapshot_folder(root, tag);
  if (!folder) return std::unexpected(folder.error());
  std::error_code ec;
  if (!fs::is_directory(*folder, ec)) return std::unexpected(invalid("no snapshot " + std::string(tag)));
  fs::remove_all(*folder, ec);
  if (ec) return std::unexpected(io_error("cannot remove " + *folder, ec));
  return {};
}

}  // namespace ringkv::storage
