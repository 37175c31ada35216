#pragma once

#include <memory>

namespace spdlog {
class logger;
} // namespace spdlog

namespace conveyor::postgres {

/// Returns the spdlog logger named "store", creating it from the default
/// logger's sinks on first use.
std::shared_ptr<spdlog::logger> store_logger();

} // namespace conveyor::postgres
