#include "adapters/postgres/store_metrics.hpp"

#include <algorithm>
#include <iterator>
#include <string>

namespace conveyor::postgres {

namespace {

constexpr std::array<const char*, transaction_kind_count> kind_names{
  "create_build", "job_transition", "build_transition", "log_parts",
  "complete_log", "requeue",        "query", "delivery"};

constexpr std::array<double, store_metrics::bucket_count> bounds{
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1};

constexpr std::array<double, store_metrics::bucket_count> sizes{
  1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000};

constexpr std::array<const char*, store_metrics::bucket_count + 1>
  size_labels{"1",   "2",   "5",   "10",   "20",   "50",
              "100", "200", "500", "1000", "2000", "+Inf"};

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

// Observes `value` in the non-cumulative `buckets` bounded by `xs`.
// Prometheus buckets are "less than or equal": a value on a bound is in it.
void observe(std::array<int64_t, store_metrics::bucket_count + 1>& buckets,
             const std::array<double, store_metrics::bucket_count>& xs,
             double value) {
  auto bucket = std::lower_bound(xs.begin(), xs.end(), value);
  ++buckets.at(static_cast<size_t>(std::distance(xs.begin(), bucket)));
}

metric_family
histogram(const char* name, const char* help,
          const std::array<int64_t, store_metrics::bucket_count + 1>& buckets,
          const std::array<const char*, store_metrics::bucket_count + 1>& les,
          double sum) {
  metric_family result{name, help, "histogram", {}};
  int64_t cumulative = 0;
  for (size_t i = 0; i < buckets.size(); ++i) {
    cumulative += buckets[i];
    result.samples.push_back(
      {"_bucket", {{"le", les[i]}}, static_cast<double>(cumulative)});
  }
  result.samples.push_back({"_sum", {}, sum});
  result.samples.push_back({"_count", {}, static_cast<double>(cumulative)});
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

const std::array<double, store_metrics::bucket_count>&
store_metrics::batch_bounds() {
  return sizes;
}

void store_metrics::record_transaction(transaction_kind k, double seconds,
                                       bool failed) {
  auto index = static_cast<size_t>(k);
  ++transactions_.at(index);
  if (failed)
    ++errors_.at(index);
  else if (in_batch_)
    ++batch_ok_.at(index);
  if (!is_write(k) || in_batch_)
    return;
  observe(buckets_, bounds, seconds);
  latency_sum_ += seconds;
}

void store_metrics::begin_batch() {
  in_batch_ = true;
  batch_ok_.fill(0);
}

void store_metrics::end_batch(int64_t writes, double seconds, bool failed) {
  in_batch_ = false;
  if (failed)
    for (size_t i = 0; i < errors_.size(); ++i)
      errors_[i] += batch_ok_[i];
  observe(buckets_, bounds, seconds);
  latency_sum_ += seconds;
  observe(batch_buckets_, sizes, static_cast<double>(writes));
  batch_writes_ += writes;
}

void store_metrics::record_log_parts(int64_t parts, int64_t bytes) {
  log_parts_ += parts;
  log_bytes_ += bytes;
}

metric_families store_metrics::collect() const {
  metric_families result;
  result.push_back(by_kind("conveyor_store_transactions_total",
                           "Store operations by kind, failed ones included; a write in a "
                           "batch counts as one.",
                           transactions_));
  result.push_back(by_kind("conveyor_store_errors_total",
                           "Store operations that failed, by kind; all writes of a batch "
                           "that failed to commit.",
                           errors_));
  result.push_back(histogram("conveyor_store_transaction_seconds",
                             "Latency of the store's write transactions (a "
                             "batch of writes is one), waiting for the write "
                             "lock included.",
                             buckets_, le_labels, latency_sum_));
  result.push_back(histogram("conveyor_store_batch_writes",
                             "Writes per batch transaction of the store "
                             "actor.",
                             batch_buckets_, size_labels,
                             static_cast<double>(batch_writes_)));
  result.push_back(counter("conveyor_store_log_parts_written_total",
                           "Log parts stored for the first time.",
                           log_parts_));
  result.push_back(counter("conveyor_store_log_bytes_written_total",
                           "Bytes of the log parts stored for the first time.",
                           log_bytes_));
  return result;
}

} // namespace conveyor::postgres
