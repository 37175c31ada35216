#pragma once

// The store contract: one set of tests of `store_actor` (messages/store.hpp),
// written once and run against every adapter through a real actor system.
// A test is written as
//
//   STORE_CONTRACT_TEST("what it checks") {
//     auto build = create("req-1");   // members of `contract`
//     CHECK(...);
//   }
//
// which defines the Catch2 test cases "what it checks - sqlite" (tags
// [contract][sqlite]) and "what it checks - postgres" ([contract][postgres]).

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/expected.hpp>
#include <caf/scoped_actor.hpp>

#include "messages/error.hpp"
#include "messages/store.hpp"
#include "messages/type_ids.hpp"

namespace conveyor::testing {

/// The adapters the contract runs against.
enum class backend_kind { sqlite, postgres };

/// A database of one adapter for one test, and how to start store actors on
/// it. Every `spawn` opens another connection to the same database.
class backend {
public:
  virtual ~backend() = default;

  /// Spawns a store actor on the test's database.
  virtual caf::expected<store_actor> spawn(caf::actor_system& sys) = 0;

  /// Makes the database of kind `k`: a file in a fresh temp dir for SQLite,
  /// a fresh database on the test server for PostgreSQL.
  static std::unique_ptr<backend> make(backend_kind k);
};

/// How long a request may take before the test fails.
constexpr auto request_timeout = std::chrono::seconds(30);

/// Returns the value of `x`, failing the test with the error's text if none.
template <class T>
T value_of(caf::expected<T> x) {
  if (!x)
    FAIL("unexpected error: " << describe(x.error()));
  return std::move(*x);
}

/// True if `err` is the conveyor error `code`.
inline bool is(const caf::error& err, errc code) {
  return err.category() == errc_category
         && err.code() == static_cast<uint8_t>(code);
}

/// A build with every field set (pull request fields included), `jobs` jobs
/// and NUL bytes and invalid UTF-8 in free-form strings; its ids and numbers
/// are left for the store to fill in.
build_record sample_build(const std::string& request_id,
                          const std::string& slug = "octo/demo", int jobs = 2);

/// Returns `n` parts of a job attempt, numbered from 0, the last one final
/// if `last_final`.
std::vector<log_part> make_parts(int64_t job_id, int32_t attempt, int n,
                                 bool last_final = true);

/// Returns the concatenated content of `xs` numbered below `below`.
std::string text_of(const std::vector<log_part>& xs, int below = 1 << 30);

/// Returns the value of the sample of family `name` with `suffix` whose
/// labels are exactly `labels`, failing the test if there is none.
double sample_of(const metric_families& xs, const std::string& name,
                 const std::string& suffix = "",
                 const std::vector<metric_label>& labels = {});

/// The fixture of every contract test: an actor system and a store actor on
/// a fresh database of one adapter.
class contract {
public:
  explicit contract(backend_kind k);

  virtual ~contract();

  // -- requests ---------------------------------------------------------------

  /// Sends `xs` to `to` and answers the reply, failing the test on an error.
  template <class T, class... Ts>
  T ask_to(const store_actor& to, Ts... xs) {
    caf::scoped_actor self{*sys};
    std::optional<T> result;
    std::string error;
    self->request(to, request_timeout, std::move(xs)...)
      .receive([&result](T& x) { result = std::move(x); },
               [&error](caf::error& err) { error = describe(err); });
    INFO(error);
    REQUIRE(result);
    return std::move(*result);
  }

  /// Sends `xs` to the store and answers the reply, failing on an error.
  template <class T, class... Ts>
  T ask(Ts... xs) {
    return ask_to<T>(store, std::move(xs)...);
  }

  /// Sends `xs` to the store and answers the error, failing on a reply.
  template <class T, class... Ts>
  caf::error ask_error(Ts... xs) {
    caf::scoped_actor self{*sys};
    caf::error result;
    self->request(store, request_timeout, std::move(xs)...)
      .receive([](T&) { FAIL("expected an error"); },
               [&result](caf::error& err) { result = std::move(err); });
    REQUIRE(result);
    return result;
  }

  // -- shorthands -------------------------------------------------------------

  /// Creates `sample_build(request_id, slug, jobs)`.
  build_record create(const std::string& request_id,
                      const std::string& slug = "octo/demo", int jobs = 2);

  /// Sends a job transition of attempt `attempt`; answers whether applied.
  bool apply(int64_t job_id, int32_t attempt, job_state state, int64_t at,
             int32_t exit_code = -1, std::string reason = "");

  /// Sends a build transition; answers whether applied.
  bool set_build(int64_t build_id, build_state state, int64_t at);

  /// Runs attempt `attempt` of a job from created (or queued) to started.
  void start(int64_t job_id, int32_t attempt, int64_t at);

  /// Sends log parts; answers how many were new.
  int64_t append(std::vector<log_part> xs);

  /// Answers the stored log of a job attempt.
  std::string log_of(int64_t job_id, int32_t attempt);

  /// Answers the stored log parts of a job attempt numbered below `below`.
  std::string log_below(int64_t job_id, int32_t attempt, int32_t below);

  /// Answers `fetch_atom, build_atom`.
  build_record fetch_build(int64_t build_id);

  /// Answers `fetch_atom, job_atom`.
  job_record fetch_job(int64_t job_id);

  /// Answers `fetch_atom, build_query`.
  std::vector<build_record> list(build_query q);

  /// Answers `fetch_atom, unfinished_atom`.
  std::vector<build_record> unfinished();

  /// Answers `fetch_atom, log_atom, unfinished_atom`.
  std::vector<log_progress> open_logs();

  /// Answers `fetch_atom, metrics_atom`.
  metric_families metrics();

  /// Answers a requeue.
  job_record requeue(int64_t job_id, int32_t attempt, int64_t at,
                     std::string reason);

  /// Spawns another store actor on the same database, failing on an error.
  store_actor spawn_store();

  /// Stops `x` and waits until it is gone.
  void stop(const store_actor& x);

  backend_kind kind;
  std::unique_ptr<backend> db;
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  store_actor store;
};

} // namespace conveyor::testing

#define CONVEYOR_CONTRACT_CONCAT2(x, y) x##y
#define CONVEYOR_CONTRACT_CONCAT(x, y) CONVEYOR_CONTRACT_CONCAT2(x, y)

#define CONVEYOR_CONTRACT_TEST_IMPL(cls, name)                                 \
  namespace {                                                                  \
  struct cls : conveyor::testing::contract {                                   \
    using contract::contract;                                                  \
    void run();                                                                \
  };                                                                           \
  }                                                                            \
  TEST_CASE(name " - sqlite", "[contract][sqlite]") {                          \
    cls{conveyor::testing::backend_kind::sqlite}.run();                        \
  }                                                                            \
  TEST_CASE(name " - postgres", "[contract][postgres]") {                      \
    cls{conveyor::testing::backend_kind::postgres}.run();                      \
  }                                                                            \
  void cls::run()

/// Defines one contract test, run once per adapter; the body follows as the
/// body of a member function of `conveyor::testing::contract`.
#define STORE_CONTRACT_TEST(name)                                              \
  CONVEYOR_CONTRACT_TEST_IMPL(                                                 \
    CONVEYOR_CONTRACT_CONCAT(store_contract_test_, __LINE__), name)
