#pragma once

// A `conveyor serve` process for tests: started on a free port with its own
// data directory, stopped with a signal or killed outright.

#include <catch2/catch.hpp>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "adapters/http/client.hpp"

namespace conveyor::test {

namespace fs = std::filesystem;

inline std::string slurp(const fs::path& path) {
  std::ifstream in{path, std::ios::binary};
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

/// A temporary directory, removed with everything in it.
struct scratch_dir {
  fs::path path;

  scratch_dir() {
    char pattern[] = "/tmp/conveyor-serve-test-XXXXXX";
    REQUIRE(mkdtemp(pattern) != nullptr);
    path = pattern;
  }

  ~scratch_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

/// Makes a git repository from examples/NAME, or from a config text.
inline std::string example_repo(const std::string& name, const fs::path& dir) {
  auto dest = dir / ("repo-" + name);
  auto cmd = std::string{CONVEYOR_SOURCE_DIR "/examples/make-repo "} + name
             + " " + dest.string() + " >/dev/null";
  REQUIRE(std::system(cmd.c_str()) == 0);
  return dest.string();
}

inline std::string config_repo(const std::string& config, const fs::path& dir,
                               const std::string& name = "repo") {
  auto repo = dir / name;
  fs::create_directories(repo);
  std::ofstream{repo / ".travis.yml"} << config;
  auto cmd = "cd " + repo.string()
             + " && git init -q -b main && git add -A && git -c user.name=t"
               " -c user.email=t@t.invalid commit -qm test";
  REQUIRE(std::system(cmd.c_str()) == 0);
  return repo.string();
}

class serve_process {
public:
  /// Starts `conveyor serve` on `data` with extra arguments and environment.
  serve_process(const fs::path& data, std::vector<std::string> args = {},
                std::vector<std::string> env = {})
    : data_(data) {
    fs::create_directories(data);
    out_ = data.parent_path() / (data.filename().string() + ".stdout");
    err_ = data.parent_path() / (data.filename().string() + ".stderr");
    std::vector<std::string> argv{CONVEYOR_BINARY_DIR "/app/conveyor", "serve",
                                  "--data", data.string(), "--http",
                                  "127.0.0.1:0", "--log-level", "info"};
    argv.insert(argv.end(), args.begin(), args.end());
    // Truncated before the fork: a restart must not read the last port.
    std::ofstream{out_, std::ios::trunc};
    std::ofstream{err_, std::ios::trunc};
    pid_ = fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      auto out = open(out_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      auto err = open(err_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      dup2(out, STDOUT_FILENO);
      dup2(err, STDERR_FILENO);
      for (auto& kv : env)
        putenv(const_cast<char*>(kv.c_str()));
      std::vector<char*> cargv;
      for (auto& x : argv)
        cargv.push_back(const_cast<char*>(x.c_str()));
      cargv.push_back(nullptr);
      execv(cargv[0], cargv.data());
      _exit(127);
    }
    port_ = wait_for_port();
  }

  ~serve_process() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }

  uint16_t port() const {
    return port_;
  }

  pid_t pid() const {
    return pid_;
  }

  std::string stderr_text() const {
    return slurp(err_);
  }

  /// Sends `sig` and waits for the exit status (or fails after `limit`).
  int stop(int sig = SIGTERM, std::chrono::seconds limit = std::chrono::seconds(60)) {
    kill(pid_, sig);
    int status = 0;
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        kill(pid_, SIGKILL);
        waitpid(pid_, &status, 0);
        pid_ = -1;
        FAIL("serve did not stop in time");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

  /// Kills the process at once, as a crash would.
  void crash() {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  http::client_response call(const std::string& method, const std::string& target,
                             const std::string& body = {},
                             std::map<std::string, std::string> headers = {}) {
    return http::fetch("127.0.0.1", port_, method, target, body, headers);
  }

  /// Waits until GET /readyz answers 200.
  void wait_ready() {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (call("GET", "/readyz").status != 200) {
      REQUIRE(std::chrono::steady_clock::now() < deadline);
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }

private:
  uint16_t wait_for_port() {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    const std::string marker = "listening on http://127.0.0.1:";
    for (;;) {
      auto text = slurp(out_);
      auto at = text.rfind(marker);
      if (at != std::string::npos) {
        auto rest = text.substr(at + marker.size());
        auto end = rest.find_first_not_of("0123456789");
        if (end != std::string::npos && end > 0)
          return static_cast<uint16_t>(std::stoi(rest.substr(0, end)));
      }
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        FAIL("serve exited early: " << slurp(err_));
      }
      REQUIRE(std::chrono::steady_clock::now() < deadline);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  fs::path data_;
  fs::path out_;
  fs::path err_;
  pid_t pid_ = -1;
  uint16_t port_ = 0;
};

} // namespace conveyor::test
