#include "cli/users_command.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "cli/json.h"
#include "node/trust/users_file.h"

namespace ringkv::cli {
namespace {

// The users in `file`, or none when `missing_is_empty` and it does not exist.
std::optional<std::vector<trust::User>> load(const std::string& file, bool missing_is_empty) {
  if (missing_is_empty && !std::filesystem::exists(file)) return std::vector<trust::User>{};
  auto users = trust::load_users_file(file);
  if (!users) {
    std::fprintf(stderr, "kv users: %s\n", users.error().c_str());
    return std::nullopt;
  }
  return std::move(*users);
}

int save(const std::string& file, const std::vector<trust::User>& users) {
  if (auto saved = trust::save_users_file(file, users); !saved) {
    std::fprintf(stderr, "kv users: %s\n", saved.error().c_str());
    return kExitUsage;
  }
  return kExitOk;
}

}  // namespace

int run_users_add(const GlobalOptions&, const std::string& file, const std::string& name, const std::string& role,
                  const std::string& password_file) {
  const auto parsed_role = trust::parse_role(role);
  if (!trust::valid_user_name(name) || !parsed_role) {
    std::fprintf(stderr, "kv users add: NAME is 1-64 of [A-Za-z0-9_.@-]; --role is read, readwrite or admin\n");
    return kExitUsage;
  }
  std::string warning;
  auto password = trust::read_password_file(password_file, warning);
  if (!warning.empty()) std::fprintf(stderr, "kv users add: warning: %s\n", warning.c_str());
  if (!password) {
    std::fprintf(stderr, "kv users add: %s\n", password.error().c_str());
    return kExitUsage;
  }
  auto hash = trust::hash_password(*password);
  auto users = load(file, /*missing_is_empty=*/true);
  if (!hash || !users) {
    if (!hash) std::fprintf(stderr, "kv users add: %s\n", hash.error().c_str());
    return kExitUsage;
  }
  auto existing = std::find_if(users->begin(), users->end(), [&](const trust::User& u) { return u.name == name; });
  const bool replaced = existing != users->end();
  if (replaced) {
    *existing = trust::User{name, *parsed_role, *hash};
  } else {
    users->push_back(trust::User{name, *parsed_role, *hash});
  }
  if (const int rc = save(file, *users); rc != kExitOk) return rc;
  std::printf("%s user %s (%s) in %s\n", replaced ? "updated" : "added", name.c_str(), role.c_str(), file.c_str());
  return kExitOk;
}

int run_users_remove(const GlobalOptions&, const std::string& file, const std::string& name) {
  auto users = load(file, /*missing_is_empty=*/false);
  if (!users) return kExitUsage;
  const auto removed = std::erase_if(*users, [&](const trust::User& u) { return u.name == name; });
  if (removed == 0) {
    std::fprintf(stderr, "kv users remove: no user %s in %s\n", name.c_str(), file.c_str());
    return kExitNotFound;
  }
  if (const int rc = save(file, *users); rc != kExitOk) return rc;
  std::printf("removed user %s from %s\n", name.c_str(), file.c_str());
  return kExitOk;
}

int run_users_list(const GlobalOptions& options, const std::string& file) {
  auto users = load(file, /*missing_is_empty=*/false);
  if (!users) return kExitUsage;
  if (options.json) {
    std::string json = "{\"users\": [";
    for (size_t i = 0; i < users->size(); ++i) {
      const trust::User& user = (*users)[i];
      json += (i ? ", " : "") + std::string("{\"name\": ") + json_string(user.name) +
              ", \"role\": " + json_string(std::string(trust::role_name(user.role))) + "}";
    }
    std::puts((json + "]}").c_str());
    return kExitOk;
  }
  for (const trust::User& user : *users) {
    std::printf("%s %s\n", user.name.c_str(), std::string(trust::role_name(user.role)).c_str());
  }
  return kExitOk;
}

}  // namespace ringkv::cli
