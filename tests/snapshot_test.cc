// Snapshots (Engine::create_snapshot, snapshots, remove_snapshot) and their
// restore, run against both engines: a restore brings back exactly what the
// snapshot held (deleted keys return, later writes go), hints and meta
// included, and the node's generation never goes back.
#include <doctest/doctest.h>

#include <filesystem>
#include <string>

#include "storage/engine.h"
#include "storage/memory_engine.h"
#include "storage/snapshot_tag.h"
#include "storage_fixtures.h"

namespace ringkv::storage {
namespace {

void expect_invalid(const Status& status, std::string_view words) {
  REQUIRE_FALSE(status.has_value());
  CHECK(status.error().kind == ErrorKind::kInvalidArgument);
  CHECK_MESSAGE(status.error().message.find(words) != std::string::npos, status.error().message);
}

Status status_of(const Result<SnapshotInfo>& result) {
  if (!result) return std::unexpected(result.error());
  return {};
}

}  // namespace

TEST_CASE("snapshot tags are letters, digits, dot, dash and underscore, bounded, never a path") {
  CHECK_FALSE(snapshot_tag_problem("before-upgrade_2.1"));
  CHECK_FALSE(snapshot_tag_problem(std::string(kSnapshotTagBytesMax, 'a')));
  CHECK(snapshot_tag_problem(""));
  CHECK(snapshot_tag_problem(std::string(kSnapshotTagBytesMax + 1, 'a')));
  CHECK(snapshot_tag_problem(".."));
  CHECK(snapshot_tag_problem(".hidden"));
  CHECK(snapshot_tag_problem("a/b"));
  CHECK(snapshot_tag_problem("a/../../etc"));
  CHECK(snapshot_tag_problem("tag with space"));
  CHECK(snapshot_tag_problem("x.tmp"));
}

TEST_CASE("the default snapshot tag is the UTC time with milliseconds, and a valid tag") {
  // 2023-11-14T22:13:20.123 UTC
  const std::string tag = default_snapshot_tag(kStartUs + 123'456);
  CHECK(tag == "20231114T221320.123Z");
  CHECK_FALSE(snapshot_tag_problem(tag));
}

ENGINE_TEST("a restored snapshot holds exactly what the engine held when it was made") {
  Fixture fixture;
  Engine& engine = fixture.engine();
  ok(engine.open_identity(node_id('n')));
  ok(engine.write({{"kept", live(kStartUs, "v1")}, {"overwritten", live(kStartUs, "old")},
                   {"deleted", live(kStartUs, "back")}}));
  ok(engine.put_hint(Hint{node_id('h'), 1, "hinted", live(kStartUs, "hint")}));
  ok(engine.meta_put("state", "at snapshot"));
  const SnapshotInfo info = ok(engine.create_snapshot("s1"));
  CHECK(info.tag == "s1");
  CHECK(info.bytes > 0);

  ok(engine.write({{"overwritten", live(kStartUs + 1, "new")}, {"deleted", tombstone(kStartUs + 1)},
                   {"later", live(kStartUs + 1, "gone")}}));
  ok(engine.delete_hint(node_id('h'), 1));
  ok(engine.meta_put("state", "after"));

  ok(fixture.restore("s1"));
  Engine& restored = fixture.engine();
  CHECK(ok(restored.read("kept")) == live(kStartUs, "v1"));
  CHECK(ok(restored.read("overwritten")) == live(kStartUs, "old"));
  CHECK(ok(restored.read("deleted")) == live(kStartUs, "back"));
  CHECK(ok(restored.read("later")) == std::nullopt);
  CHECK(ok(restored.hints_for(node_id('h'), 10, 0)).size() == 1);
  CHECK(ok(restored.meta_get("state")) == "at snapshot");
  // The snapshot stays, so it can be restored again.
  CHECK(ok(restored.snapshots()).size() == 1);
}

ENGINE_TEST("a node restored from an old snapshot starts with a generation above every earlier one") {
  Fixture fixture;
  CHECK(ok(fixture.engine().open_identity(node_id('n'))).generation == 1);
  ok(fixture.engine().create_snapshot("at-generation-1"));
  ok(fixture.engine().open_identity(node_id('x')));
  CHECK(ok(fixture.engine().open_identity(node_id('x'))).generation == 3);
  ok(fixture.restore("at-generation-1"));
  const Identity identity = ok(fixture.engine().open_identity(node_id('x')));
  CHECK(identity.node_id == node_id('n'));
  CHECK(identity.generation == 4);
}

ENGINE_TEST("snapshots are listed by tag, removed by tag, and a taken or bad tag is refused") {
  Fixture fixture;
  Engine& engine = fixture.engine();
  ok(engine.write({{"k", live(kStartUs, "v")}}));
  ok(engine.create_snapshot("b"));
  ok(engine.create_snapshot("a"));
  expect_invalid(status_of(engine.create_snapshot("a")), "exists");
  expect_invalid(status_of(engine.create_snapshot("../escape")), "snapshot tag");
  expect_invalid(status_of(engine.create_snapshot("")), "empty");

  const std::vector<SnapshotInfo> listed = ok(engine.snapshots());
  REQUIRE(listed.size() == 2);
  CHECK(listed[0].tag == "a");
  CHECK(listed[1].tag == "b");
  CHECK(listed[0].created_us > 0);

  ok(engine.remove_snapshot("a"));
  expect_invalid(engine.remove_snapshot("a"), "no snapshot a");
  expect_invalid(engine.remove_snapshot(".."), "snapshot tag");
  REQUIRE(ok(engine.snapshots()).size() == 1);
  CHECK(ok(engine.snapshots())[0].tag == "b");
  expect_invalid(fixture.restore("a"), "no snapshot a");
}

TEST_CASE("a RocksDB restore is refused while the database is open, and changes nothing") {
  RocksDbFixture fixture;
  ok(fixture.engine().open_identity(node_id('n')));
  ok(fixture.engine().write({{"k", live(kStartUs, "before")}}));
  ok(fixture.engine().create_snapshot("s"));
  ok(fixture.engine().write({{"k", live(kStartUs + 1, "after")}}));
  const Result<RestoreReport> report = restore_rocksdb_snapshot(fixture.options(), "s");
  REQUIRE_FALSE(report.has_value());
  CHECK_MESSAGE(report.error().message.find("still running") != std::string::npos, report.error().message);
  CHECK(ok(fixture.engine().read("k")) == live(kStartUs + 1, "after"));
  CHECK_FALSE(std::filesystem::exists(fixture.options().path + ".restoring"));
}

TEST_CASE("a RocksDB restore after one killed between its two renames is refused, naming the data's folder") {
  RocksDbFixture fixture;
  ok(fixture.engine().open_identity(node_id('n')));
  ok(fixture.engine().create_snapshot("s"));
  fixture.close();
  const std::string path = fixture.options().path;
  std::filesystem::rename(path, path + ".replaced");
  const Result<RestoreReport> report = restore_rocksdb_snapshot(fixture.options(), "s");
  REQUIRE_FALSE(report.has_value());
  CHECK_MESSAGE(report.error().message.find(path + ".replaced holds the node's data") != std::string::npos,
                report.error().message);
  CHECK_FALSE(std::filesystem::exists(path));
  std::filesystem::rename(path + ".replaced", path);
  ok(restore_rocksdb_snapshot(fixture.options(), "s"));
}

TEST_CASE("a RocksDB snapshot of another node is refused, and restores into an empty data directory") {
  RocksDbFixture source;
  ok(source.engine().open_identity(node_id('s')));
  ok(source.engine().write({{"k", live(kStartUs, "from source")}}));
  ok(source.engine().create_snapshot("s"));

  RocksDbFixture other;
  ok(other.engine().open_identity(node_id('o')));
  std::filesystem::copy(source.options().snapshots_path, other.options().snapshots_path,
                        std::filesystem::copy_options::recursive);
  expect_invalid(other.restore("s"), "another node");
  CHECK(ok(other.engine().read("k")) == std::nullopt);

  // A replacement machine: an empty data directory takes the snapshot's identity.
  Options empty = other.options();
  empty.path = other.options().path + "-empty";
  const RestoreReport report = ok(restore_rocksdb_snapshot(empty, "s"));
  CHECK_FALSE(report.replaced_data);
  {
    auto engine = ok(open_rocksdb_engine(empty));
    CHECK(ok(engine->read("k")) == live(kStartUs, "from source"));
    CHECK(ok(engine->open_identity(node_id('z'))).node_id == node_id('s'));
  }
  std::filesystem::remove_all(empty.path);
}

}  // namespace ringkv::storage
