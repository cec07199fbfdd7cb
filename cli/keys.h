// Cluster keys on the command line: `kv keygen` and the keyring `kv cluster
// up` makes for a local cluster. Uses libsodium only (the cli never links
// node internals); the format is node/trust/keyring.h's: base64 keys, one a
// line, the first primary, in a file only its owner may read.
#pragma once

#include <expected>
#include <string>

namespace ringkv::cli {

// A new random 32-byte key in base64 (standard alphabet, padded).
std::string new_key_base64();
// `kv keygen`: prints new_key_base64() and a newline.
int run_keygen();
// `<dir>/keyring`, made (mode 0600, one new key) unless it exists already.
std::expected<std::string, std::string> ensure_keyring_file(const std::string& dir);

}  // namespace ringkv::cli
