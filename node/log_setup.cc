#include "node/log_setup.h"

#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace ringkv::node {

std::expected<void, std::string> setup_logging(const Flags& flags) {
  std::shared_ptr<spdlog::logger> logger;
  if (flags.log_file.empty()) {
    logger = spdlog::stderr_color_mt("kvnode");
  } else {
    try {
      auto sink = std::make_shared<spdlog::sinks::rotating_file_sink_mt>(
          flags.log_file, static_cast<size_t>(flags.log_max_bytes), static_cast<size_t>(flags.log_files));
      logger = std::make_shared<spdlog::logger>("kvnode", std::move(sink));
    } catch (const spdlog::spdlog_ex& e) {
      return std::unexpected("cannot open --log-file " + flags.log_file + ": " + e.what());
    }
  }
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ [" + flags.name + "] %v");
  logger->set_level(spdlog::level::from_str(flags.log_level));
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(logger);
  return {};
}

}  // namespace ringkv::node
