// Helpers shared by the worker tests: temp dirs, git repositories, shell.
#pragma once

#include <array>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

#include "messages/log.hpp"

namespace conveyor::test {

/// A fresh directory under /tmp, removed with everything in it at the end.
class temp_dir {
public:
  temp_dir() {
    std::string tmpl = "/tmp/conveyor-worker-test-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr)
      throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }

  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }

  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  const std::filesystem::path& path() const {
    return path_;
  }

private:
  std::filesystem::path path_;
};

/// Runs `cmd` with /bin/sh and returns its stdout; throws if it fails.
inline std::string shell(const std::string& cmd) {
  auto pipe = ::popen(cmd.c_str(), "r");
  if (pipe == nullptr)
    throw std::runtime_error("popen failed: " + cmd);
  std::string out;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0)
    out.append(buf.data(), n);
  if (::pclose(pipe) != 0)
    throw std::runtime_error("command failed: " + cmd);
  return out;
}

/// Writes `text` to `file`.
inline void write_file(const std::filesystem::path& file,
                       const std::string& text) {
  std::ofstream out{file, std::ios::binary | std::ios::trunc};
  out << text;
}

/// Returns the content of `file`, or "" if it cannot be read.
inline std::string read_file(const std::filesystem::path& file) {
  std::ifstream in{file, std::ios::binary};
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

/// A git repository with one commit holding `hello.txt`.
struct git_repo {
  std::filesystem::path dir;
  std::string sha;
};

inline git_repo make_git_repo(const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  write_file(dir / "hello.txt", "hello from the repository\n");
  auto d = "'" + dir.string() + "'";
  shell("git -C " + d + " init -q -b main && git -C " + d
        + " add hello.txt && git -C " + d
        + " -c user.name=t -c user.email=t@example.com commit -q -m first");
  auto sha = shell("git -C " + d + " rev-parse HEAD");
  sha.erase(sha.find_last_not_of("\n") + 1);
  return {dir, sha};
}

/// True if no process has the pid any more (zombies still count).
inline bool pid_gone(pid_t pid) {
  return ::kill(pid, 0) != 0 && errno == ESRCH;
}

/// Waits up to `ms` for `pid` to be gone (reaped); returns whether it is.
inline bool wait_gone(pid_t pid, int ms = 2000) {
  for (int waited = 0; !pid_gone(pid); waited += 10) {
    if (waited >= ms)
      return false;
    ::usleep(10000);
  }
  return true;
}

/// Starts `sleep 600` as the leader of a process group of its own, with
/// exactly `env` as its environment; returns its pid. The caller kills and
/// reaps it.
inline pid_t spawn_sleeper(const std::vector<std::string>& env = {}) {
  // Everything allocated before fork: the child only calls async-signal-safe
  // functions.
  std::vector<char*> envp;
  for (const auto& entry : env)
    envp.push_back(const_cast<char*>(entry.c_str()));
  envp.push_back(nullptr);
  char arg0[] = "sleep";
  char arg1[] = "600";
  char* argv[] = {arg0, arg1, nullptr};
  pid_t pid = ::fork();
  if (pid == 0) {
    ::setpgid(0, 0);
    ::execve("/bin/sleep", argv, envp.data());
    ::_exit(127);
  }
  if (pid > 0)
    ::setpgid(pid, pid); // whichever of the two runs first
  return pid;
}

/// Kills `pid` and reaps it, if it is a child of ours.
inline void kill_and_reap(pid_t pid) {
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
}

/// Waits up to `ms` for `file` to hold a pid; returns it, or 0.
inline pid_t wait_for_pid(const std::filesystem::path& file, int ms = 5000) {
  for (int waited = 0;; waited += 10) {
    auto text = read_file(file);
    if (!text.empty() && text.back() == '\n')
      return static_cast<pid_t>(std::stol(text));
    if (waited >= ms)
      return 0;
    ::usleep(10000);
  }
}

/// The concatenated content of `parts`.
inline std::string joined(const std::vector<log_part>& parts) {
  std::string result;
  for (const auto& part : parts)
    result += part.content;
  return result;
}

/// Returns the last non-empty line of `text`.
inline std::string last_line(const std::string& text) {
  auto end = text.find_last_not_of('\n');
  if (end == std::string::npos)
    return "";
  auto begin = text.rfind('\n', end);
  begin = begin == std::string::npos ? 0 : begin + 1;
  return text.substr(begin, end - begin + 1);
}

} // namespace conveyor::test
