// kvnode's logging: one line per event with the node's name, to standard
// error (the default, which systemd puts in its journal) or, with
// --log-file, to a file rotated by size (spdlog's rotating file sink:
// kvnode.log, kvnode.1.log ... kvnode.N.log, the oldest dropped). Lines are flushed as written, so
// a killed node's last words are on disk.
#pragma once

#include <expected>
#include <string>

#include "node/flags.h"

namespace ringkv::node {

// Installs the default logger; the reason when the log file cannot be opened.
std::expected<void, std::string> setup_logging(const Flags& flags);

}  // namespace ringkv::node
