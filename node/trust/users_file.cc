#include "node/trust/users_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace ringkv::trust {
namespace {

constexpr mode_t kGroupOrOthers = S_IRGRP | S_IWGRP | S_IROTH | S_IWOTH;

std::string system_error(const std::string& what, const std::string& path) {
  return what + " " + path + ": " + std::strerror(errno);
}

std::expected<std::string, std::string> read_whole(const std::string& path, mode_t& mode) {
  struct stat info{};
  if (stat(path.c_str(), &info) != 0) return std::unexpected(system_error("cannot read", path));
  mode = info.st_mode;
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::unexpected(system_error("cannot open", path));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

std::expected<std::vector<User>, std::string> load_users_file(const std::string& path) {
  mode_t mode = 0;
  auto text = read_whole(path, mode);
  if (!text) return std::unexpected(text.error());
  if (mode & kGroupOrOthers) {
    return std::unexpected("users file " + path + " is readable or writable by other users (chmod 600 it)");
  }
  auto users = parse_users(*text);
  if (!users) return std::unexpected("users file " + path + ": " + users.error());
  return users;
}

std::expected<void, std::string> save_users_file(const std::string& path, const std::vector<User>& users) {
  const std::string temporary = path + ".tmp";
  const int fd = open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return std::unexpected(system_error("cannot create", temporary));
  const std::string text = format_users(users);
  bool ok = fchmod(fd, 0600) == 0;
  for (size_t written = 0; ok && written < text.size();) {
    const ssize_t n = write(fd, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0;
    if (ok) written += static_cast<size_t>(n);
  }
  ok = ok && fsync(fd) == 0;
  const std::string failure = ok ? "" : system_error("cannot write", temporary);
  close(fd);
  if (!ok) {
    unlink(temporary.c_str());
    return std::unexpected(failure);
  }
  if (rename(temporary.c_str(), path.c_str()) != 0) return std::unexpected(system_error("cannot replace", path));
  return {};
}

std::expected<std::string, std::string> read_password_file(const std::string& path, std::string& warning) {
  mode_t mode = 0;
  auto text = read_whole(path, mode);
  if (!text) return std::unexpected(text.error());
  if (mode & (S_IROTH | S_IWOTH)) warning = "password file " + path + " is readable by other users";
  std::string password = text->substr(0, text->find('\n'));
  if (!password.empty() && password.back() == '\r') password.pop_back();
  if (password.empty()) return std::unexpected("password file " + path + " has an empty first line");
  return password;
}

}  // namespace ringkv::trust
