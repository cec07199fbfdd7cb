// KeyringPort: what the core may do with this node's cluster keyring. The
// key material and libsodium stay in node/trust; the I/O layer implements
// this on its TrustContext (which also persists every change to
// DATA/keyring, mode 0600, atomically) and tests use a fake.
//
// Keys cross this interface as 32 raw bytes in a string, because the core
// forwards them in KeyringRequests over sealed sessions; the core never logs
// them, only fingerprints (first 8 bytes of BLAKE2b, hex).
//
// Thread model: the loop's thread, like the core.
#pragma once

#include <cstdint>
#include <expected>
#include <string>
#include <string_view>
#include <vector>

namespace ringkv::core {

struct KeyringState {
  std::vector<std::string> fingerprints;  // installed keys, the primary first
  uint64_t version = 0;                   // the primary's version
};

class KeyringPort {
 public:
  virtual ~KeyringPort() = default;
  // False when the node runs without a keyring (nothing to rotate).
  virtual bool enabled() const = 0;
  // REQUIRES: enabled().
  virtual KeyringState state() const = 0;
  // The fingerprint of `key`, or empty when it is not a 32-byte key.
  virtual std::string fingerprint(std::string_view key) const = 0;
  // The primary's raw bytes (sent only in sync pushes, over sealed sessions).
  virtual std::string primary_key() const = 0;
  // Each applies and persists the change, or says why not (nothing changed).
  // install: idempotent. use: REQUIRES the key installed; sets the version.
  // remove: absent is ok; the primary is refused.
  virtual std::expected<void, std::string> install(std::string_view key) = 0;
  virtual std::expected<void, std::string> use(std::string_view key, uint64_t version) = 0;
  virtual std::expected<void, std::string> remove(std::string_view key) = 0;
};

}  // namespace ringkv::core
