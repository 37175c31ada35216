#include "adapters/postgres/store_logger.hpp"

#include <spdlog/spdlog.h>

namespace conveyor::postgres {

std::shared_ptr<spdlog::logger> store_logger() {
  static auto result = [] {
    if (auto existing = spdlog::get("store"))
      return existing;
    auto created = spdlog::default_logger()->clone("store");
    try {
      spdlog::register_logger(created);
    } catch (const spdlog::spdlog_ex&) {
      // Another store adapter registered the name between get and register.
      return spdlog::get("store");
    }
    return created;
  }();
  return result;
}

} // namespace conveyor::postgres
