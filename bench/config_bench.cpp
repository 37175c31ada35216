// How long the gatekeeper takes from a build config's text to its jobs, for a
// realistic 200-job Travis config. See bench/README.md.
//
// usage: config_bench [ITERATIONS] [STEP]
//   ITERATIONS per step (default 500); STEP runs only the steps whose name
//   contains it (e.g. "expand"), for profiling with perf.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <numeric>
#include <string>
#include <vector>

#include "actors/gatekeeper/approval.hpp"
#include "actors/gatekeeper/build_plan.hpp"
#include "actors/gatekeeper/config_yaml.hpp"
#include "actors/gatekeeper/repository.hpp"
#include "actors/gatekeeper/travis_config.hpp"
#include "actors/gatekeeper/travis_matrix.hpp"

using namespace conveyor;
using clock_type = std::chrono::steady_clock;

namespace {

// 1 os × 4 arch × 5 python × 10 env rows = 200 expanded jobs; the exclude
// drops 10 and the includes add 6 (2 of them skipped by their `if:` for a
// push to main); stages put lint first and deploy last: 194 jobs.
constexpr const char* config_text = R"(language: python
os: linux
dist: jammy
arch:
  - amd64
  - arm64
  - ppc64le
  - s390x
python:
  - "3.8"
  - "3.9"
  - "3.10"
  - "3.11"
  - "3.12"
if: type != cron OR branch = main
branches:
  only:
    - main
    - /^release-.*$/
    - /^v\d+\.\d+/
git:
  depth: 10
cache: pip
env:
  global:
    - PIP_DISABLE_PIP_VERSION_CHECK=1
    - PYTHONDONTWRITEBYTECODE=1 PYTEST_ADDOPTS="-q -x"
  jobs:
    - DB=sqlite SUITE=unit
    - DB=sqlite SUITE=integration
    - DB=postgres PGVERSION=13 SUITE=unit
    - DB=postgres PGVERSION=13 SUITE=integration
    - DB=postgres PGVERSION=16 SUITE=unit
    - DB=postgres PGVERSION=16 SUITE=integration
    - DB=mysql MYSQL=8.0 SUITE=unit
    - DB=mysql MYSQL=8.0 SUITE=integration
    - DB=mariadb MYSQL=10.11 SUITE=unit
    - DB=mariadb MYSQL=10.11 SUITE=integration EXTRA="slow tests"
stages:
  - lint
  - test
  - name: deploy
    if: branch = main AND type = push
before_install:
  - python --version
  - pip install -U pip wheel
install:
  - pip install -r requirements.txt
  - pip install -e .[test]
before_script:
  - ./ci/setup-db.sh "$DB"
script:
  - pytest tests/$SUITE
after_success:
  - ./ci/coverage.sh
after_failure:
  - cat build/test.log
jobs:
  fast_finish: true
  exclude:
    - arch: s390x
      python: "3.8"
  include:
    - stage: lint
      name: flake8
      python: "3.12"
      arch: amd64
      env: SUITE=lint
      script: flake8 .
    - stage: lint
      name: docs
      python: "3.12"
      arch: amd64
      script: make -C docs html
    - stage: test
      name: nightly
      python: "3.13-dev"
      arch: amd64
      env: DB=sqlite SUITE=unit
    - stage: deploy
      name: pypi
      python: "3.12"
      arch: amd64
      script: ./ci/deploy.sh
      if: tag IS present
    - stage: deploy
      name: docs site
      python: "3.12"
      arch: amd64
      script: ./ci/deploy-docs.sh
      if: branch = main AND env(SUITE) = unit
    - name: windows smoke
      os: windows
      language: shell
      script: ./ci/smoke.sh
      if: commit_message =~ /\[windows\]/
  allow_failures:
    - python: "3.13-dev"
    - arch: s390x
      env: DB=mariadb MYSQL=10.11 SUITE=integration EXTRA="slow tests"
    - name: docs
notifications:
  email: false
)";

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "config_bench: %s\n", what.c_str());
  std::exit(1);
}

const char* only_step = nullptr;

double percentile(std::vector<double> xs, double p) {
  std::sort(xs.begin(), xs.end());
  auto rank = static_cast<size_t>(
    p / 100.0 * static_cast<double>(xs.size() - 1) + 0.5);
  return xs[std::min(rank, xs.size() - 1)];
}

// The CPU time this thread has used, in ms: unlike the wall clock, it does
// not count the time other processes on a busy machine take.
double thread_cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3
         + static_cast<double>(ts.tv_nsec) / 1e6;
}

double mean_of(const std::vector<double>& xs) {
  return std::accumulate(xs.begin(), xs.end(), 0.0)
         / static_cast<double>(xs.size());
}

// Runs `step` `iterations` times after a warm-up; prints one table row.
void measure(const char* what, int iterations,
             const std::function<size_t()>& step) {
  if (only_step != nullptr
      && std::string{what}.find(only_step) == std::string::npos)
    return;
  size_t sink = 0;
  for (int i = 0; i < std::max(10, iterations / 20); ++i)
    sink += step();
  std::vector<double> wall;
  std::vector<double> cpu;
  wall.reserve(static_cast<size_t>(iterations));
  cpu.reserve(static_cast<size_t>(iterations));
  for (int i = 0; i < iterations; ++i) {
    auto cpu_start = thread_cpu_ms();
    auto start = clock_type::now();
    sink += step();
    auto stop = clock_type::now();
    cpu.push_back(thread_cpu_ms() - cpu_start);
    wall.push_back(
      std::chrono::duration<double, std::milli>(stop - start).count());
  }
  std::printf("| %s | %d | %.3f | %.3f | %.3f | %.3f | %.3f |\n", what,
              iterations, mean_of(wall), percentile(wall, 50),
              percentile(wall, 99), mean_of(cpu), percentile(cpu, 50));
  if (sink == 0)
    die("nothing was computed");
}

} // namespace

int main(int argc, char** argv) {
  int iterations = argc > 1 ? std::atoi(argv[1]) : 500;
  if (iterations <= 0)
    die("usage: config_bench [ITERATIONS] [STEP]");
  if (argc > 2)
    only_step = argv[2];
  std::string text = config_text;
  auto opts = gatekeeper_travis_options();
  build_request req;
  req.request_id = "00000000-0000-0000-0000-000000000000";
  req.source = "api";
  req.repo = "/srv/repos/project";
  req.slug = "acme/project";
  req.ref = "refs/heads/main";
  req.sha = "0123456789abcdef0123456789abcdef01234567";
  req.branch = "main";
  req.event = "push";
  req.commit_message = "Speed up the importer";
  auto data = request_data(req);
  config_file file{".travis.yml", text, {}};

  // Check the config plans what it is meant to, once.
  auto check = plan_build(req, file, job_limits{}, 0);
  if (check.state != build_state::created)
    die("the config does not plan a build: "
        + (check.messages.empty() ? std::string{"?"}
                                  : to_string(check.messages.back())));
  auto loaded = load_travis_config(text, opts);
  auto plan = plan_travis_jobs(loaded.config, data, opts);
  std::printf("config: %zu bytes, %zu jobs in %zu stages, %zu findings\n\n",
              text.size(), check.jobs.size(), plan.stages.size(),
              check.messages.size());

  std::printf("| step | iterations | mean ms | p50 ms | p99 ms | CPU mean ms "
              "| CPU p50 ms |\n");
  std::printf("|---|---|---|---|---|---|---|\n");
  measure("YAML → nodes (load_config_yaml)", iterations,
          [&text] { return load_config_yaml(text).root.size(); });
  auto raw = load_config_yaml(text).root;
  measure("normalize (normalize_travis_config)", iterations, [&raw, &opts] {
    return normalize_travis_config(raw, opts).config.size();
  });
  measure("expand (plan_travis_jobs)", iterations, [&loaded, &data, &opts] {
    return plan_travis_jobs(loaded.config, data, opts).jobs.size();
  });
  measure("text → jobs (load_travis_config + plan_travis_jobs)", iterations,
          [&text, &data, &opts] {
            auto config = load_travis_config(text, opts);
            return plan_travis_jobs(config.config, data, opts).jobs.size();
          });
  measure("text → build (plan_build)", iterations, [&req, &file] {
    return plan_build(req, file, job_limits{}, 0).jobs.size();
  });
  auto cached = plan_config(text);
  measure("cached config → build (plan_build with plan_config)", iterations,
          [&req, &file, &cached] {
            return plan_build(req, file, cached, job_limits{}, 0).jobs.size();
          });
  return 0;
}
