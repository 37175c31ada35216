#include "app/logging.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace conveyor {

std::string setup_logging(const std::string& level) {
  auto parsed = spdlog::level::from_str(level);
  if (parsed == spdlog::level::off && level != "off")
    return "unknown log level '" + level + "'";
  // Modules clone the default logger, so it must be in place before they start.
  auto logger = spdlog::stderr_color_mt("conveyor");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %n %v");
  spdlog::set_default_logger(logger);
  spdlog::set_level(parsed);
  return {};
}

} // namespace conveyor
