#pragma once

// A `conveyor serve` process for tests: started on a free port with its own
// data directory, stopped with a signal or killed outright.

#include <catch2/catch.hpp>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "adapters/http/client.hpp"
#include "tests/app/test_support.hpp"

namespace conveyor::test {

namespace fs = std::filesystem;

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
    // Everything the child needs is made before the fork: only
    // async-signal-safe calls may follow it in a process with threads.
    std::vector<char*> cargv;
    for (auto& x : argv)
      cargv.push_back(const_cast<char*>(x.c_str()));
    cargv.push_back(nullptr);
    std::vector<std::string> envs;
    for (char** e = environ; *e != nullptr; ++e)
      envs.emplace_back(*e);
    for (auto& kv : env) {
      auto name = kv.substr(0, kv.find('=') + 1);
      envs.erase(std::remove_if(envs.begin(), envs.end(),
                                [&name](const std::string& x) {
                                  return x.compare(0, name.size(), name) == 0;
                                }),
                 envs.end());
      envs.push_back(kv);
    }
    std::vector<char*> cenv;
    for (auto& x : envs)
      cenv.push_back(const_cast<char*>(x.c_str()));
    cenv.push_back(nullptr);
    pid_ = fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      auto out = open(out_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      auto err = open(err_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      dup2(out, STDOUT_FILENO);
      dup2(err, STDERR_FILENO);
      // The test's own descriptors (a fake server's listening socket) must
      // not live on in serve.
      ::close_range(3, ~0U, 0);
      execve(cargv[0], cargv.data(), cenv.data());
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
    return wait_exit(limit);
  }

  /// Waits for the process to exit on its own; answers its exit status (or
  /// kills it and fails after `limit`).
  int wait_exit(std::chrono::seconds limit = std::chrono::seconds(60)) {
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

  /// The exit status if the process has exited, nullopt while it runs.
  std::optional<int> poll_exit() {
    int status = 0;
    if (pid_ <= 0 || waitpid(pid_, &status, WNOHANG) != pid_)
      return std::nullopt;
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

  /// Waits until GET /readyz answers 200 (a refused connection counts as not
  /// ready: a standby hands its port over to the node it starts).
  void wait_ready() {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    auto ready = [this] {
      try {
        return call("GET", "/readyz").status == 200;
      } catch (const std::exception&) {
        return false;
      }
    };
    while (!ready()) {
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
