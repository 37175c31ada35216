#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "messages/metrics.hpp"

namespace conveyor::postgres {

/// What a store transaction is for; its `kind` label in the metrics.
enum class transaction_kind : uint8_t {
  create_build,
  job_transition,
  build_transition,
  log_parts,
  complete_log,
  requeue,
  query, ///< every read
  delivery, ///< a webhook delivery's record
};

/// The number of transaction kinds.
constexpr size_t transaction_kind_count = 8;

/// Returns the kind's label value, e.g. "create_build".
const char* to_string(transaction_kind x);

/// True for every kind that writes, i.e. all but `query`.
bool is_write(transaction_kind x);

/// Counts what one store does and renders it in Prometheus's model:
/// `conveyor_store_transactions_total{kind}`,
/// `conveyor_store_errors_total{kind}`,
/// `conveyor_store_transaction_seconds` (write latency histogram),
/// `conveyor_store_batch_writes` (writes per batch, histogram),
/// `conveyor_store_log_parts_written_total` and
/// `conveyor_store_log_bytes_written_total`. A write inside a batch counts as
/// one transaction of its kind, but only the batch's transaction as a whole
/// is observed in the latency histogram. Not thread-safe: it belongs to the
/// store that owns it. Counts start at 0 when the store opens.
class store_metrics {
public:
  /// The number of finite histogram buckets.
  static constexpr size_t bucket_count = 11;

  /// Returns the upper bounds (seconds) of the finite latency buckets,
  /// ascending; a last bucket, "+Inf", takes the rest.
  static const std::array<double, bucket_count>& latency_bounds();

  /// Returns the upper bounds of the finite buckets of the batch size
  /// histogram, ascending; a last bucket, "+Inf", takes the rest.
  static const std::array<double, bucket_count>& batch_bounds();

  /// Records one transaction of kind `k` that took `seconds` (observed in the
  /// histogram for writes outside a batch only), and an error if it `failed`.
  void record_transaction(transaction_kind k, double seconds, bool failed);

  /// Starts a batch: the writes recorded until `end_batch` share one
  /// transaction.
  void begin_batch();

  /// Ends the batch begun last: observes its transaction, `writes` writes
  /// that took `seconds`, and if it `failed` (nothing was committed) counts
  /// an error for each of its writes that had not failed on its own.
  void end_batch(int64_t writes, double seconds, bool failed);

  /// Records `parts` newly written log parts holding `bytes` bytes.
  void record_log_parts(int64_t parts, int64_t bytes);

  /// Answers every family, with a sample for every kind (0 if none yet) and
  /// cumulative histogram buckets whose "+Inf" bucket equals `_count`.
  metric_families collect() const;

private:
  std::array<int64_t, transaction_kind_count> transactions_{};
  std::array<int64_t, transaction_kind_count> errors_{};
  std::array<int64_t, bucket_count + 1> buckets_{}; ///< not cumulative
  double latency_sum_ = 0;
  std::array<int64_t, bucket_count + 1> batch_buckets_{}; ///< not cumulative
  int64_t batch_writes_ = 0;
  bool in_batch_ = false;
  std::array<int64_t, transaction_kind_count> batch_ok_{}; ///< this batch's
  int64_t log_parts_ = 0;
  int64_t log_bytes_ = 0;
};

} // namespace conveyor::postgres
