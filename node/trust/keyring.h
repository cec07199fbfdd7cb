// Keyring: the cluster keys a node holds (DESIGN.md "Trust").
//
// One primary key seals everything this node sends; every installed key
// (the primary included) may open what arrives, so keys rotate without a
// flag day (memberlist/Serf semantics): install the new key everywhere, use
// it everywhere, then remove the old one. Keys are 32 random bytes, written
// in base64 (sodium VARIANT_ORIGINAL), one per line in a file, the first line
// the primary; blank lines and lines starting with '#' are ignored, except
// "# primary-version N": the primary's version (0 when absent), which orders
// rotations across the cluster (`kv keys use` raises it; a node adopts a
// primary pushed by another only when its version is higher).
//
// Invariants: never empty; the primary is always installed; no duplicates.
// A key file that group or others may read is refused (it names the file and
// `chmod 600`). Plain value type; no threads, no I/O except the two file
// functions at the bottom.
#pragma once

#include <array>
#include <cstdint>
#include <expected>
#include <string>
#include <string_view>
#include <vector>

namespace ringkv::trust {

constexpr size_t kKeyBytes = 32;
using Key = std::array<unsigned char, kKeyBytes>;

// libsodium must be ready before any other function here; idempotent, cheap
// after the first call. False when libsodium cannot start (no entropy).
bool init_sodium();

// 32 fresh random bytes (randombytes_buf).
Key generate_key();
std::string key_to_base64(const Key& key);
std::expected<Key, std::string> key_from_base64(std::string_view text);
// The first 8 bytes of BLAKE2b(key), in hex: safe to log and compare.
std::string fingerprint(const Key& key);

class Keyring {
 public:
  // `keys` in file order: the first is the primary. Refuses an empty list.
  static std::expected<Keyring, std::string> create(std::vector<Key> keys);
  // The file format described above.
  static std::expected<Keyring, std::string> parse(std::string_view text);
  std::string serialize() const;

  const Key& primary() const { return keys_.front(); }
  uint64_t primary_version() const { return primary_version_; }
  void set_primary_version(uint64_t version) { primary_version_ = version; }
  bool contains(const Key& key) const;
  // Every installed key, the primary first.
  const std::vector<Key>& list() const { return keys_; }

  // Adds a key that opens (installing twice is a no-op).
  void install(const Key& key);
  // Makes an installed key the primary.
  std::expected<void, std::string> use(const Key& key);
  // Removes an installed key; never the primary.
  std::expected<void, std::string> remove(const Key& key);

 private:
  explicit Keyring(std::vector<Key> keys) : keys_(std::move(keys)) {}
  std::vector<Key> keys_;  // keys_[0] is the primary
  uint64_t primary_version_ = 0;
};

// Reads and parses a key file, refusing one that group or others may read.
std::expected<Keyring, std::string> load_keyring_file(const std::string& path);
// Writes the keyring to `path` with mode 0600, atomically (temp file, fsync,
// rename), so a crash leaves the old file or the new one.
std::expected<void, std::string> save_keyring_file(const Keyring& keyring, const std::string& path);

}  // namespace ringkv::trust
