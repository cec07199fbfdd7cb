#include "node/trust/users.h"

#include <sodium.h>

#include <cassert>

namespace ringkv::trust {
namespace {

constexpr size_t kUserNameBytesMax = 64;
// Longer passwords are refused before hashing (a frame could carry megabytes).
constexpr size_t kPasswordBytesMax = 1024;

void init_sodium() {
  const int rc = sodium_init();
  assert(rc >= 0 && "libsodium must initialise");
  (void)rc;
}

std::string digest(std::string_view password) {
  std::string out(crypto_generichash_BYTES, '\0');
  crypto_generichash(reinterpret_cast<unsigned char*>(out.data()), out.size(),
                     reinterpret_cast<const unsigned char*>(password.data()), password.size(), nullptr, 0);
  return out;
}

bool pwhash_verify(const std::string& hash, std::string_view password) {
  return crypto_pwhash_str_verify(hash.c_str(), password.data(), password.size()) == 0;
}

}  // namespace

std::optional<Role> parse_role(std::string_view text) {
  if (text == "read") return Role::kRead;
  if (text == "readwrite") return Role::kReadWrite;
  if (text == "admin") return Role::kAdmin;
  return std::nullopt;
}

std::string_view role_name(Role role) {
  switch (role) {
    case Role::kRead: return "read";
    case Role::kReadWrite: return "readwrite";
    case Role::kAdmin: return "admin";
  }
  return "unknown";
}

bool valid_user_name(std::string_view name) {
  if (name.empty() || name.size() > kUserNameBytesMax) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                    c == '.' || c == '@' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::expected<std::vector<User>, std::string> parse_users(std::string_view text) {
  std::vector<User> users;
  size_t line_number = 0;
  while (!text.empty()) {
    ++line_number;
    const size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;
    auto fail = [&](std::string_view why) {
      return std::unexpected("line " + std::to_string(line_number) + ": " + std::string(why));
    };
    const size_t first = line.find(':');
    const size_t second = first == std::string_view::npos ? first : line.find(':', first + 1);
    if (second == std::string_view::npos) return fail("expected name:role:hash");
    User user;
    user.name = std::string(line.substr(0, first));
    if (!valid_user_name(user.name)) return fail("bad user name");
    const auto role = parse_role(line.substr(first + 1, second - first - 1));
    if (!role) return fail("role must be read, readwrite or admin");
    user.role = *role;
    user.hash = std::string(line.substr(second + 1));
    if (!user.hash.starts_with("$argon2") || user.hash.size() >= crypto_pwhash_STRBYTES) {
      return fail("hash is not a crypto_pwhash_str string");
    }
    for (const User& other : users) {
      if (other.name == user.name) return fail("user " + user.name + " appears twice");
    }
    users.push_back(std::move(user));
  }
  return users;
}

std::string format_users(const std::vector<User>& users) {
  std::string text;
  for (const User& user : users) {
    text += user.name + ":" + std::string(role_name(user.role)) + ":" + user.hash + "\n";
  }
  return text;
}

std::string random_password() {
  init_sodium();
  unsigned char bytes[18];
  randombytes_buf(bytes, sizeof(bytes));
  char text[sodium_base64_ENCODED_LEN(sizeof(bytes), sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
  sodium_bin2base64(text, sizeof(text), bytes, sizeof(bytes), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  return text;
}

std::expected<std::string, std::string> hash_password(std::string_view password) {
  init_sodium();
  if (password.empty()) return std::unexpected("the password is empty");
  if (password.size() > kPasswordBytesMax) return std::unexpected("the password is longer than 1024 bytes");
  char hash[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str(hash, password.data(), password.size(), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                        crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
    return std::unexpected("out of memory while hashing the password");
  }
  return std::string(hash);
}

UserTable::UserTable(std::vector<User> users) {
  init_sodium();
  for (User& user : users) {
    std::string name = user.name;
    users_.emplace(std::move(name), std::move(user));
  }
}

std::optional<Role> UserTable::verify(std::string_view name, std::string_view password) {
  if (password.size() > kPasswordBytesMax) return std::nullopt;
  const auto user = users_.find(name);
  if (user == users_.end()) {
    // Pay the same price as a wrong password, so names cannot be probed.
    if (decoy_hash_.empty()) decoy_hash_ = hash_password("decoy").value_or("");
    if (!decoy_hash_.empty()) (void)pwhash_verify(decoy_hash_, password);
    return std::nullopt;
  }
  const std::string password_digest = digest(password);
  const auto known = verified_.find(name);
  if (known != verified_.end() &&
      sodium_memcmp(known->second.data(), password_digest.data(), password_digest.size()) == 0) {
    return user->second.role;
  }
  if (!pwhash_verify(user->second.hash, password)) return std::nullopt;
  verified_.insert_or_assign(user->first, password_digest);
  return user->second.role;
}

}  // namespace ringkv::trust
