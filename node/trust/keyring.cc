#include "node/trust/keyring.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace ringkv::trust {
namespace {

// A key file holds a handful of keys; anything far larger is not one.
constexpr size_t kKeyFileBytesMax = 64 * 1024;

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t' || text.front() == '\r')) {
    text.remove_prefix(1);
  }
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r')) {
    text.remove_suffix(1);
  }
  return text;
}

}  // namespace

bool init_sodium() { return sodium_init() >= 0; }

Key generate_key() {
  Key key;
  randombytes_buf(key.data(), key.size());
  return key;
}

std::string key_to_base64(const Key& key) {
  std::string text(sodium_base64_ENCODED_LEN(kKeyBytes, sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(text.data(), text.size(), key.data(), key.size(), sodium_base64_VARIANT_ORIGINAL);
  text.resize(std::strlen(text.c_str()));
  return text;
}

std::expected<Key, std::string> key_from_base64(std::string_view text) {
  Key key;
  size_t length = 0;
  const char* end = nullptr;
  if (sodium_base642bin(key.data(), key.size(), text.data(), text.size(), nullptr, &length, &end,
                        sodium_base64_VARIANT_ORIGINAL) != 0 ||
      end != text.data() + text.size() || length != kKeyBytes) {
    return std::unexpected("not a 32-byte key in base64 (make one with `kv keygen`)");
  }
  return key;
}

std::string fingerprint(const Key& key) {
  unsigned char digest[crypto_generichash_BYTES];
  crypto_generichash(digest, sizeof(digest), key.data(), key.size(), nullptr, 0);
  char hex[17];
  sodium_bin2hex(hex, sizeof(hex), digest, 8);
  return hex;
}

std::expected<Keyring, std::string> Keyring::create(std::vector<Key> keys) {
  if (keys.empty()) return std::unexpected("a keyring needs at least one key");
  std::vector<Key> unique;
  for (const Key& key : keys) {
    if (std::find(unique.begin(), unique.end(), key) == unique.end()) unique.push_back(key);
  }
  return Keyring(std::move(unique));
}

std::expected<Keyring, std::string> Keyring::parse(std::string_view text) {
  constexpr std::string_view kVersionLine = "# primary-version ";
  std::vector<Key> keys;
  uint64_t version = 0;
  size_t line_number = 0;
  while (!text.empty()) {
    ++line_number;
    const size_t end = text.find('\n');
    const std::string_view line = trim(text.substr(0, end));
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    if (line.starts_with(kVersionLine)) {
      const std::string digits(line.substr(kVersionLine.size()));
      char* end = nullptr;
      const unsigned long long parsed = std::strtoull(digits.c_str(), &end, 10);
      if (!digits.empty() && end == digits.c_str() + digits.size()) version = parsed;
      continue;
    }
    if (line.empty() || line.front() == '#') continue;
    auto key = key_from_base64(line);
    if (!key) return std::unexpected("line " + std::to_string(line_number) + ": " + key.error());
    keys.push_back(*key);
  }
  if (keys.empty()) return std::unexpected("no key in it (make one with `kv keygen`)");
  auto keyring = create(std::move(keys));
  if (keyring) keyring->primary_version_ = version;
  return keyring;
}

std::string Keyring::serialize() const {
  std::string text = "# ringkv keyring: the first key is the primary\n# primary-version " +
                     std::to_string(primary_version_) + "\n";
  for (const Key& key : keys_) text += key_to_base64(key) + "\n";
  return text;
}

bool Keyring::contains(const Key& key) const {
  return std::find(keys_.begin(), keys_.end(), key) != keys_.end();
}

void Keyring::install(const Key& key) {
  if (std::find(keys_.begin(), keys_.end(), key) == keys_.end()) keys_.push_back(key);
}

std::expected<void, std::string> Keyring::use(const Key& key) {
  auto it = std::find(keys_.begin(), keys_.end(), key);
  if (it == keys_.end()) return std::unexpected("key " + fingerprint(key) + " is not installed");
  std::rotate(keys_.begin(), it, it + 1);
  return {};
}

std::expected<void, std::string> Keyring::remove(const Key& key) {
  auto it = std::find(keys_.begin(), keys_.end(), key);
  if (it == keys_.end()) return std::unexpected("key " + fingerprint(key) + " is not installed");
  if (it == keys_.begin()) return std::unexpected("key " + fingerprint(key) + " is the primary; use another first");
  keys_.erase(it);
  return {};
}

std::expected<Keyring, std::string> load_keyring_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::unexpected("cannot read keyring " + path + ": " + std::strerror(errno));
  struct stat info {};
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    ::close(fd);
    return std::unexpected("keyring " + path + " is not a regular file");
  }
  if ((info.st_mode & 077) != 0) {
    ::close(fd);
    char mode[8];
    std::snprintf(mode, sizeof(mode), "%03o", static_cast<unsigned>(info.st_mode & 0777));
    return std::unexpected("keyring " + path + " may be read by other users (mode " + mode +
                           "); run `chmod 600 " + path + "`");
  }
  if (static_cast<uint64_t>(info.st_size) > kKeyFileBytesMax) {
    ::close(fd);
    return std::unexpected("keyring " + path + " is too large to be a keyring");
  }
  std::string text(static_cast<size_t>(info.st_size), '\0');
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::read(fd, text.data() + done, text.size() - done);
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  text.resize(done);
  auto keyring = Keyring::parse(text);
  if (!keyring) return std::unexpected("keyring " + path + ": " + keyring.error());
  return keyring;
}

std::expected<void, std::string> save_keyring_file(const Keyring& keyring, const std::string& path) {
  const std::string temporary = path + ".tmp";
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return std::unexpected("cannot write " + temporary + ": " + std::strerror(errno));
  ::fchmod(fd, 0600);  // an older file with a wider mode is narrowed
  const std::string text = keyring.serialize();
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  const bool written = done == text.size() && ::fsync(fd) == 0;
  ::close(fd);
  if (!written || ::rename(temporary.c_str(), path.c_str()) != 0) {
    const std::string reason = std::strerror(errno);
    ::unlink(temporary.c_str());
    return std::unexpected("cannot write " + path + ": " + reason);
  }
  return {};
}

}  // namespace ringkv::trust
