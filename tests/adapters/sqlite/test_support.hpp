#pragma once

#include <atomic>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include <caf/expected.hpp>
#include <unistd.h>

#include "adapters/sqlite/database.hpp"
#include "messages/build.hpp"
#include "messages/error.hpp"
#include "messages/metrics.hpp"

namespace conveyor::testing {

/// A fresh directory under the system's temp dir, removed with its contents.
class temp_dir {
public:
  temp_dir() {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::temp_directory_path()
            / ("conveyor-sqlite-" + std::to_string(::getpid()) + "-"
               + std::to_string(counter++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }

  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }

  /// Returns the path of `name` inside the directory.
  std::string file(const std::string& name) const {
    return (path_ / name).string();
  }

private:
  std::filesystem::path path_;
};

/// Returns the value of `x`, failing the test with the error's text if none.
template <class T>
T value_of(caf::expected<T> x) {
  if (!x)
    FAIL("unexpected error: " << describe(x.error()));
  return std::move(*x);
}

/// Returns the error of `x`, failing the test if it holds a value.
template <class T>
caf::error error_of(caf::expected<T> x) {
  if (x)
    FAIL("expected an error, got a value");
  return std::move(x.error());
}

/// True if `err` is the conveyor error `code`.
inline bool is(const caf::error& err, errc code) {
  return err.category() == errc_category
         && err.code() == static_cast<uint8_t>(code);
}

/// Runs `sql` on a separate connection to `path`; answers its first column of
/// the first row as an integer.
inline int64_t query_int(const std::string& path, const char* sql) {
  auto db = sqlite::database::open(path);
  auto stmt = db.prepare(sql);
  REQUIRE(stmt.step());
  return stmt.int64(0);
}

/// Returns the family `name` of `xs`, failing the test if there is none.
inline const metric_family& family_of(const metric_families& xs,
                                      const std::string& name) {
  for (const auto& x : xs)
    if (x.name == name)
      return x;
  FAIL("no metric family " << name);
  return xs.front(); // not reached: FAIL throws
}

/// Returns the value of the sample of family `name` with `suffix` whose
/// labels are exactly `labels`, failing the test if there is none.
inline double sample_of(const metric_families& xs, const std::string& name,
                        const std::string& suffix = "",
                        const std::vector<metric_label>& labels = {}) {
  for (const auto& sample : family_of(xs, name).samples) {
    if (sample.suffix != suffix || sample.labels.size() != labels.size())
      continue;
    auto same = true;
    for (size_t i = 0; i < labels.size(); ++i)
      same = same && sample.labels[i].name == labels[i].name
             && sample.labels[i].value == labels[i].value;
    if (same)
      return sample.value;
  }
  FAIL("no sample " << name << suffix << " with the labels asked for");
  return 0;
}

/// Returns `conveyor_store_transactions_total{kind="<kind>"}` of `xs`.
inline double transactions_of(const metric_families& xs,
                              const std::string& kind) {
  return sample_of(xs, "conveyor_store_transactions_total", "",
                   {{"kind", kind}});
}

/// A build with every field set, `jobs` jobs and non-UTF-8 bytes in a few
/// strings; its ids and numbers are left for the store to fill in.
inline build_record sample_build(const std::string& request_id,
                                 const std::string& slug = "octo/demo",
                                 int jobs = 2) {
  build_record x;
  auto& r = x.request;
  r.request_id = request_id;
  r.source = "webhook";
  r.repo = "https://example.com/" + slug + ".git";
  r.slug = slug;
  r.ref = "refs/heads/main";
  r.sha = "0123456789abcdef0123456789abcdef01234567";
  r.branch = "main";
  r.tag = "";
  r.event = "push";
  r.commit_message = std::string("Fix \xff\xfe it\0 now\n\nbody", 21);
  r.sender = "octocat";
  x.state = build_state::created;
  x.fast_finish = true;
  x.config = ".travis.yml";
  x.messages = {{"warn", "env.jobs", "unknown_key", "unknown key \"jobz\"", 3, 5},
                {"info", "", "", std::string("caf\xc3\xa9 \x80", 8), 0, 0}};
  x.created_at_ms = 1700000000000;
  for (int i = 1; i <= jobs; ++i) {
    job_record job;
    auto& s = job.spec;
    s.index = i;
    s.request_id = request_id;
    s.repo = r.repo;
    s.slug = slug;
    s.sha = r.sha;
    s.branch = r.branch;
    s.event = r.event;
    s.commit_message = r.commit_message;
    s.env = {{"GLOBAL", "1"},
             {"JOB", std::to_string(i)},
             {"BYTES", std::string("a\0b\xff", 4)},
             {"NUL", std::string("x\0y", 3)}};
    s.phases.before_install = {"echo before_install"};
    s.phases.install = {"make deps"};
    s.phases.before_script = {"echo before_script"};
    s.phases.script = {"make test", "./check.sh " + std::to_string(i)};
    s.phases.after_success = {"echo yay"};
    s.phases.after_failure = {"cat log.txt"};
    s.phases.after_script = {"echo done"};
    s.allow_failure = i == jobs;
    s.limits = {1000 * i, 2000 * i, 3000 * i};
    job.created_at_ms = 1700000000001;
    x.jobs.push_back(std::move(job));
  }
  return x;
}

} // namespace conveyor::testing
