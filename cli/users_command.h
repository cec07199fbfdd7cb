// kv users add|remove|list: edit a users file (node/trust/users.h) locally;
// kvnode reads it at start (--users FILE). No node is contacted.
//
// add FILE NAME --role R --password-file PW: adds NAME, or replaces its
//   role and password; creates FILE (0600) when absent.
// remove FILE NAME: exit 1 when NAME is not in FILE.
// list FILE: one "NAME ROLE" line per user (--json: {"users": [{"name", "role"}]}).
// A file that cannot be read or parsed, or others may read, is exit 2.
#pragma once

#include <string>

#include "cli/options.h"

namespace ringkv::cli {

int run_users_add(const GlobalOptions& options, const std::string& file, const std::string& name,
                  const std::string& role, const std::string& password_file);
int run_users_remove(const GlobalOptions& options, const std::string& file, const std::string& name);
int run_users_list(const GlobalOptions& options, const std::string& file);

}  // namespace ringkv::cli
