// restore_rocksdb_snapshot (engine.h): the offline swap of a snapshot into a
// stopped node's database. Works through open_rocksdb_engine() and plain
// file operations; RocksDB itself stays in rocksdb_engine.cc.
//
// Steps, each refusing before anything live changes:
// 1. open the live database (fails while the node holds its lock) and read
//    its node id and generation;
// 2. build PATH.restoring from the snapshot: table files (.sst, immutable) as
//    hard links, everything else copied, since RocksDB rewrites or deletes
//    its MANIFEST and WAL files when it opens a database;
// 3. open PATH.restoring, check the node id, write the generation;
// 4. PATH -> PATH.replaced, PATH.restoring -> PATH, remove PATH.replaced.
#include <filesystem>

#include "storage/engine.h"
#include "storage/engine_rules.h"
#include "storage/snapshot_folder.h"

namespace ringkv::storage {
namespace fs = std::filesystem;
namespace {

Error io_error(const std::string& what, const std::error_code& ec) {
  return Error{ec == std::errc::no_space_on_device ? ErrorKind::kNoSpace : ErrorKind::kIo, what + ": " + ec.message()};
}

struct StoredIdentity {
  std::optional<std::string> node_id;
  std::optional<std::string> generation;
};

Result<StoredIdentity> read_identity(const Options& options) {
  auto engine = open_rocksdb_engine(options);
  if (!engine) return std::unexpected(engine.error());
  StoredIdentity identity;
  auto node_id = (*engine)->meta_get(kMetaNodeId);
  if (!node_id) return std::unexpected(node_id.error());
  auto generation = (*engine)->meta_get(kMetaGeneration);
  if (!generation) return std::unexpected(generation.error());
  return StoredIdentity{*node_id, *generation};
}

Status link_or_copy(const fs::path& from_folder, const fs::path& to_folder) {
  std::error_code ec;
  fs::create_directories(to_folder, ec);
  if (ec) return std::unexpected(io_error("cannot create " + to_folder.string(), ec));
  for (fs::directory_iterator it(from_folder, ec), end; !ec && it != end; it.increment(ec)) {
    const fs::path target = to_folder / it->path().filename();
    std::error_code file_ec;
    if (it->path().extension() == ".sst") {
      fs::create_hard_link(it->path(), target, file_ec);
      if (!file_ec) continue;  // else another file system: copy it
    }
    file_ec.clear();
    fs::copy_file(it->path(), target, file_ec);
    if (file_ec) return std::unexpected(io_error("cannot copy " + it->path().string(), file_ec));
  }
  if (ec) return std::unexpected(io_error("cannot list " + from_folder.string(), ec));
  return {};
}

// Checks the node id and writes the generation into the staged database.
Result<uint64_t> adopt_identity(const Options& staged, const std::optional<StoredIdentity>& live) {
  auto engine = open_rocksdb_engine(staged);
  if (!engine) return std::unexpected(engine.error());
  auto node_id = (*engine)->meta_get(kMetaNodeId);
  if (!node_id) return std::unexpected(node_id.error());
  auto generation = (*engine)->meta_get(kMetaGeneration);
  if (!generation) return std::unexpected(generation.error());
  if (live && live->node_id && *node_id && *live->node_id != **node_id) {
    return std::unexpected(Error{ErrorKind::kInvalidArgument,
                                 "the snapshot belongs to another node (its node id differs from this data "
                                 "directory's); restore it into an empty data directory instead"});
  }
  auto restored = restored_generation(live ? live->generation : std::nullopt, *generation);
  if (!restored) return std::unexpected(restored.error());
  if (*restored > 0) {
    if (auto put = (*engine)->meta_put(kMetaGeneration, encode_generation(*restored)); !put) {
      return std::unexpected(put.error());
    }
  }
  return *restored;
}

}  // namespace

Result<RestoreReport> restore_rocksdb_snapshot(const Options& options, std::string_view tag) {
  auto folder = snapshot_folder(options.snapshots_path, tag);
  if (!folder) return std::unexpected(folder.error());
  if (!snapshot_complete(*folder)) {
    return std::unexpected(Error{ErrorKind::kInvalidArgument, "no snapshot " + std::string(tag) + " in " +
                                                                  options.snapshots_path});
  }
  const fs::path live_path = options.path;
  const fs::path staging = live_path.string() + ".restoring";
  const fs::path replaced = live_path.string() + ".replaced";
  const bool live_exists = snapshot_complete(live_path.string());  // a database has a CURRENT file too
  if (!live_exists && snapshot_complete(replaced.string())) {
    return std::unexpected(Error{ErrorKind::kInvalidArgument,
                                 "an earlier restore was interrupted: " + replaced.string() +
                                     " holds the node's data; rename it to " + live_path.string() + " first"});
  }
  std::optional<StoredIdentity> live;
  if (live_exists) {
    auto identity = read_identity(options);
    if (!identity) {
      return std::unexpected(Error{identity.error().kind, "cannot open the database at " + live_path.string() +
                                                              " (is the node still running? stop it first): " +
                                                              identity.error().message});
    }
    live = std::move(*identity);
  }

  std::error_code ec;
  fs::remove_all(staging, ec);  // left by an interrupted restore
  if (ec) return std::unexpected(io_error("cannot remove " + staging.string(), ec));
  auto staged_ok = link_or_copy(*folder, staging);
  Options staged = options;
  staged.path = staging.string();
  Result<uint64_t> generation = staged_ok ? adopt_identity(staged, live) : std::unexpected(staged_ok.error());
  if (!generation) {
    fs::remove_all(staging, ec);
    return std::unexpected(generation.error());
  }

  fs::remove_all(replaced, ec);
  if (!ec && live_exists) fs::rename(live_path, replaced, ec);
  if (!ec) fs::rename(staging, live_path, ec);
  if (ec) return std::unexpected(io_error("cannot swap " + staging.string() + " into " + live_path.string(), ec));
  fs::remove_all(replaced, ec);
  if (ec) return std::unexpected(io_error("restored, but cannot remove " + replaced.string(), ec));
  return RestoreReport{std::string(tag), *generation, live_exists};
}

}  // namespace ringkv::storage
