#include <catch2/catch.hpp>

#include <filesystem>

#include "actors/worker/group_record.hpp"
#include "actors/worker/proc_stat.hpp"
#include "test_support.hpp"

using namespace conveyor;

namespace {

group_record sample(const std::filesystem::path& ws) {
  group_record x;
  x.pgid = 4242;
  x.leader_start = 987654;
  x.boot_id = "3914fce7-5db2-463b-94fc-964a6d0e22ed";
  x.owner_pid = 17;
  x.owner_start = 1234;
  x.job_id = 42;
  x.attempt = 3;
  x.workspace = ws;
  return x;
}

bool same(const group_record& x, const group_record& y) {
  return x.pgid == y.pgid && x.leader_start == y.leader_start
         && x.boot_id == y.boot_id && x.owner_pid == y.owner_pid
         && x.owner_start == y.owner_start && x.job_id == y.job_id
         && x.attempt == y.attempt && x.workspace == y.workspace;
}

} // namespace

TEST_CASE("a group record is one key=value per line and reads back",
          "[group_record]") {
  auto x = sample("/var/lib/conveyor/work/42-3");
  auto text = to_string(x);
  CHECK(text
        == "pgid=4242\nleader_start=987654\n"
           "boot_id=3914fce7-5db2-463b-94fc-964a6d0e22ed\nowner_pid=17\n"
           "owner_start=1234\njob_id=42\nattempt=3\n"
           "workspace=/var/lib/conveyor/work/42-3\n");
  auto y = parse_group_record(text);
  REQUIRE(y);
  CHECK(same(x, *y));
  CHECK(parse_group_record("future=1\n" + text));
}

TEST_CASE("a group record with a field missing or malformed is refused",
          "[group_record]") {
  auto text = to_string(sample("/w/42-3"));
  auto without = [&text](const std::string& key) {
    auto begin = text.find(key + "=");
    return text.substr(0, begin) + text.substr(text.find('\n', begin) + 1);
  };
  for (auto key : {"pgid", "leader_start", "boot_id", "owner_pid",
                   "owner_start", "job_id", "attempt", "workspace"}) {
    INFO(key);
    CHECK_FALSE(parse_group_record(without(key)));
  }
  CHECK_FALSE(parse_group_record(without("pgid") + "pgid=12x\n"));
  CHECK_FALSE(parse_group_record(without("pgid") + "pgid=0\n"));
  CHECK_FALSE(parse_group_record(without("workspace") + "workspace=rel\n"));
  CHECK_FALSE(parse_group_record(""));
}

TEST_CASE("a group record is written whole, in the workspace",
          "[group_record]") {
  test::temp_dir tmp;
  auto ws = tmp.path() / "42-3";
  std::filesystem::create_directories(ws / ".conveyor");
  auto x = sample(ws);
  REQUIRE_FALSE(write_group_record(x));
  CHECK(group_record_path(ws) == ws / ".conveyor" / "pgid");
  CHECK_FALSE(std::filesystem::exists(ws / ".conveyor" / "pgid.tmp"));
  auto y = read_group_record(group_record_path(ws));
  REQUIRE(y);
  CHECK(same(x, *y));
  x.pgid = 99;
  REQUIRE_FALSE(write_group_record(x));
  CHECK(read_group_record(group_record_path(ws))->pgid == 99);
  CHECK(write_group_record(sample(tmp.path() / "missing")));
  CHECK_FALSE(read_group_record(tmp.path() / "missing" / "pgid"));
}

TEST_CASE("a group is described by its leader and this process",
          "[group_record]") {
  auto pid = test::spawn_sleeper();
  REQUIRE(pid > 0);
  auto x = describe_group(pid, 42, 3, "/w/42-3");
  test::kill_and_reap(pid);
  REQUIRE(x);
  CHECK(x->pgid == pid);
  CHECK(x->leader_start > 0);
  CHECK(x->boot_id == current_boot_id());
  CHECK(x->owner_pid == ::getpid());
  CHECK(x->owner_start == read_proc_stat(::getpid())->start_time);
  CHECK(x->job_id == 42);
  CHECK(x->attempt == 3);
  CHECK(x->workspace == "/w/42-3");
  CHECK_FALSE(describe_group(pid, 42, 3, "/w/42-3"));
}
