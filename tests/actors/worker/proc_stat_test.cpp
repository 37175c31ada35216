#include <catch2/catch.hpp>

#include <csignal>

#include <sys/wait.h>
#include <unistd.h>

#include "actors/worker/proc_stat.hpp"
#include "actors/worker/process_handle.hpp"
#include "test_support.hpp"

using namespace conveyor;

TEST_CASE("stat lines are parsed, whatever the command name holds",
          "[proc_stat]") {
  auto x = parse_proc_stat("4242 (a) b (c)) S 1 4242 4200 0 -1 4194560 97 0 "
                           "0 0 0 0 0 0 20 0 1 0 987654 8192 100 "
                           "18446744073709551615\n");
  REQUIRE(x);
  CHECK(x->state == 'S');
  CHECK(x->ppid == 1);
  CHECK(x->pgrp == 4242);
  CHECK(x->session == 4200);
  CHECK(x->start_time == 987654);
  CHECK(is_dead(*parse_proc_stat("7 (z) Z 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 "
                                 "1 0 55")));
  CHECK_FALSE(parse_proc_stat("4242 (cut short) S 1 4242"));
  CHECK_FALSE(parse_proc_stat("no parenthesis"));
  CHECK_FALSE(parse_proc_stat("1 (x) S one 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 "
                              "0 5"));
}

TEST_CASE("this process's stat and the boot id are read", "[proc_stat]") {
  auto self = read_proc_stat(::getpid());
  REQUIRE(self);
  CHECK(self->state == 'R');
  CHECK(self->ppid == ::getppid());
  CHECK(self->pgrp == ::getpgrp());
  CHECK(self->start_time > 0);
  CHECK(current_boot_id().size() == 36);
  CHECK_FALSE(read_proc_stat(0));
}

TEST_CASE("a process handle names one process, never its pid's next owner",
          "[process_handle]") {
  auto pid = test::spawn_sleeper({"MARK=1"});
  REQUIRE(pid > 0);
  auto h = process_handle::open(pid);
  REQUIRE(h);
  CHECK(h->pid() == pid);
  CHECK(h->alive());
  auto st = h->stat();
  REQUIRE(st);
  CHECK(st->pgrp == pid);
  CHECK(st->start_time == read_proc_stat(pid)->start_time);
  // The environment is the one it was started with, once it has exec'd.
  for (int i = 0; i < 200 && h->environment() != std::vector<std::string>{
                                                    "MARK=1"};
       ++i)
    ::usleep(10000);
  CHECK(h->environment() == std::vector<std::string>{"MARK=1"});
  CHECK(h->signal(SIGKILL));
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  CHECK(WIFSIGNALED(status));
  CHECK_FALSE(h->alive());
  CHECK_FALSE(h->stat());
  CHECK(h->environment().empty());
  CHECK_FALSE(h->signal(SIGKILL));
  CHECK_FALSE(process_handle::open(pid));
}
