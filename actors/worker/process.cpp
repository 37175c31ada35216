#include "actors/worker/process.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <mutex>
#include <optional>

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace conveyor {

namespace {

using clock = process_options::clock;
using std::chrono::milliseconds;

constexpr milliseconds tick_interval{50};

// After SIGKILL, a process stuck in the kernel (D state) may never go away;
// past this we stop waiting rather than hang the worker.
constexpr milliseconds reap_cap{5000};

// Per read, so a flood of output never starves the limit checks.
constexpr size_t read_budget = 1024 * 1024;

void become_subreaper() {
  static std::once_flag flag;
  std::call_once(flag, [] { ::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); });
}

std::string errno_text(const char* what, int err) {
  return std::string{what} + ": " + std::strerror(err);
}

std::vector<char*> c_strings(const std::vector<std::string>& xs) {
  std::vector<char*> result;
  result.reserve(xs.size() + 1);
  for (const auto& x : xs)
    result.push_back(const_cast<char*>(x.c_str()));
  result.push_back(nullptr);
  return result;
}

struct spawn_result {
  pid_t pid = -1;
  int out_fd = -1;
  std::string error;
};

spawn_result spawn(const process_options& opts) {
  spawn_result result;
  if (opts.argv.empty()) {
    result.error = "no program to run";
    return result;
  }
  // O_CLOEXEC everywhere: other threads may spawn at the same time, and a
  // leaked write end would keep our pipe open in a stranger's process.
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    result.error = errno_text("pipe2", errno);
    return result;
  }
  int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (devnull < 0) {
    result.error = errno_text("open /dev/null", errno);
    ::close(fds[0]);
    ::close(fds[1]);
    return result;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, devnull, STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDERR_FILENO);
  // Libraries open descriptors without O_CLOEXEC (Asio's sockets, the
  // HTTP API's listening one among them): a job, or a daemon it leaves
  // behind, must hold none of them.
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  if (!opts.cwd.empty())
    posix_spawn_file_actions_addchdir_np(&actions, opts.cwd.c_str());
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF
                                    | POSIX_SPAWN_SETSIGMASK);
  posix_spawnattr_setpgroup(&attr, 0);
  sigset_t all;
  sigfillset(&all);
  posix_spawnattr_setsigdefault(&attr, &all);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  auto argv = c_strings(opts.argv);
  auto envp = c_strings(opts.env);
  int rc = ::posix_spawnp(&result.pid, argv[0], &actions, &attr, argv.data(),
                          envp.data());
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&actions);
  ::close(devnull);
  ::close(fds[1]);
  if (rc != 0) {
    ::close(fds[0]);
    result.pid = -1;
    result.error = errno_text(("cannot start " + opts.argv[0]).c_str(), rc);
    return result;
  }
  ::fcntl(fds[0], F_SETFL, ::fcntl(fds[0], F_GETFL) | O_NONBLOCK);
  result.out_fd = fds[0];
  return result;
}

// Watches one spawned process group until it is gone. The group id is the
// leader's pid, which stays reserved while any member (zombies included)
// exists, so signalling -pgid never hits a stranger while we still wait.
class watcher {
public:
  watcher(const process_options& opts, const spawn_result& child,
          clock::time_point started)
    : opts_(opts), pid_(child.pid), fd_(child.out_fd),
      // Readable once the leader exits; without it (old kernels), its exit is
      // only seen at the next tick.
      pidfd_(static_cast<int>(::syscall(SYS_pidfd_open, child.pid, 0))), started_(started),
      last_output_(started) {
  }

  watcher(const watcher&) = delete;
  watcher& operator=(const watcher&) = delete;

  // Only reached with work left when a callback threw: leave no process.
  ~watcher() {
    if (!done_) {
      ::kill(-pid_, SIGKILL);
      if (!leader_done_)
        ::waitpid(pid_, nullptr, 0);
      reap_group();
    }
    close_pipe();
    if (pidfd_ >= 0)
      ::close(pidfd_);
  }

  process_result run() {
    for (;;) {
      wait_for_output(next_wakeup(clock::now()));
      auto now = clock::now();
      read_output(now);
      if (!leader_done_)
        check_leader();
      if (opts_.on_tick)
        opts_.on_tick(now);
      if (!stopping_)
        check_limits(now);
      if (leader_done_ && !stopping_)
        begin_stop(now); // whatever the job left behind in its group
      if (stopping_) {
        escalate(now);
        reap_group();
        if (leader_done_ && group_gone())
          break;
        if (killed_ && now - kill_at_ >= reap_cap) {
          survived_ = !group_gone();
          break;
        }
      }
    }
    // What the group wrote before it died is still in the pipe; a process
    // that escaped the group may hold it open forever, so read once, no wait.
    read_output(clock::now());
    done_ = true;
    return make_result();
  }

private:
  milliseconds next_wakeup(clock::time_point now) const {
    auto next = now + tick_interval;
    const auto& lim = opts_.limits;
    if (!stopping_ && lim.timeout.count() > 0)
      next = std::min(next, started_ + lim.timeout);
    if (!stopping_ && lim.no_output_timeout.count() > 0)
      next = std::min(next, last_output_ + lim.no_output_timeout);
    if (stopping_ && !killed_)
      next = std::min(next, term_at_ + lim.kill_grace);
    auto wait = std::chrono::ceil<milliseconds>(next - now);
    return std::clamp(wait, milliseconds{0}, tick_interval);
  }

  // Waits for output, the leader's exit or the next tick. The exit matters:
  // the pipe may close a moment before the leader can be reaped.
  void wait_for_output(milliseconds timeout) {
    pollfd fds[2];
    nfds_t count = 0;
    if (fd_ >= 0)
      fds[count++] = {fd_, POLLIN, 0};
    if (pidfd_ >= 0 && !leader_done_)
      fds[count++] = {pidfd_, POLLIN, 0};
    ::poll(fds, count, static_cast<int>(timeout.count()));
  }

  void read_output(clock::time_point now) {
    char buf[65536];
    size_t total = 0;
    while (fd_ >= 0 && total < read_budget) {
      auto n = ::read(fd_, buf, sizeof(buf));
      if (n > 0) {
        total += static_cast<size_t>(n);
        last_output_ = now;
        deliver(std::string_view{buf, static_cast<size_t>(n)}, now);
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        return;
      } else {
        close_pipe(); // EOF: every writer is gone
      }
    }
  }

  void deliver(std::string_view bytes, clock::time_point now) {
    auto max = opts_.limits.max_output_bytes;
    if (max > 0 && output_bytes_ + static_cast<int64_t>(bytes.size()) > max) {
      bytes = bytes.substr(0, static_cast<size_t>(
                                std::max<int64_t>(0, max - output_bytes_)));
      if (!stopping_) {
        reason_ = process_end::log_too_large;
        begin_stop(now);
      }
    }
    if (bytes.empty())
      return;
    output_bytes_ += static_cast<int64_t>(bytes.size());
    if (opts_.on_output)
      opts_.on_output(bytes, now);
  }

  void check_leader() {
    int status = 0;
    auto rc = ::waitpid(pid_, &status, WNOHANG);
    if (rc == pid_)
      leader_exited(status);
    else if (rc < 0 && errno == ECHILD)
      leader_exited(-1); // reaped elsewhere; nothing more to learn
  }

  void leader_exited(int status) {
    leader_done_ = true;
    leader_status_ = status;
  }

  void check_limits(clock::time_point now) {
    const auto& lim = opts_.limits;
    if (opts_.cancel != nullptr && opts_.cancel->load())
      reason_ = process_end::canceled;
    else if (lim.timeout.count() > 0 && now - started_ >= lim.timeout)
      reason_ = process_end::timed_out;
    else if (lim.no_output_timeout.count() > 0
             && now - last_output_ >= lim.no_output_timeout)
      reason_ = process_end::silent;
    if (reason_)
      begin_stop(now);
  }

  void begin_stop(clock::time_point now) {
    stopping_ = true;
    term_at_ = now;
    ::kill(-pid_, SIGTERM);
    escalate(now);
  }

  void escalate(clock::time_point now) {
    if (!killed_ && now - term_at_ >= opts_.limits.kill_grace) {
      ::kill(-pid_, SIGKILL);
      killed_ = true;
      kill_at_ = now;
    }
  }

  // Orphans of the group are reparented to us (we are a subreaper).
  void reap_group() {
    int status = 0;
    pid_t rc;
    while ((rc = ::waitpid(-pid_, &status, WNOHANG)) > 0)
      if (rc == pid_)
        leader_exited(status);
  }

  bool group_gone() const {
    return ::kill(-pid_, 0) != 0 && errno == ESRCH;
  }

  void close_pipe() {
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }

  process_result make_result() const {
    process_result result;
    result.started_at = started_;
    result.ended_at = clock::now();
    result.output_bytes = output_bytes_;
    result.group_survived = survived_;
    if (leader_done_ && leader_status_ >= 0) {
      if (WIFEXITED(leader_status_))
        result.exit_code = WEXITSTATUS(leader_status_);
      else if (WIFSIGNALED(leader_status_))
        result.signal = WTERMSIG(leader_status_);
    }
    if (reason_)
      result.how = *reason_;
    else if (result.signal != 0)
      result.how = process_end::signaled;
    else
      result.how = process_end::exited;
    return result;
  }

  const process_options& opts_;
  pid_t pid_;
  int fd_;
  int pidfd_;
  clock::time_point started_;
  clock::time_point last_output_;
  int64_t output_bytes_ = 0;
  bool leader_done_ = false;
  int leader_status_ = -1;
  std::optional<process_end> reason_;
  bool stopping_ = false;
  clock::time_point term_at_;
  bool killed_ = false;
  clock::time_point kill_at_;
  bool survived_ = false;
  bool done_ = false;
};

} // namespace

std::string to_string(process_end x) {
  switch (x) {
    case process_end::exited: return "exited";
    case process_end::signaled: return "signaled";
    case process_end::timed_out: return "timed_out";
    case process_end::silent: return "silent";
    case process_end::log_too_large: return "log_too_large";
    case process_end::canceled: return "canceled";
    case process_end::failed_to_start: return "failed_to_start";
  }
  return "unknown";
}

process_result run_process(const process_options& opts) {
  become_subreaper();
  auto started = clock::now();
  auto child = spawn(opts);
  if (child.pid < 0) {
    process_result result;
    result.how = process_end::failed_to_start;
    result.error = std::move(child.error);
    result.started_at = started;
    result.ended_at = clock::now();
    return result;
  }
  watcher w{opts, child, started};
  if (opts.on_spawned)
    opts.on_spawned(child.pid);
  return w.run();
}

} // namespace conveyor
