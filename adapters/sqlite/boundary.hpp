#pragma once

#include <chrono>
#include <exception>
#include <string>
#include <utility>

#include <caf/expected.hpp>
#include <spdlog/spdlog.h>

#include "adapters/sqlite/store_logger.hpp"
#include "adapters/sqlite/store_metrics.hpp"
#include "messages/error.hpp"

namespace conveyor::sqlite {

/// Runs `fun` (answering a `T` or a `caf::expected<T>`) and turns any exception
/// into `errc::store_failure` "<what> failed: <detail>", logged with
/// `context` (key=value fields). The one place where exceptions of SQLite,
/// nlohmann and the allocator stop.
template <class T, class F>
caf::expected<T> guarded(const char* what, const std::string& context, F fun) {
  std::string detail;
  try {
    return fun();
  } catch (const std::exception& e) {
    detail = e.what();
  }
  store_logger()->error("{} failed {} error=\"{}\"", what, context, detail);
  return make_error(errc::store_failure,
                    std::string{what} + " failed: " + detail);
}

/// Runs `fun` like `guarded` and records it in `metrics` as one transaction of
/// kind `k` with its duration; it failed if it answers `errc::store_failure`.
template <class T, class F>
caf::expected<T> counted(store_metrics& metrics, transaction_kind k,
                         const char* what, const std::string& context, F fun) {
  auto start = std::chrono::steady_clock::now();
  auto result = guarded<T>(what, context, std::move(fun));
  std::chrono::duration<double> elapsed = std::chrono::steady_clock::now()
                                          - start;
  auto failed = !result && result.error().category() == errc_category
                && result.error().code()
                     == static_cast<uint8_t>(errc::store_failure);
  metrics.record_transaction(k, elapsed.count(), failed);
  return result;
}

/// Returns "job_id=<id> attempt=<n>" for log lines.
inline std::string job_context(int64_t job_id, int32_t attempt) {
  return "job_id=" + std::to_string(job_id)
         + " attempt=" + std::to_string(attempt);
}

} // namespace conveyor::sqlite
