// Users: client credentials and roles (DESIGN.md "Trust").
//
// A users file holds one line per user, `name:role:hash`, where hash is
// libsodium's crypto_pwhash_str output ($argon2id$..., interactive limits);
// blank lines and lines starting with '#' are ignored. Roles, each allowing
// what the previous one does:
//   read       get, status, endpoints, ring, stats
//   readwrite  + put, del
//   admin      + decommission, removenode, cleanup (and keys, snapshots)
// A client credential is never an internode key: the node's dispatch checks
// roles for client requests only, and internode requests need a peer
// channel whatever the client presented (node/core/channel.h).
//
// UserTable verifies a name and password. crypto_pwhash_str_verify is slow
// by design (tens of milliseconds); a successful pair is remembered as a
// BLAKE2b digest of the password (one per user, so the cache is bounded by
// the table), and a later login with the same pair costs a hash. A failed
// attempt always pays the full price.
//
// Thread model: single-threaded; UserTable is owned by NodeCore.
#pragma once

#include <cstdint>
#include <expected>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ringkv::trust {

enum class Role : uint8_t { kRead = 1, kReadWrite = 2, kAdmin = 3 };

// "read" | "readwrite" | "admin"; nullopt for anything else.
std::optional<Role> parse_role(std::string_view text);
std::string_view role_name(Role role);

struct User {
  std::string name;  // non-empty, no ':' nor whitespace
  Role role = Role::kRead;
  std::string hash;  // crypto_pwhash_str output
};

// Checks a user name: 1..64 bytes of [A-Za-z0-9_.@-].
bool valid_user_name(std::string_view name);

// Parses a users file's text; the error names the first bad line.
std::expected<std::vector<User>, std::string> parse_users(std::string_view text);
// The file text for `users`, one line each, in the given order.
std::string format_users(const std::vector<User>& users);

// A new random password: 24 characters of URL-safe base64 (144 bits).
std::string random_password();

// crypto_pwhash_str with OPSLIMIT_INTERACTIVE / MEMLIMIT_INTERACTIVE.
std::expected<std::string, std::string> hash_password(std::string_view password);

class UserTable {
 public:
  explicit UserTable(std::vector<User> users);

  // The user's role when `password` is theirs; nullopt otherwise (unknown
  // user and wrong password look the same and cost the same).
  std::optional<Role> verify(std::string_view name, std::string_view password);
  size_t size() const { return users_.size(); }

 private:
  std::map<std::string, User, std::less<>> users_;
  // Users whose password verified: name -> BLAKE2b-256(password).
  std::map<std::string, std::string, std::less<>> verified_;
  // A real hash to verify against for unknown users, so they cost the same.
  std::string decoy_hash_;
};

}  // namespace ringkv::trust
