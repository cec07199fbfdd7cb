// kvnode: one ringkv node process. Parses flags, sets up logging and hands
// over to the libuv process in node/io (node_process.h), which runs until
// SIGTERM/SIGINT (clean stop) or SIGKILL (acknowledged writes are already in
// the WAL).
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "node/flags.h"
#include "node/io/node_process.h"
#include "node/trust/users_file.h"

namespace {

void setup_logging(const ringkv::node::Flags& flags) {
  auto logger = spdlog::stderr_color_mt("kvnode");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ [" + flags.name + "] %v");
  logger->set_level(spdlog::level::from_str(flags.log_level));
  spdlog::set_default_logger(logger);
}

}  // namespace

int main(int argc, char** argv) {
  auto parsed = ringkv::node::parse_flags(argc, argv);
  if (const int* exit_code = std::get_if<int>(&parsed)) return *exit_code;
  const auto& flags = std::get<ringkv::node::Flags>(parsed);
  setup_logging(flags);
  std::optional<std::vector<ringkv::trust::User>> users;
  if (!flags.users.empty()) {
    auto loaded = ringkv::trust::load_users_file(flags.users);
    if (!loaded) {
      spdlog::error("{}", loaded.error());
      return 2;
    }
    spdlog::info("clients must authenticate: {} users in {}", loaded->size(), flags.users);
    users = std::move(*loaded);
  }
  const ringkv::io::NodeSettings settings{
      .name = flags.name,
      .listen = flags.listen,
      .data = flags.data,
      .seeds = flags.seeds,
      .resp_listen = flags.resp_listen,
      .resp_consistency = ringkv::node::resp_consistency(flags),
      .sync = flags.sync,
      .vnodes = flags.vnodes ? static_cast<uint32_t>(flags.vnodes) : ringkv::core::kDefaultVnodes,
      .membership = ringkv::node::membership_config(flags),
      .node = ringkv::node::node_config(flags),
      .trust = {.keyring_path = flags.keyring,
                .transition = flags.keyring_transition,
                .insecure = flags.insecure,
                .listen = flags.listen,
                .data = flags.data},
      .connections = {.connections_max = static_cast<size_t>(flags.max_connections),
                      .idle_timeout_ms = static_cast<uint64_t>(flags.idle_timeout_s) * 1000,
                      .unsent_bytes_max = static_cast<size_t>(flags.max_connection_unsent_kib) << 10},
      .storage_memory = {.block_cache_bytes = static_cast<uint64_t>(flags.rocksdb_block_cache_mib) << 20,
                         .write_buffers_bytes = static_cast<uint64_t>(flags.rocksdb_write_buffers_mib) << 20},
      .users = std::move(users),
  };
  return ringkv::io::run_node_process(settings);
}
