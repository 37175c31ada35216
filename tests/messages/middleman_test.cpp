// The message contract crosses OS processes: a second process (message_peer)
// echoes every message type over CAF's middleman on loopback, and uses a
// typed handle it was sent.
#include <catch2/catch.hpp>

#include <csignal>
#include <sys/wait.h>
#include <unistd.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/deep_to_string.hpp>
#include <caf/io/middleman.hpp>
#include <caf/scoped_actor.hpp>

#include "messages/type_ids.hpp"

using namespace conveyor;

namespace {

/// Starts message_peer and reads the port it prints.
struct peer_process {
  pid_t pid = -1;
  uint16_t port = 0;

  peer_process() {
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      dup2(fds[1], STDOUT_FILENO);
      close(fds[0]);
      close(fds[1]);
      execl(CONVEYOR_BINARY_DIR "/tests/messages/message_peer", "message_peer",
            static_cast<char*>(nullptr));
      _exit(127);
    }
    close(fds[1]);
    auto in = fdopen(fds[0], "r");
    unsigned value = 0;
    REQUIRE(std::fscanf(in, "%u", &value) == 1);
    std::fclose(in);
    port = static_cast<uint16_t>(value);
  }

  ~peer_process() {
    if (pid > 0) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  }
};

template <class T>
void check_echo(caf::scoped_actor& self, const caf::actor& peer, const T& x) {
  auto echoed = false;
  self->request(peer, std::chrono::seconds(10), x)
    .receive(
      [&](const T& y) {
        echoed = true;
        CHECK(caf::deep_to_string(y) == caf::deep_to_string(x));
      },
      [&](const caf::error& err) { FAIL(caf::to_string(err)); });
  CHECK(echoed);
}

} // namespace

TEST_CASE("messages cross OS processes over the middleman") {
  peer_process proc;
  REQUIRE(proc.port > 0);
  caf::actor_system_config cfg;
  register_message_types(cfg);
  cfg.load<caf::io::middleman>();
  cfg.set("scheduler.max-threads", 2);
  caf::actor_system sys{cfg};
  auto peer = sys.middleman().remote_actor("127.0.0.1", proc.port);
  REQUIRE(peer);
  caf::scoped_actor self{sys};

  build_request req{"uuid-7", "api", "https://example.invalid/o/r.git", "o/r",
                    "refs/heads/main", "abc123", "main", "", "push",
                    "Add a feature", "octocat", 42, "fork/r", "feature", true,
                    "delivery-1"};
  check_echo(self, *peer, req);
  job_spec job;
  job.job_id = 5;
  job.build_id = 2;
  job.build_number = 9;
  job.index = 1;
  job.env = {{"A", "1"}, {"B", "two words"}};
  job.phases.script = {"make", "make test"};
  job.limits.max_log_bytes = 1024;
  check_echo(self, *peer, job);
  check_echo(self, *peer, job_state_changed{5, 1, job_state::started, 123, -1, ""});
  check_echo(self, *peer, build_state_changed{2, build_state::passed, 456});
  check_echo(self, *peer, log_part{5, 1, 0, "hello\n", false});
  check_echo(self, *peer, std::vector<log_part>{{5, 1, 0, "a", false},
                                                {5, 1, 1, "b", true}});
  check_echo(self, *peer, log_completed{5, 1, 2, 2});
  build_record build;
  build.id = 2;
  build.request = req;
  build.messages = {{"warn", "os", "unsupported_key", "ignored", 2, 1}};
  build.jobs = {job_record{job, job_state::queued, -1, "", 1, 0, 0}};
  check_echo(self, *peer, build);

  // A typed handle travels to the other process, which sends to it.
  auto me = caf::actor_cast<log_listener_actor>(self);
  self->send(*peer, subscribe_atom::value, me);
  auto got = false;
  self->receive(
    [&](const log_part& part) {
      got = true;
      CHECK(part.job_id == 99);
      CHECK(part.content == "from the peer\n");
      CHECK(part.final);
    },
    caf::after(std::chrono::seconds(10)) >> [] { FAIL("no part from the peer"); });
  CHECK(got);
}
