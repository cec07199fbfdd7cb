// Reading and writing a users file (format: users.h). Used by kvnode
// (--users) and by `kv users add|remove|list`.
//
// A users file holds password hashes: it is refused when its group or other
// users may read or write it, and it is always written with mode 0600
// (through a temporary file and a rename, so a reader never sees half).
#pragma once

#include <expected>
#include <string>
#include <vector>

#include "node/trust/users.h"

namespace ringkv::trust {

std::expected<std::vector<User>, std::string> load_users_file(const std::string& path);
std::expected<void, std::string> save_users_file(const std::string& path, const std::vector<User>& users);

// The first line of a password file, without its line ending. An empty
// password is an error. `warning` is set when others may read the file.
std::expected<std::string, std::string> read_password_file(const std::string& path, std::string& warning);

}  // namespace ringkv::trust
