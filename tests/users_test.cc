// Users file: parsing, formatting, permissions, hashing and verification.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "node/trust/users.h"
#include "node/trust/users_file.h"

using namespace ringkv;

namespace {

std::string temporary_path(const std::string& name) {
  return "/tmp/ringkv_users_test_" + std::to_string(getpid()) + "_" + name;
}

void write_file(const std::string& path, const std::string& text, mode_t mode) {
  std::ofstream(path) << text;
  chmod(path.c_str(), mode);
}

}  // namespace

TEST_CASE("roles parse by their exact names only") {
  CHECK(trust::parse_role("read") == trust::Role::kRead);
  CHECK(trust::parse_role("readwrite") == trust::Role::kReadWrite);
  CHECK(trust::parse_role("admin") == trust::Role::kAdmin);
  CHECK_FALSE(trust::parse_role("Admin"));
  CHECK_FALSE(trust::parse_role(""));
  CHECK(trust::role_name(trust::Role::kReadWrite) == "readwrite");
}

TEST_CASE("a users file round-trips through format and parse, skipping comments and blank lines") {
  const std::string hash = *trust::hash_password("secret");
  CHECK(hash.starts_with("$argon2id$"));
  std::vector<trust::User> users{{"alice", trust::Role::kAdmin, hash}, {"bob", trust::Role::kRead, hash}};
  auto parsed = trust::parse_users("# comment\n\n" + trust::format_users(users));
  REQUIRE(parsed.has_value());
  REQUIRE(parsed->size() == 2);
  CHECK((*parsed)[0].name == "alice");
  CHECK((*parsed)[0].role == trust::Role::kAdmin);
  CHECK((*parsed)[1].hash == hash);
}

TEST_CASE("bad users lines are refused with their line number") {
  const std::string hash = *trust::hash_password("secret");
  CHECK(trust::parse_users("alice:admin\n").error().starts_with("line 1"));
  CHECK(trust::parse_users("\nalice:root:" + hash + "\n").error().starts_with("line 2"));
  CHECK_FALSE(trust::parse_users("ali ce:read:" + hash + "\n"));
  CHECK_FALSE(trust::parse_users("alice:read:plaintext\n"));
  CHECK_FALSE(trust::parse_users("alice:read:" + hash + "\nalice:admin:" + hash + "\n"));
}

TEST_CASE("a password verifies for its user only, and a repeated login is answered from the cache") {
  trust::UserTable table({{"alice", trust::Role::kReadWrite, *trust::hash_password("right")}});
  CHECK(table.verify("alice", "right") == trust::Role::kReadWrite);
  CHECK_FALSE(table.verify("alice", "wrong"));
  CHECK_FALSE(table.verify("mallory", "right"));
  CHECK_FALSE(table.verify("alice", ""));
  CHECK(table.verify("alice", "right") == trust::Role::kReadWrite);
}

TEST_CASE("a users file others may read is refused; one saved by us is 0600 and loads") {
  const std::string path = temporary_path("users");
  const std::vector<trust::User> users{{"alice", trust::Role::kAdmin, *trust::hash_password("pw")}};
  write_file(path, trust::format_users(users), 0644);
  auto refused = trust::load_users_file(path);
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().find("chmod 600") != std::string::npos);

  REQUIRE(trust::save_users_file(path, users).has_value());
  struct stat info{};
  REQUIRE(stat(path.c_str(), &info) == 0);
  CHECK((info.st_mode & 0777) == 0600);
  auto loaded = trust::load_users_file(path);
  REQUIRE(loaded.has_value());
  CHECK(loaded->at(0).name == "alice");
  std::remove(path.c_str());
  CHECK_FALSE(trust::load_users_file(path).has_value());
}

TEST_CASE("a password file gives its first line without the line ending, and warns when world-readable") {
  const std::string path = temporary_path("password");
  write_file(path, "s3cret\r\nignored\n", 0600);
  std::string warning;
  CHECK(trust::read_password_file(path, warning) == "s3cret");
  CHECK(warning.empty());
  write_file(path, "s3cret\n", 0644);
  CHECK(trust::read_password_file(path, warning) == "s3cret");
  CHECK_FALSE(warning.empty());
  write_file(path, "\n", 0600);
  CHECK_FALSE(trust::read_password_file(path, warning).has_value());
  std::remove(path.c_str());
}
