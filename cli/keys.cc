#include "cli/keys.h"

#include <fcntl.h>
#include <sodium.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "cli/options.h"

namespace ringkv::cli {

std::string new_key_base64() {
  if (sodium_init() < 0) return "";
  unsigned char key[32];
  randombytes_buf(key, sizeof(key));
  char text[sodium_base64_ENCODED_LEN(sizeof(key), sodium_base64_VARIANT_ORIGINAL)];
  sodium_bin2base64(text, sizeof(text), key, sizeof(key), sodium_base64_VARIANT_ORIGINAL);
  sodium_memzero(key, sizeof(key));
  return text;
}

int run_keygen() {
  const std::string key = new_key_base64();
  if (key.empty()) {
    std::fprintf(stderr, "kv keygen: libsodium cannot start\n");
    return kExitClusterError;
  }
  std::printf("%s\n", key.c_str());
  return kExitOk;
}

std::expected<std::string, std::string> ensure_keyring_file(const std::string& dir) {
  const std::filesystem::path path = std::filesystem::absolute(std::filesystem::path(dir) / "keyring");
  std::error_code ec;
  if (std::filesystem::exists(path, ec)) return path.string();
  std::filesystem::create_directories(path.parent_path(), ec);
  const std::string key = new_key_base64();
  if (key.empty()) return std::unexpected("libsodium cannot start");
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return std::unexpected("cannot create " + path.string() + ": " + std::strerror(errno));
  const std::string text = "# ringkv cluster keyring (kv cluster up): the first key is the primary\n" + key + "\n";
  const bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  if (!written) return std::unexpected("cannot write " + path.string());
  return path.string();
}

}  // namespace ringkv::cli
