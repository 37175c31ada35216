#include "actors/worker/orphans.hpp"

#include <algorithm>
#include <charconv>
#include <csignal>
#include <map>
#include <optional>
#include <system_error>
#include <thread>

#include <sys/wait.h>

#include "actors/worker/group_record.hpp"
#include "actors/worker/proc_stat.hpp"
#include "actors/worker/process_handle.hpp"
#include "actors/worker/remove_tree.hpp"

namespace conveyor {

namespace fs = std::filesystem;

namespace {

using clock = std::chrono::steady_clock;

constexpr std::chrono::milliseconds poll_interval{10};

// The processes whose group is `pgid` and that have not ended.
std::vector<pid_t> live_members(pid_t pgid) {
  std::vector<pid_t> result;
  std::error_code ec;
  for (auto i = fs::directory_iterator("/proc", ec);
       !ec && i != fs::directory_iterator(); i.increment(ec)) {
    auto name = i->path().filename().string();
    pid_t pid = 0;
    auto end = name.data() + name.size();
    if (std::from_chars(name.data(), end, pid).ptr != end || pid <= 0)
      continue;
    auto st = read_proc_stat(pid);
    if (st && st->pgrp == pgid && !is_dead(*st))
      result.push_back(pid);
  }
  return result;
}

bool owner_alive(const group_record& rec) {
  if (rec.owner_pid <= 0)
    return false;
  auto st = read_proc_stat(rec.owner_pid);
  return st && !is_dead(*st) && st->start_time == rec.owner_start;
}

// The variables job_environment gives every process of the attempt; a job
// may change them, but then its processes are only left alone, not mistaken.
bool has_job_marks(const process_handle& h, const group_record& rec) {
  auto env = h.environment();
  auto has = [&env](const std::string& entry) {
    return std::find(env.begin(), env.end(), entry) != env.end();
  };
  return has("CONVEYOR_JOB_ID=" + std::to_string(rec.job_id))
         && has("CONVEYOR_JOB_ATTEMPT=" + std::to_string(rec.attempt))
         && has("HOME=" + rec.workspace.string());
}

enum class fate {
  done,    // nothing of the group is left (or nothing was ever found)
  in_use,  // its server lives: not an orphan
  foreign, // processes in the group cannot be verified as the job's
  stuck,   // still alive when the wait was over
};

// Finds, stops and kills the verified processes of one recorded group.
class group_reaper {
public:
  explicit group_reaper(const group_record& rec) : rec_(rec) {
  }

  fate run(clock::time_point deadline) {
    if (rec_.boot_id != current_boot_id())
      return fate::done; // no process survives a reboot
    if (owner_alive(rec_))
      return fate::in_use;
    if (auto leader = process_handle::open(rec_.pgid)) {
      auto st = leader->stat();
      if (st && st->start_time != rec_.leader_start)
        return fate::done; // the pid was reused: the group is long gone
      if (st && !is_dead(*st))
        add(std::move(*leader));
    }
    for (;;) {
      reap_children();
      bool fresh = false;
      bool strangers = false;
      bool ours = false;
      for (auto pid : live_members(rec_.pgid)) {
        if (auto i = members_.find(pid); i != members_.end()) {
          if (i->second.handle.alive()) {
            ours = true;
            continue;
          }
          forget(i); // gone; the pid belongs to someone new
        }
        switch (adopt(pid)) {
          case adoption::adopted:
            fresh = ours = true;
            break;
          case adoption::stranger:
            strangers = true;
            break;
          case adoption::vanished:
            break;
        }
      }
      if (!ours) {
        reap_children(); // those that ended since the last reaping
        return strangers ? fate::foreign : fate::done;
      }
      // Nothing new since the last look: every member is stopped, the group
      // can grow no more.
      if (!fresh)
        kill_all();
      if (clock::now() >= deadline) {
        kill_all(); // never leave a stopped process behind
        left_ = static_cast<int>(live_members(rec_.pgid).size());
        return fate::stuck;
      }
      std::this_thread::sleep_for(poll_interval);
    }
  }

  int killed() const {
    return killed_;
  }

  int left() const {
    return left_;
  }

private:
  struct member {
    process_handle handle;
    bool killed = false;
  };

  enum class adoption { adopted, stranger, vanished };

  adoption adopt(pid_t pid) {
    auto h = process_handle::open(pid);
    if (!h)
      return adoption::vanished;
    auto st = h->stat();
    if (!st || is_dead(*st) || st->pgrp != rec_.pgid)
      return adoption::vanished; // ended, or left the group, since the listing
    // The anchor is checked after the member was read: if it still holds the
    // group id then, the group the member was seen in is the job's.
    if (st->start_time < rec_.leader_start
        || !(anchor_holds_group() || has_job_marks(*h, rec_)))
      return adoption::stranger;
    add(std::move(*h));
    return adoption::adopted;
  }

  void add(process_handle h) {
    auto pid = h.pid();
    h.signal(SIGSTOP);
    members_.insert_or_assign(pid, member{std::move(h), false});
    if (!anchor_held())
      anchor_ = pid;
  }

  void forget(std::map<pid_t, member>::iterator i) {
    if (anchor_ == i->first)
      anchor_.reset();
    members_.erase(i);
  }

  bool anchor_held() const {
    return anchor_ && members_.count(*anchor_) != 0
           && members_.at(*anchor_).handle.alive();
  }

  // A stopped or unreaped member keeps the group id from being reused; a
  // read through its handle succeeds only while it is unreaped.
  bool anchor_holds_group() const {
    if (!anchor_held())
      return false;
    auto st = members_.at(*anchor_).handle.stat();
    return st && st->pgrp == rec_.pgid;
  }

  void kill_all() {
    for (auto& [pid, m] : members_)
      if (pid != anchor_)
        kill(m);
    if (anchor_ && members_.count(*anchor_) != 0)
      kill(members_.at(*anchor_));
  }

  void kill(member& m) {
    if (m.killed)
      return;
    m.killed = true;
    if (m.handle.signal(SIGKILL))
      ++killed_;
  }

  // Orphans reparented to this process (a subreaper) must be reaped here, or
  // they stay zombies.
  void reap_children() {
    while (::waitpid(-rec_.pgid, nullptr, WNOHANG) > 0) {
    }
  }

  const group_record& rec_;
  std::map<pid_t, member> members_;
  std::optional<pid_t> anchor_;
  int killed_ = 0;
  int left_ = 0;
};

std::string prefix(const fs::path& ws) {
  return ws.string() + ": ";
}

void reap_workspace(const fs::path& ws, const orphan_options& opts,
                    orphan_report& report) {
  auto file = group_record_path(ws);
  auto rec = read_group_record(file);
  if (!rec) {
    report.errors.push_back(prefix(ws) + "unreadable record " + file.string());
    return;
  }
  group_reaper reaper{*rec};
  auto how = reaper.run(clock::now() + opts.wait);
  report.processes_killed += reaper.killed();
  report.groups_killed += reaper.killed() > 0 ? 1 : 0;
  auto group = "process group " + std::to_string(rec->pgid);
  switch (how) {
    case fate::in_use:
      ++report.groups_in_use;
      return;
    case fate::foreign:
      report.errors.push_back(prefix(ws) + group
                              + " holds processes that cannot be verified as "
                                "the job's; left alone");
      return;
    case fate::stuck:
      report.errors.push_back(prefix(ws) + group + " still has "
                              + std::to_string(reaper.left())
                              + " process(es) after SIGKILL");
      return;
    case fate::done:
      break;
  }
  std::error_code ec;
  fs::remove(file, ec);
  if (opts.keep_workspaces)
    return;
  remove_tree(ws);
  if (fs::exists(ws, ec))
    report.errors.push_back(prefix(ws) + "cannot remove the workspace");
  else
    ++report.workspaces_removed;
}

} // namespace

orphan_report reap_orphans(const fs::path& workspace_root,
                           const orphan_options& opts) {
  orphan_report report;
  // Listed first: removing entries while iterating may skip others.
  std::vector<fs::path> recorded;
  std::error_code ec;
  for (auto i = fs::directory_iterator(workspace_root, ec);
       !ec && i != fs::directory_iterator(); i.increment(ec)) {
    std::error_code entry_ec;
    if (i->is_directory(entry_ec) && !i->is_symlink(entry_ec)
        && fs::exists(group_record_path(i->path()), entry_ec))
      recorded.push_back(i->path());
  }
  if (ec && ec != std::errc::no_such_file_or_directory)
    report.errors.push_back(prefix(workspace_root) + ec.message());
  report.records = static_cast<int>(recorded.size());
  for (const auto& ws : recorded)
    reap_workspace(ws, opts, report);
  return report;
}

} // namespace conveyor
