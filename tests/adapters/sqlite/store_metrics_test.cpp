// The store's metrics: the counting piece alone, then a real store's counts.
#include <string>
#include <vector>

#include "adapters/sqlite/sqlite_store.hpp"
#include "adapters/sqlite/store_metrics.hpp"
#include "tests/adapters/sqlite/test_support.hpp"

using namespace conveyor;
using namespace conveyor::testing;

namespace {

constexpr const char* latency = "conveyor_store_transaction_seconds";

const std::vector<std::string> kinds{"create_build", "job_transition",
                                     "build_transition", "log_parts",
                                     "complete_log", "requeue", "query"};

const std::vector<std::string> les{"0.0005", "0.001", "0.0025", "0.005",
                                   "0.01",   "0.025", "0.05",   "0.1",
                                   "0.25",   "0.5",   "1",      "+Inf"};

double bucket(const metric_families& xs, const std::string& le) {
  return sample_of(xs, latency, "_bucket", {{"le", le}});
}

// Checks what Prometheus requires of the latency histogram and answers its
// _count.
double check_histogram(const metric_families& xs) {
  const auto& family = family_of(xs, latency);
  CHECK(family.type == "histogram");
  std::vector<std::string> seen;
  double previous = 0;
  for (const auto& sample : family.samples) {
    if (sample.suffix != "_bucket")
      continue;
    REQUIRE(sample.labels.size() == 1);
    CHECK(sample.labels[0].name == "le");
    seen.push_back(sample.labels[0].value);
    CHECK(sample.value >= previous);
    previous = sample.value;
  }
  CHECK(seen == les);
  auto count = sample_of(xs, latency, "_count");
  CHECK(bucket(xs, "+Inf") == count);
  return count;
}

} // namespace

// -- store_metrics ------------------------------------------------------------

TEST_CASE("store_metrics starts with every family at zero") {
  sqlite::store_metrics m;
  auto xs = m.collect();
  REQUIRE(xs.size() == 6);
  CHECK(family_of(xs, "conveyor_store_batch_writes").type == "histogram");
  CHECK(sample_of(xs, "conveyor_store_batch_writes", "_count") == 0);
  CHECK(family_of(xs, "conveyor_store_transactions_total").type == "counter");
  CHECK(family_of(xs, "conveyor_store_errors_total").type == "counter");
  CHECK(family_of(xs, "conveyor_store_log_parts_written_total").type
        == "counter");
  CHECK(family_of(xs, "conveyor_store_log_bytes_written_total").type
        == "counter");
  for (const auto& kind : kinds) {
    INFO(kind);
    CHECK(transactions_of(xs, kind) == 0);
    CHECK(sample_of(xs, "conveyor_store_errors_total", "", {{"kind", kind}})
          == 0);
  }
  CHECK(check_histogram(xs) == 0);
  CHECK(sample_of(xs, latency, "_sum") == 0);
  for (const auto& x : xs)
    CHECK_FALSE(x.help.empty());
}

TEST_CASE("store_metrics fills cumulative latency buckets for writes only") {
  using sqlite::transaction_kind;
  sqlite::store_metrics m;
  m.record_transaction(transaction_kind::create_build, 0.0003, false);
  m.record_transaction(transaction_kind::job_transition, 0.001, false);
  m.record_transaction(transaction_kind::job_transition, 0.003, false);
  m.record_transaction(transaction_kind::requeue, 2.0, true);
  m.record_transaction(transaction_kind::query, 0.2, false);
  m.record_transaction(transaction_kind::query, 0.0001, true);
  m.record_log_parts(3, 120);
  m.record_log_parts(2, 30);
  auto xs = m.collect();
  CHECK(check_histogram(xs) == 4);
  const std::vector<double> expected{1, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3, 4};
  for (size_t i = 0; i < les.size(); ++i) {
    INFO("le=" << les[i]);
    CHECK(bucket(xs, les[i]) == expected[i]);
  }
  CHECK(sample_of(xs, latency, "_sum") == Approx(2.0043));
  CHECK(transactions_of(xs, "create_build") == 1);
  CHECK(transactions_of(xs, "job_transition") == 2);
  CHECK(transactions_of(xs, "requeue") == 1);
  CHECK(transactions_of(xs, "query") == 2);
  CHECK(transactions_of(xs, "log_parts") == 0);
  CHECK(sample_of(xs, "conveyor_store_errors_total", "", {{"kind", "requeue"}})
        == 1);
  CHECK(sample_of(xs, "conveyor_store_errors_total", "", {{"kind", "query"}})
        == 1);
  CHECK(sample_of(xs, "conveyor_store_errors_total", "",
                  {{"kind", "create_build"}})
        == 0);
  CHECK(sample_of(xs, "conveyor_store_log_parts_written_total") == 5);
  CHECK(sample_of(xs, "conveyor_store_log_bytes_written_total") == 150);
  CHECK(sqlite::store_metrics::latency_bounds().back() == 1.0);
}

TEST_CASE("store_metrics observes a batch once, its writes by kind") {
  using sqlite::transaction_kind;
  sqlite::store_metrics m;
  m.begin_batch();
  m.record_transaction(transaction_kind::job_transition, 0.0001, false);
  m.record_transaction(transaction_kind::job_transition, 0.0001, false);
  m.record_transaction(transaction_kind::complete_log, 0.0001, true);
  m.end_batch(3, 0.002, false);
  auto xs = m.collect();
  CHECK(transactions_of(xs, "job_transition") == 2);
  CHECK(transactions_of(xs, "complete_log") == 1);
  CHECK(check_histogram(xs) == 1);
  CHECK(bucket(xs, "0.001") == 0);
  CHECK(bucket(xs, "0.0025") == 1);
  CHECK(sample_of(xs, "conveyor_store_batch_writes", "_count") == 1);
  CHECK(sample_of(xs, "conveyor_store_batch_writes", "_sum") == 3);
  CHECK(sample_of(xs, "conveyor_store_batch_writes", "_bucket",
                  {{"le", "2"}})
        == 0);
  CHECK(sample_of(xs, "conveyor_store_batch_writes", "_bucket",
                  {{"le", "5"}})
        == 1);
  // A batch that fails to commit fails every write that had not failed yet.
  m.begin_batch();
  m.record_transaction(transaction_kind::requeue, 0.0001, false);
  m.record_transaction(transaction_kind::complete_log, 0.0001, true);
  m.end_batch(2, 0.001, true);
  xs = m.collect();
  CHECK(sample_of(xs, "conveyor_store_errors_total", "", {{"kind", "requeue"}})
        == 1);
  CHECK(sample_of(xs, "conveyor_store_errors_total", "",
                  {{"kind", "complete_log"}})
        == 2);
  CHECK(sample_of(xs, "conveyor_store_errors_total", "",
                  {{"kind", "job_transition"}})
        == 0);
  CHECK(check_histogram(xs) == 2);
  CHECK(sample_of(xs, "conveyor_store_batch_writes", "_bucket",
                  {{"le", "+Inf"}})
        == 2);
}

// -- a real store -------------------------------------------------------------

TEST_CASE("a store counts its transactions, failures and log writes") {
  temp_dir dir;
  auto store = value_of(sqlite_store::open(dir.file("metrics.db")));
  auto fresh = store.metrics();
  for (const auto& kind : kinds)
    CHECK(transactions_of(fresh, kind) == 0);
  CHECK(check_histogram(fresh) == 0);
  auto build = value_of(store.create_build(sample_build("m1")));
  value_of(store.create_build(sample_build("m1"))); // a retry is one too
  auto job_id = build.jobs[0].spec.job_id;
  CHECK(value_of(store.apply(job_state_changed{job_id, 1, job_state::queued,
                                               10, -1, ""})));
  CHECK_FALSE(value_of(store.apply(job_state_changed{
    job_id, 1, job_state::queued, 11, -1, ""}))); // stale, still counted
  CHECK(value_of(store.apply(build_state_changed{build.id,
                                                 build_state::started, 12})));
  CHECK(value_of(store.append_log_parts({{job_id, 1, 0, "hello ", false},
                                         {job_id, 1, 1, "world\n", true}}))
        == 2);
  CHECK(value_of(store.append_log_parts({{job_id, 1, 1, "world\n", true},
                                         {job_id, 2, 0, "!", false}}))
        == 1);
  CHECK(value_of(store.complete_log(job_id, 1)).bytes == 12);
  CHECK(is(error_of(store.complete_log(job_id, 7)), errc::store_failure));
  CHECK(value_of(store.requeue(job_requeue{job_id, 1, 13, "lost"})).spec.attempt
        == 2);
  value_of(store.fetch_build(build.id));
  value_of(store.fetch_builds(build_query{}));
  value_of(store.fetch_log(job_id, 1, 5));
  CHECK(is(error_of(store.fetch_job(job_id + 100)), errc::unknown_job));
  auto xs = store.metrics();
  CHECK(transactions_of(xs, "create_build") == 2);
  CHECK(transactions_of(xs, "job_transition") == 2);
  CHECK(transactions_of(xs, "build_transition") == 1);
  CHECK(transactions_of(xs, "log_parts") == 2);
  CHECK(transactions_of(xs, "complete_log") == 2);
  CHECK(transactions_of(xs, "requeue") == 1);
  CHECK(transactions_of(xs, "query") == 4);
  // Only store failures are errors; an unknown job is an answer.
  for (const auto& kind : kinds) {
    INFO(kind);
    CHECK(sample_of(xs, "conveyor_store_errors_total", "", {{"kind", kind}})
          == (kind == "complete_log" ? 1 : 0));
  }
  CHECK(sample_of(xs, "conveyor_store_log_parts_written_total") == 3);
  CHECK(sample_of(xs, "conveyor_store_log_bytes_written_total") == 13);
  CHECK(check_histogram(xs) == 2 + 2 + 1 + 2 + 2 + 1);
  CHECK(sample_of(xs, latency, "_sum") > 0);
  CHECK(bucket(xs, "1") <= 10);
  // Counting moves on.
  value_of(store.create_build(sample_build("m2")));
  auto later = store.metrics();
  CHECK(transactions_of(later, "create_build") == 3);
  CHECK(check_histogram(later) == 11);
}
