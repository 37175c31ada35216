#include "actors/worker/proc_stat.hpp"

#include <cerrno>
#include <charconv>
#include <sstream>

#include <fcntl.h>
#include <unistd.h>

namespace conveyor {

namespace {

template <class T>
bool parse_number(std::string_view text, T& out) {
  auto end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, out);
  return ec == std::errc{} && ptr == end;
}

} // namespace

std::optional<proc_stat> parse_proc_stat(std::string_view text) {
  // The name is the only field that may hold spaces or ')': it ends at the
  // last ')'.
  auto close = text.rfind(')');
  if (close == std::string_view::npos)
    return std::nullopt;
  std::istringstream in{std::string{text.substr(close + 1)}};
  std::string fields[20];
  for (auto& field : fields)
    if (!(in >> field))
      return std::nullopt;
  // fields[0] is field 3 of the file (state), fields[19] field 22.
  proc_stat result;
  if (fields[0].size() != 1 || !parse_number(fields[1], result.ppid)
      || !parse_number(fields[2], result.pgrp)
      || !parse_number(fields[3], result.session)
      || !parse_number(fields[19], result.start_time))
    return std::nullopt;
  result.state = fields[0][0];
  return result;
}

std::optional<proc_stat> read_proc_stat(pid_t pid) {
  auto text = read_proc_file(AT_FDCWD, "/proc/" + std::to_string(pid)
                                         + "/stat");
  if (!text)
    return std::nullopt;
  return parse_proc_stat(*text);
}

bool is_dead(const proc_stat& x) {
  return x.state == 'Z' || x.state == 'X';
}

std::optional<std::string> read_proc_file(int dirfd, const std::string& path) {
  int fd = ::openat(dirfd, path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return std::nullopt;
  std::string result;
  char buf[4096];
  for (;;) {
    auto n = ::read(fd, buf, sizeof(buf));
    if (n > 0) {
      result.append(buf, static_cast<size_t>(n));
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      ::close(fd);
      if (n < 0)
        return std::nullopt;
      return result;
    }
  }
}

std::string current_boot_id() {
  static const std::string id = [] {
    auto text = read_proc_file(AT_FDCWD, "/proc/sys/kernel/random/boot_id");
    if (!text)
      return std::string{};
    text->erase(text->find_last_not_of("\n") + 1);
    return *text;
  }();
  return id;
}

} // namespace conveyor
