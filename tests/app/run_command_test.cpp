// `conveyor run` end to end: the real binary, real git repositories made from
// examples/, real job processes, and the SQLite file it leaves behind.
#include <catch2/catch.hpp>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/app/test_support.hpp"

namespace fs = std::filesystem;

namespace {

using temp_dir = conveyor::test::scratch_dir;
using conveyor::test::slurp;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

/// Makes a git repository from examples/NAME inside `dir`.
fs::path make_repo(const std::string& name, const temp_dir& dir) {
  return conveyor::test::example_repo(name, dir.path);
}

struct outcome {
  int code = -1;
  std::string out;
  std::string err;
};

/// Runs `conveyor ARGS...`; `while_running` gets the pid and the stdout file.
outcome run_conveyor(const std::vector<std::string>& args, const temp_dir& dir,
                 std::function<void(pid_t, const fs::path&)> while_running = {}) {
  auto out_path = dir.path / "stdout";
  auto err_path = dir.path / "stderr";
  auto pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    auto out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    auto err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(out, STDOUT_FILENO);
    dup2(err, STDERR_FILENO);
    std::vector<char*> argv;
    std::string binary = CONVEYOR_BINARY_DIR "/app/conveyor";
    argv.push_back(binary.data());
    for (auto& arg : args)
      argv.push_back(const_cast<char*>(arg.c_str()));
    argv.push_back(nullptr);
    execv(binary.c_str(), argv.data());
    _exit(127);
  }
  if (while_running)
    while_running(pid, out_path);
  int status = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(90);
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      FAIL("conveyor did not finish in 90 s");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  outcome result;
  result.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  result.out = slurp(out_path);
  result.err = slurp(err_path);
  UNSCOPED_INFO("stdout:\n" << result.out << "\nstderr:\n" << result.err);
  return result;
}

/// Waits until the file contains `text` (or 30 s passed).
void wait_for_text(const fs::path& path, const std::string& text) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!contains(slurp(path), text)) {
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

/// The lines a job printed, without their "[n.m] " prefix.
std::string printed_log(const std::string& out, const std::string& job) {
  std::string result;
  std::istringstream in{out};
  auto prefix = "[" + job + "] ";
  for (std::string line; std::getline(in, line);)
    if (line.compare(0, prefix.size(), prefix) == 0)
      result += line.substr(prefix.size()) + "\n";
  return result;
}

/// Rows of a query on the store a run left in `data`, columns joined by '|'.
std::vector<std::string> query(const fs::path& data, const std::string& sql) {
  sqlite3* db = nullptr;
  auto path = (data / "conveyor.db").string();
  REQUIRE(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr)
          == SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK);
  std::vector<std::string> rows;
  while (sqlite3_step(stmt) == SQLITE_ROW) {
    std::string row;
    for (int i = 0; i < sqlite3_column_count(stmt); ++i) {
      if (i > 0)
        row += '|';
      auto text = sqlite3_column_blob(stmt, i);
      row.append(static_cast<const char*>(text),
                 static_cast<size_t>(sqlite3_column_bytes(stmt, i)));
    }
    rows.push_back(row);
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return rows;
}

/// True if no process with one of the pids listed in `file` is alive.
bool all_gone(const fs::path& file) {
  std::istringstream in{slurp(file)};
  auto count = 0;
  for (pid_t pid; in >> pid; ++count)
    if (kill(pid, 0) == 0 || errno != ESRCH)
      return false;
  return count > 0;
}

} // namespace

TEST_CASE("run: the example build passes though its allowed failure fails") {
  temp_dir dir;
  auto repo = make_repo("demo", dir);
  auto data = dir.path / "data";
  auto r = run_conveyor({"run", repo.string(), "--data", data.string()}, dir);
  CHECK(r.code == 0);
  CHECK(contains(r.out, "Build #1 of repo-demo (main @ "));
  CHECK(contains(r.out, "3 jobs, request "));
  CHECK(contains(r.out, "[1.1] hello from conveyor"));
  CHECK(contains(r.out, "[1.1] unit test 3 ... ok"));
  CHECK(contains(r.out, "[1.2] integration: 3 tests passed"));
  CHECK(contains(r.out, "[1.3] experimental test 4 ... FAILED"));
  CHECK(contains(r.out, "[1.1] all unit tests passed"));
  CHECK(contains(r.out, "[1.3] the experimental suite failed"));
  CHECK(contains(r.out, "[1.3] job 1.3 of commit "));
  CHECK(contains(r.out, "[1.1] Done. Your build exited with 0."));
  CHECK(contains(r.out, "[1.3] Done. Your build exited with 1."));
  CHECK(contains(r.out, "1.1      passed"));
  CHECK(contains(r.out, "1.2      passed"));
  CHECK(contains(r.out, "1.3      failed"));
  CHECK(contains(r.out, "SUITE=experimental (allowed to fail)"));
  CHECK(contains(r.out, "Build #1 passed in "));

  // What was printed is what was stored, part for part.
  for (auto job : {"1.1", "1.2", "1.3"}) {
    auto index = std::string{job}.substr(2);
    auto stored = query(data, "SELECT l.content FROM logs l JOIN jobs j ON "
                              "j.id = l.job_id WHERE j.idx = " + index);
    REQUIRE(stored.size() == 1);
    auto printed = printed_log(r.out, job);
    CHECK(stored[0] + (stored[0].back() == '\n' ? "" : "\n") == printed);
  }
  CHECK(query(data, "SELECT state FROM builds") == std::vector<std::string>{"passed"});
  CHECK(query(data, "SELECT state FROM jobs ORDER BY idx")
        == std::vector<std::string>{"passed", "passed", "failed"});
  CHECK(query(data, "SELECT t.state FROM job_transitions t JOIN jobs j ON "
                    "j.id = t.job_id WHERE j.idx = 1 ORDER BY t.id")
        == std::vector<std::string>{"created", "queued", "received", "started",
                                    "passed"});
  CHECK(query(data, "SELECT COUNT(*) FROM log_parts") == std::vector<std::string>{"0"});

  // A second run on the same data is build #2.
  auto again = run_conveyor({"run", repo.string(), "--data", data.string(),
                         "--jobs", "1"}, dir);
  CHECK(again.code == 0);
  CHECK(contains(again.out, "Build #2 passed"));
}

TEST_CASE("run: a failing script command fails the build but the next one runs") {
  temp_dir dir;
  auto repo = make_repo("failing", dir);
  auto r = run_conveyor({"run", repo.string()}, dir);
  CHECK(r.code == 1);
  CHECK(contains(r.out, "[1.1] running the checks"));
  CHECK(contains(r.out, "[1.1] the second command ran"));
  CHECK(contains(r.out, "[1.1] after_failure ran"));
  CHECK(contains(r.out, "[1.1] after_script ran"));
  CHECK_FALSE(contains(r.out, "after_success ran"));
  CHECK(contains(r.out, "Build #1 failed"));
}

TEST_CASE("run: invalid YAML errors the build with the line and column") {
  temp_dir dir;
  auto repo = make_repo("invalid-yaml", dir);
  auto r = run_conveyor({"run", repo.string()}, dir);
  CHECK(r.code == 2);
  CHECK(contains(r.out, ".travis.yml: error: line 5, column "));
  CHECK(contains(r.out, "[syntax_error]"));
  CHECK(contains(r.out, "The build errored before any job ran."));
}

TEST_CASE("run: a repository without a config errors the build") {
  temp_dir dir;
  auto repo = make_repo("no-config", dir);
  auto r = run_conveyor({"run", repo.string()}, dir);
  CHECK(r.code == 2);
  CHECK(contains(r.out, "no .conveyor.yml or .travis.yml"));
}

TEST_CASE("run: the hard timeout stops the job and leaves no process") {
  temp_dir dir;
  auto repo = make_repo("sleepy", dir);
  auto data = dir.path / "data";
  auto r = run_conveyor({"run", repo.string(), "--data", data.string(), "--timeout",
                     "2s", "--kill-grace", "500ms"},
                    dir);
  CHECK(r.code == 2);
  CHECK(contains(r.out, "[1.1] sleeping now"));
  CHECK(contains(r.out, "exceeded the maximum time limit for jobs"));
  CHECK(contains(r.out, "1.1      errored"));
  CHECK(all_gone(data / "work" / "pids"));
}

TEST_CASE("run: the no-output timeout stops a silent job") {
  temp_dir dir;
  auto repo = make_repo("sleepy", dir);
  auto data = dir.path / "data";
  auto r = run_conveyor({"run", repo.string(), "--data", data.string(),
                     "--no-output-timeout", "1s", "--kill-grace", "500ms"},
                    dir);
  CHECK(r.code == 2);
  CHECK(contains(r.out, "No output has been received in the last"));
  CHECK(contains(r.out, "1.1      errored"));
  CHECK(all_gone(data / "work" / "pids"));
}

TEST_CASE("run: a log over the limit stops the job with a clear last line") {
  temp_dir dir;
  auto repo = make_repo("huge-log", dir);
  auto data = dir.path / "data";
  auto r = run_conveyor({"run", repo.string(), "--data", data.string(),
                     "--max-log-size", "64KiB"},
                    dir);
  CHECK(r.code == 2);
  CHECK(contains(r.out, "The job exceeded the maximum log length"));
  CHECK(contains(r.out, "1.1      errored"));
  auto stored = query(data, "SELECT content FROM logs");
  REQUIRE(stored.size() == 1);
  CHECK(stored[0].size() <= 64 * 1024 + 1024);
  CHECK(stored[0].size() >= 60 * 1024);
}

TEST_CASE("run: Ctrl-C cancels the build and kills its processes") {
  temp_dir dir;
  auto repo = make_repo("sleepy", dir);
  auto data = dir.path / "data";
  auto r = run_conveyor({"run", repo.string(), "--data", data.string(),
                     "--kill-grace", "500ms"},
                    dir, [](pid_t pid, const fs::path& out) {
                      wait_for_text(out, "[1.1] sleeping now");
                      kill(pid, SIGINT);
                    });
  CHECK(r.code == 2);
  CHECK(contains(r.err, "canceling the build"));
  CHECK(contains(r.out, "[1.1] Done. The job was canceled."));
  CHECK(contains(r.out, "1.1      canceled"));
  CHECK(contains(r.out, "Build #1 canceled"));
  CHECK(all_gone(data / "work" / "pids"));
  CHECK(query(data, "SELECT state FROM builds") == std::vector<std::string>{"canceled"});
}

TEST_CASE("run: bad usage and unknown refs exit 2 with a message") {
  temp_dir dir;
  auto repo = make_repo("demo", dir);
  auto r = run_conveyor({"run", repo.string(), "--jobs", "0"}, dir);
  CHECK(r.code == 2);
  CHECK(contains(r.err, "invalid count '0'"));
  r = run_conveyor({"run", "/nonexistent/repo"}, dir);
  CHECK(r.code == 2);
  CHECK(contains(r.err, "no such directory: /nonexistent/repo"));
  r = run_conveyor({"run", repo.string(), "--frobnicate"}, dir);
  CHECK(r.code == 2);
  CHECK(contains(r.err, "unknown option --frobnicate"));
  r = run_conveyor({"run", repo.string(), "--ref", "no-such-branch"}, dir);
  CHECK(r.code == 2);
  CHECK(contains(r.err, "no-such-branch"));
  r = run_conveyor({"run", dir.path.string()}, dir);
  CHECK(r.code == 2);
  CHECK_FALSE(r.err.empty());
  r = run_conveyor({"bogus"}, dir);
  CHECK(r.code == 2);
  CHECK(contains(r.err, "unknown command 'bogus'"));
}

TEST_CASE("run: --help and --version") {
  temp_dir dir;
  auto r = run_conveyor({"--version"}, dir);
  CHECK(r.code == 0);
  CHECK(contains(r.out, "conveyor 0.1.0"));
  r = run_conveyor({"run", "--help"}, dir);
  CHECK(r.code == 0);
  CHECK(contains(r.out, "usage: conveyor run [DIR] [options]"));
  r = run_conveyor({"--help"}, dir);
  CHECK(r.code == 0);
  CHECK(contains(r.out, "commands:"));
}
