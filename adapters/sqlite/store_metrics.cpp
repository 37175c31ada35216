#include "adapters/sqlite/store_metrics.hpp"

#include <algorithm>
#include <iterator>
#include <string>

namespace conveyor::sqlite {

namespace {

constexpr std::array<const char*, transaction_kind_count> kind_names{
  "create_build", "job_transition", "build_transition", "log_parts",
  "complete_log", "requeue",        "query"};

constexpr std::array<double, store_metrics::bucket_count> bounds{
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1};

// Written out rather than formatted, so that the labels are exactly the
// numbers above in their shortest form.
constexpr std::array<const char*, store_metrics::bucket_count + 1> le_labels{
  "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025",
  "0.05",   "0.1",   "0.25",   "0.5",   "1",    "+Inf"};

metric_family by_kind(const char* name, const char* help,
                      const std::array<int64_t, transaction_kind_count>& xs) {
  metric_family result{name, help, "counter", {}};
  for (size_t i = 0; i < xs.size(); ++i)
    result.samples.push_back(
      {"", {{"kind", kind_names[i]}}, static_cast<double>(xs[i])});
  return result;
}

metric_family counter(const char* name, const char* help, int64_t value) {
  return {name, help, "counter", {{"", {}, static_cast<double>(value)}}};
}

} // namespace

const char* to_string(transaction_kind x) {
  return kind_names.at(static_cast<size_t>(x));
}

bool is_write(transaction_kind x) {
  return x != transaction_kind::query;
}

const std::array<double, store_metrics::bucket_count>&
store_metrics::latency_bounds() {
  return bounds;
}

void store_metrics::record_transaction(transaction_kind k, double seconds,
                                       bool failed) {
  auto index = static_cast<size_t>(k);
  ++transactions_.at(index);
  if (failed)
    ++errors_.at(index);
  if (!is_write(k))
    return;
  // Prometheus buckets are "less than or equal": a value on a bound is in it.
  auto bucket = std::lower_bound(bounds.begin(), bounds.end(), seconds);
  ++buckets_.at(static_cast<size_t>(std::distance(bounds.begin(), bucket)));
  latency_sum_ += seconds;
}

void store_metrics::record_log_parts(int64_t parts, int64_t bytes) {
  log_parts_ += parts;
  log_bytes_ += bytes;
}

metric_families store_metrics::collect() const {
  metric_families result;
  result.push_back(by_kind("conveyor_store_transactions_total",
                           "Store transactions by kind, failed ones included.",
                           transactions_));
  result.push_back(by_kind("conveyor_store_errors_total",
                           "Store transactions that failed, by kind.",
                           errors_));
  metric_family latency{"conveyor_store_transaction_seconds",
                        "Latency of the store's write transactions, waiting "
                        "for the write lock included.",
                        "histogram",
                        {}};
  int64_t cumulative = 0;
  for (size_t i = 0; i < buckets_.size(); ++i) {
    cumulative += buckets_[i];
    latency.samples.push_back(
      {"_bucket", {{"le", le_labels[i]}}, static_cast<double>(cumulative)});
  }
  latency.samples.push_back({"_sum", {}, latency_sum_});
  latency.samples.push_back({"_count", {}, static_cast<double>(cumulative)});
  result.push_back(std::move(latency));
  result.push_back(counter("conveyor_store_log_parts_written_total",
                           "Log parts stored for the first time.",
                           log_parts_));
  result.push_back(counter("conveyor_store_log_bytes_written_total",
                           "Bytes of the log parts stored for the first time.",
                           log_bytes_));
  return result;
}

} // namespace conveyor::sqlite
