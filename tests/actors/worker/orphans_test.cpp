#include <catch2/catch.hpp>

#include <atomic>
#include <csignal>
#include <filesystem>
#include <string>
#include <vector>

#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "actors/worker/group_record.hpp"
#include "actors/worker/job_runner.hpp"
#include "actors/worker/orphans.hpp"
#include "actors/worker/proc_stat.hpp"
#include "test_support.hpp"

using namespace conveyor;
namespace fs = std::filesystem;

namespace {

// Orphans are reparented to us, as they are to init after a real crash; we
// reap them, so a killed process really is gone (ESRCH), not a zombie.
void become_subreaper() {
  REQUIRE(::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0);
}

bool running(pid_t pid) {
  auto st = read_proc_stat(pid);
  return st && !is_dead(*st);
}

// A job's process group, left behind by a server killed with SIGKILL.
struct crashed_job {
  fs::path workspace;
  pid_t shell = 0; // the build script's shell: the group leader
  pid_t first = 0;
  pid_t second = 0;
};

// Forks a server that runs a job whose script starts two `sleep 600`, waits
// until they run, then kills the server with SIGKILL.
crashed_job crash_during_job(const fs::path& tmp, const fs::path& root) {
  auto pid_file = [&tmp](const char* name) {
    return "'" + (tmp / name).string() + "'";
  };
  job_spec spec;
  spec.job_id = 42;
  spec.attempt = 1;
  spec.phases.script = {"sleep 600 & echo $! > " + pid_file("first.pid"),
                        "sleep 600 & echo $! > " + pid_file("second.pid"),
                        "echo $$ > " + pid_file("shell.pid") + "; wait"};
  job_runner_config cfg;
  cfg.workspace_root = root;
  pid_t server = ::fork();
  if (server == 0) {
    std::atomic<bool> cancel{false};
    run_job(spec, cfg, cancel, {});
    ::_exit(0);
  }
  REQUIRE(server > 0);
  crashed_job job;
  job.workspace = root / "42-1";
  job.shell = test::wait_for_pid(tmp / "shell.pid");
  job.first = test::wait_for_pid(tmp / "first.pid", 0);
  job.second = test::wait_for_pid(tmp / "second.pid", 0);
  auto rec = read_group_record(group_record_path(job.workspace));
  test::kill_and_reap(server);
  REQUIRE(job.shell > 0);
  REQUIRE(job.first > 0);
  REQUIRE(job.second > 0);
  REQUIRE(rec);
  CHECK(rec->pgid == job.shell);
  CHECK(rec->owner_pid == server);
  // The group survives its server.
  for (auto pid : {job.shell, job.first, job.second}) {
    CHECK(running(pid));
    CHECK(read_proc_stat(pid)->pgrp == job.shell);
  }
  return job;
}

std::vector<std::string> marks(int64_t job_id, const fs::path& ws) {
  return {"CONVEYOR_JOB_ID=" + std::to_string(job_id),
          "CONVEYOR_JOB_ATTEMPT=1", "HOME=" + ws.string()};
}

// Writes a record for the group led by `pgid` into a new workspace.
group_record record_for(const fs::path& ws, int64_t job_id, pid_t pgid) {
  fs::create_directories(ws / ".conveyor");
  group_record x;
  x.pgid = pgid;
  x.leader_start = read_proc_stat(pgid)->start_time;
  x.boot_id = current_boot_id();
  x.job_id = job_id;
  x.attempt = 1;
  x.workspace = ws;
  REQUIRE_FALSE(write_group_record(x));
  return x;
}

} // namespace

TEST_CASE("the orphans of a killed server are killed, their workspace "
          "removed",
          "[orphans]") {
  become_subreaper();
  test::temp_dir tmp;
  auto root = tmp.path() / "ws";
  auto job = crash_during_job(tmp.path(), root);
  auto report = reap_orphans(root);
  CHECK(report.errors.empty());
  CHECK(report.records == 1);
  CHECK(report.groups_killed == 1);
  CHECK(report.processes_killed == 3);
  CHECK(report.groups_in_use == 0);
  CHECK(report.workspaces_removed == 1);
  for (auto pid : {job.shell, job.first, job.second})
    CHECK(test::wait_gone(pid));
  CHECK_FALSE(fs::exists(job.workspace));
  CHECK(fs::exists(root));
  // Nothing is left to do.
  auto again = reap_orphans(root);
  CHECK(again.records == 0);
  CHECK(again.errors.empty());
}

TEST_CASE("once the leader is gone, members are known by their marks",
          "[orphans]") {
  become_subreaper();
  test::temp_dir tmp;
  auto root = tmp.path() / "ws";
  auto job = crash_during_job(tmp.path(), root);
  test::kill_and_reap(job.shell);
  REQUIRE(test::pid_gone(job.shell));
  REQUIRE(running(job.first));
  REQUIRE(running(job.second));
  auto report = reap_orphans(root);
  CHECK(report.errors.empty());
  CHECK(report.groups_killed == 1);
  CHECK(report.processes_killed == 2);
  CHECK(report.workspaces_removed == 1);
  CHECK(test::wait_gone(job.first));
  CHECK(test::wait_gone(job.second));
  CHECK_FALSE(fs::exists(job.workspace));
}

TEST_CASE("a record whose pid now names another process kills nothing",
          "[orphans]") {
  test::temp_dir tmp;
  auto root = tmp.path() / "ws";
  // A group leader that even carries the job's marks, but started after the
  // recorded leader: the pid was reused.
  auto stranger = test::spawn_sleeper(marks(7, root / "7-1"));
  REQUIRE(stranger > 0);
  auto reused = record_for(root / "7-1", 7, stranger);
  reused.leader_start += 1;
  REQUIRE_FALSE(write_group_record(reused));
  // This very test process, as a pid reused by an unrelated process.
  auto self = record_for(root / "8-1", 8, ::getpid());
  self.pgid = ::getpid();
  self.leader_start -= 1;
  REQUIRE_FALSE(write_group_record(self));
  auto report = reap_orphans(root);
  CHECK(running(stranger));
  CHECK(report.errors.empty());
  CHECK(report.records == 2);
  CHECK(report.groups_killed == 0);
  CHECK(report.processes_killed == 0);
  // Nothing of those jobs can be left: their workspaces go.
  CHECK(report.workspaces_removed == 2);
  test::kill_and_reap(stranger);
}

TEST_CASE("a group whose leader is gone and whose members carry no marks "
          "is left alone",
          "[orphans]") {
  become_subreaper();
  test::temp_dir tmp;
  auto root = tmp.path() / "ws";
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  char arg0[] = "sleep";
  char arg1[] = "600";
  char* argv[] = {arg0, arg1, nullptr};
  char path[] = "PATH=/bin";
  char* envp[] = {path, nullptr};
  pid_t leader = ::fork();
  if (leader == 0) {
    ::setpgid(0, 0);
    pid_t member = ::fork();
    if (member == 0) {
      ::execve("/bin/sleep", argv, envp);
      ::_exit(127);
    }
    auto n = ::write(fds[1], &member, sizeof member);
    ::_exit(n == sizeof member ? 0 : 1);
  }
  REQUIRE(leader > 0);
  ::close(fds[1]);
  pid_t member = 0;
  REQUIRE(::read(fds[0], &member, sizeof member) == sizeof member);
  ::close(fds[0]);
  auto ws = root / "9-1";
  record_for(ws, 9, leader);
  REQUIRE(::waitpid(leader, nullptr, 0) == leader);
  REQUIRE(running(member));
  REQUIRE(read_proc_stat(member)->pgrp == leader);
  auto report = reap_orphans(root);
  CHECK(running(member));
  CHECK(report.groups_killed == 0);
  CHECK(report.workspaces_removed == 0);
  REQUIRE(report.errors.size() == 1);
  CHECK(report.errors[0].find("cannot be verified") != std::string::npos);
  CHECK(fs::exists(group_record_path(ws)));
  test::kill_and_reap(member);
}

TEST_CASE("a group whose server lives is not an orphan", "[orphans]") {
  become_subreaper();
  test::temp_dir tmp;
  auto root = tmp.path() / "ws";
  auto ws = root / "5-1";
  auto leader = test::spawn_sleeper(marks(5, ws));
  REQUIRE(leader > 0);
  auto rec = record_for(ws, 5, leader);
  rec.owner_pid = ::getpid();
  rec.owner_start = read_proc_stat(::getpid())->start_time;
  REQUIRE_FALSE(write_group_record(rec));
  auto report = reap_orphans(root);
  CHECK(report.groups_in_use == 1);
  CHECK(report.groups_killed == 0);
  CHECK(report.workspaces_removed == 0);
  CHECK(report.errors.empty());
  CHECK(running(leader));
  SECTION("its server dead, it is killed; the workspace is kept if asked") {
    rec.owner_start += 1; // another process with our pid: the server is gone
    REQUIRE_FALSE(write_group_record(rec));
    orphan_options opts;
    opts.keep_workspaces = true;
    report = reap_orphans(root, opts);
    CHECK(report.groups_killed == 1);
    CHECK(report.processes_killed == 1);
    CHECK(report.workspaces_removed == 0);
    CHECK(test::wait_gone(leader));
    CHECK(fs::exists(ws));
    CHECK_FALSE(fs::exists(group_record_path(ws)));
  }
  SECTION("a record from another boot kills nothing") {
    rec.owner_pid = 0;
    rec.boot_id = "00000000-0000-0000-0000-000000000000";
    REQUIRE_FALSE(write_group_record(rec));
    report = reap_orphans(root);
    CHECK(report.groups_killed == 0);
    CHECK(report.workspaces_removed == 1);
    CHECK(running(leader));
    CHECK_FALSE(fs::exists(ws));
  }
  test::kill_and_reap(leader);
}

TEST_CASE("a missing or empty root, or workspaces without a record, are "
          "fine",
          "[orphans]") {
  test::temp_dir tmp;
  auto report = reap_orphans(tmp.path() / "missing");
  CHECK(report.records == 0);
  CHECK(report.errors.empty());
  report = reap_orphans(tmp.path());
  CHECK(report.records == 0);
  CHECK(report.errors.empty());
  fs::create_directories(tmp.path() / "3-1" / "build");
  test::write_file(tmp.path() / "file", "not a workspace");
  report = reap_orphans(tmp.path());
  CHECK(report.records == 0);
  CHECK(report.errors.empty());
  CHECK(fs::exists(tmp.path() / "3-1" / "build"));
  fs::create_directories(tmp.path() / "4-1" / ".conveyor");
  test::write_file(tmp.path() / "4-1" / ".conveyor" / "pgid", "garbage\n");
  report = reap_orphans(tmp.path());
  CHECK(report.records == 1);
  REQUIRE(report.errors.size() == 1);
  CHECK(report.errors[0].find("unreadable record") != std::string::npos);
  CHECK(fs::exists(tmp.path() / "4-1"));
}
