// The commit-status outbox policy: what to post from the queued statuses of
// one (repository, sha, context) so that a late pending never hides a result.
#include <catch2/catch.hpp>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "adapters/github/status_outbox.hpp"

using namespace conveyor::github;

namespace {

using statuses = std::vector<commit_status>;

commit_status status(status_state state, std::string description = {},
                     int64_t generation = 0) {
  return commit_status{state, std::move(description), "https://ci/b/1",
                       generation};
}

const auto pending = status_state::pending;
const auto success = status_state::success;
const auto failure = status_state::failure;
const auto error = status_state::error;

// The description of what the plan posts, or "nothing".
std::string sent(const status_plan& plan) {
  return plan.send ? plan.send->description : "nothing";
}

} // namespace

TEST_CASE("an empty queue posts nothing") {
  auto plan = plan_status({}, std::nullopt);
  CHECK_FALSE(plan.send);
  CHECK(plan.superseded == 0);
  plan = plan_status({}, status(success, "done"));
  CHECK_FALSE(plan.send);
}

TEST_CASE("a single status is posted") {
  auto plan = plan_status({status(pending, "queued")}, std::nullopt);
  REQUIRE(plan.send);
  CHECK(plan.send->state == pending);
  CHECK(plan.send->description == "queued");
  CHECK(plan.send->target_url == "https://ci/b/1");
  CHECK(plan.superseded == 0);
}

TEST_CASE("the queue collapses to its latest status") {
  auto plan = plan_status({status(pending, "queued"),
                           status(pending, "started"),
                           status(success, "passed")},
                          std::nullopt);
  CHECK(sent(plan) == "passed");
  CHECK(plan.superseded == 2);
}

TEST_CASE("a late pending in the queue does not overwrite a final state") {
  for (auto final_state : {success, failure, error}) {
    INFO("final state " << to_string(final_state));
    auto plan = plan_status({status(pending, "queued"),
                             status(final_state, "finished"),
                             status(pending, "started (late)")},
                            std::nullopt);
    CHECK(sent(plan) == "finished");
    CHECK(plan.superseded == 2);
  }
}

TEST_CASE("a late pending does not overwrite a posted final state") {
  auto plan = plan_status({status(pending, "started (late)")},
                          status(failure, "failed"));
  CHECK_FALSE(plan.send);
  CHECK(plan.superseded == 1);
}

TEST_CASE("the latest of several final states wins") {
  auto plan = plan_status({status(failure, "failed"), status(pending, "x"),
                           status(error, "errored")},
                          std::nullopt);
  CHECK(sent(plan) == "errored");
  plan = plan_status({status(success, "passed")}, status(failure, "failed"));
  CHECK(sent(plan) == "passed");
}

TEST_CASE("a pending may replace a posted pending") {
  auto plan = plan_status({status(pending, "started")},
                          status(pending, "queued"));
  CHECK(sent(plan) == "started");
}

TEST_CASE("a status GitHub already shows is not posted again") {
  auto plan = plan_status({status(success, "passed"), status(success, "passed")},
                          status(success, "passed"));
  CHECK_FALSE(plan.send);
  CHECK(plan.superseded == 2);
  // A different link is a different status.
  auto other = status(success, "passed");
  other.target_url = "https://ci/b/2";
  plan = plan_status({other}, status(success, "passed"));
  CHECK(plan.send);
}

TEST_CASE("a restarted build may go back to pending") {
  // Generation 1 is a restart: its pending replaces generation 0's result.
  auto plan = plan_status({status(pending, "restarted", 1)},
                          status(failure, "failed", 0));
  CHECK(sent(plan) == "restarted");
  plan = plan_status({status(success, "passed", 0),
                      status(pending, "restarted", 1)},
                     std::nullopt);
  CHECK(sent(plan) == "restarted");
  CHECK(plan.superseded == 1);
}

TEST_CASE("statuses of an older generation are never posted") {
  auto plan = plan_status({status(pending, "restarted", 1),
                           status(failure, "failed (old run)", 0)},
                          std::nullopt);
  CHECK(sent(plan) == "restarted");
  plan = plan_status({status(failure, "failed (old run)", 0)},
                     status(pending, "restarted", 1));
  CHECK_FALSE(plan.send);
}

TEST_CASE("the newest generation's final state wins over its pending") {
  auto plan = plan_status({status(pending, "restarted", 1),
                           status(success, "passed", 1),
                           status(pending, "started (late)", 1),
                           status(failure, "failed (old run)", 0)},
                          status(failure, "failed", 0));
  CHECK(sent(plan) == "passed");
  CHECK(plan.superseded == 3);
}

TEST_CASE("any order of a run's statuses ends with its final state") {
  // Whatever order the queue and the posts happen in, GitHub ends up
  // showing the final state.
  statuses run{status(pending, "queued"), status(pending, "started"),
               status(failure, "failed")};
  std::vector<size_t> order{0, 1, 2};
  do {
    std::optional<commit_status> shown;
    for (auto i : order) {
      auto plan = plan_status({run[i]}, shown);
      if (plan.send)
        shown = plan.send;
    }
    REQUIRE(shown);
    CHECK(shown->description == "failed");
  } while (std::next_permutation(order.begin(), order.end()));
}

TEST_CASE("status states have GitHub's names") {
  CHECK(to_string(pending) == "pending");
  CHECK(to_string(success) == "success");
  CHECK(to_string(failure) == "failure");
  CHECK(to_string(error) == "error");
  for (auto x : {pending, success, failure, error}) {
    status_state parsed = pending;
    CHECK(from_string(to_string(x), parsed));
    CHECK(parsed == x);
  }
  status_state parsed = success;
  CHECK_FALSE(from_string("passed", parsed));
  CHECK(parsed == success);
  CHECK_FALSE(is_final(pending));
  CHECK(is_final(success));
  CHECK(is_final(failure));
  CHECK(is_final(error));
}
