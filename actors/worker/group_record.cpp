#include "actors/worker/group_record.hpp"

#include <charconv>
#include <fstream>
#include <sstream>
#include <system_error>

#include <unistd.h>

#include "actors/worker/proc_stat.hpp"

namespace conveyor {

namespace fs = std::filesystem;

namespace {

template <class T>
bool parse_number(std::string_view text, T& out) {
  auto end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, out);
  return ec == std::errc{} && ptr == end;
}

} // namespace

fs::path group_record_path(const fs::path& workspace) {
  return workspace / ".conveyor" / "pgid";
}

std::string to_string(const group_record& x) {
  std::ostringstream out;
  out << "pgid=" << x.pgid << '\n'
      << "leader_start=" << x.leader_start << '\n'
      << "boot_id=" << x.boot_id << '\n'
      << "owner_pid=" << x.owner_pid << '\n'
      << "owner_start=" << x.owner_start << '\n'
      << "job_id=" << x.job_id << '\n'
      << "attempt=" << x.attempt << '\n'
      << "workspace=" << x.workspace.string() << '\n';
  return out.str();
}

std::optional<group_record> parse_group_record(std::string_view text) {
  group_record result;
  int found = 0;
  bool ok = true;
  while (!text.empty() && ok) {
    auto eol = text.find('\n');
    auto line = text.substr(0, eol);
    text.remove_prefix(eol == std::string_view::npos ? text.size() : eol + 1);
    auto eq = line.find('=');
    if (eq == std::string_view::npos)
      continue;
    auto key = line.substr(0, eq);
    auto value = line.substr(eq + 1);
    if (key == "pgid")
      ok = parse_number(value, result.pgid);
    else if (key == "leader_start")
      ok = parse_number(value, result.leader_start);
    else if (key == "boot_id")
      result.boot_id = std::string{value};
    else if (key == "owner_pid")
      ok = parse_number(value, result.owner_pid);
    else if (key == "owner_start")
      ok = parse_number(value, result.owner_start);
    else if (key == "job_id")
      ok = parse_number(value, result.job_id);
    else if (key == "attempt")
      ok = parse_number(value, result.attempt);
    else if (key == "workspace")
      result.workspace = std::string{value};
    else
      continue;
    ++found;
  }
  if (!ok || found < 8 || result.pgid <= 0 || result.boot_id.empty()
      || !result.workspace.is_absolute())
    return std::nullopt;
  return result;
}

std::optional<group_record> describe_group(pid_t pgid, int64_t job_id,
                                           int32_t attempt,
                                           const fs::path& workspace) {
  // Not cached: a forked child is another owner.
  auto owner = read_proc_stat(::getpid());
  auto leader = read_proc_stat(pgid);
  if (!leader || !owner)
    return std::nullopt;
  group_record result;
  result.pgid = pgid;
  result.leader_start = leader->start_time;
  result.boot_id = current_boot_id();
  result.owner_pid = ::getpid();
  result.owner_start = owner->start_time;
  result.job_id = job_id;
  result.attempt = attempt;
  result.workspace = workspace;
  return result;
}

std::optional<std::string> write_group_record(const group_record& x) {
  // No fsync: the record guards against a crash of the server, not of the
  // machine, and no process survives a reboot.
  auto file = group_record_path(x.workspace);
  auto tmp = file;
  tmp += ".tmp";
  {
    std::ofstream out{tmp, std::ios::binary | std::ios::trunc};
    out << to_string(x);
    out.close();
    if (!out)
      return "cannot write " + tmp.string();
  }
  std::error_code ec;
  fs::rename(tmp, file, ec);
  if (ec)
    return "cannot rename " + tmp.string() + ": " + ec.message();
  return std::nullopt;
}

std::optional<group_record> read_group_record(const fs::path& file) {
  std::ifstream in{file, std::ios::binary};
  if (!in)
    return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return parse_group_record(text.str());
}

} // namespace conveyor
