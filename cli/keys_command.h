// `kv keys list|install KEY|use KEY|remove KEY`: rotate the cluster keyring
// (DESIGN.md "Trust"). The node `kv` talks to acts on every live member over
// sealed sessions and answers one line per node; this prints them
// (`node2 ok`, `node3 failed: why`), or with --json one document
// {"action", "nodes": [{"name", "ok", "message", "primary", "version",
// "keys": [fingerprints]}]}. Exit 3 when any node failed or the node
// refused (remove while a ring member has not confirmed the primary: the
// reason names them, nothing changed). KEY is base64 (`kv keygen`); it
// travels on the client connection, which is not encrypted in this release.
#pragma once

#include <string>

#include "cli/options.h"

namespace ringkv::cli {

int run_keys(const GlobalOptions& options, const std::string& action, const std::string& key_base64);

}  // namespace ringkv::cli
