#include "actors/worker/process_handle.hpp"

#include <cerrno>
#include <csignal>
#include <utility>

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace conveyor {

namespace {

// Through syscall(2): glibc 2.36's <sys/pidfd.h> lacks extern "C", so its
// wrapper does not link from C++.
int send_signal(int pidfd, int sig) {
  return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, sig,
                                    nullptr, 0U));
}

} // namespace

std::optional<process_handle> process_handle::open(pid_t pid) {
  if (pid <= 0)
    return std::nullopt;
  auto path = "/proc/" + std::to_string(pid);
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return std::nullopt;
  return process_handle{pid, fd};
}

process_handle::process_handle(process_handle&& other) noexcept
  : pid_(other.pid_), dirfd_(std::exchange(other.dirfd_, -1)) {
}

process_handle& process_handle::operator=(process_handle&& other) noexcept {
  if (this != &other) {
    if (dirfd_ >= 0)
      ::close(dirfd_);
    pid_ = other.pid_;
    dirfd_ = std::exchange(other.dirfd_, -1);
  }
  return *this;
}

process_handle::~process_handle() {
  if (dirfd_ >= 0)
    ::close(dirfd_);
}

bool process_handle::alive() const {
  // EPERM: it exists, it is just not ours to signal.
  return send_signal(dirfd_, 0) == 0 || errno == EPERM;
}

std::optional<proc_stat> process_handle::stat() const {
  auto text = read_proc_file(dirfd_, "stat");
  if (!text)
    return std::nullopt;
  return parse_proc_stat(*text);
}

std::vector<std::string> process_handle::environment() const {
  std::vector<std::string> result;
  auto text = read_proc_file(dirfd_, "environ");
  if (!text)
    return result;
  size_t begin = 0;
  while (begin < text->size()) {
    auto end = text->find('\0', begin);
    if (end == std::string::npos)
      end = text->size();
    if (end > begin)
      result.push_back(text->substr(begin, end - begin));
    begin = end + 1;
  }
  return result;
}

bool process_handle::signal(int sig) const {
  return send_signal(dirfd_, sig) == 0;
}

} // namespace conveyor
