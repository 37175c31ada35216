// The job spec as the postgres store keeps it: JSON, with fields added later
// optional so that older rows still decode.
#include <catch2/catch.hpp>

#include <caf/deep_to_string.hpp>

#include "adapters/postgres/json_codec.hpp"

using namespace conveyor;

TEST_CASE("postgres: a job spec's stage and pull request survive the codec") {
  job_spec x;
  x.name = "deploy: ship";
  x.request_id = "req-1";
  x.repo = "https://example.com/octo/demo.git";
  x.slug = "octo/demo";
  x.sha = "0123456789abcdef0123456789abcdef01234567";
  x.branch = "main";
  x.event = "pull_request";
  x.env = {{"A", "1"}};
  x.phases.script = {"make"};
  x.stage = std::string("D\xc3\xa9ploy \xff", 9);
  x.stage_index = 2;
  x.pull_request = 42;
  x.pull_request_branch = "feature/x";
  x.pull_request_slug = "fork/demo";
  job_spec y;
  postgres::decode_spec(postgres::encode_spec(x), y);
  CHECK(caf::deep_to_string(y) == caf::deep_to_string(x));
  CHECK(y.stage == x.stage);
  CHECK(y.stage_index == 2);
  CHECK(y.pull_request == 42);
  CHECK(y.pull_request_branch == "feature/x");
  CHECK(y.pull_request_slug == "fork/demo");
}

TEST_CASE("postgres: a job spec stored before stages and pull requests decodes "
          "to the defaults") {
  // As the code before them wrote it.
  std::string old = R"({"name":"","request_id":"r","repo":"/srv/r",)"
                    R"("slug":"octo/r","sha":"abc","branch":"main","tag":"",)"
                    R"("event":"push","commit_message":"m","clone":true,)"
                    R"("clone_depth":0,"env":[],)"
                    R"("phases":{"before_install":[],"install":[],)"
                    R"("before_script":[],"script":["make"],)"
                    R"("after_success":[],"after_failure":[],)"
                    R"("after_script":[]},)"
                    R"("limits":{"timeout_ms":1,"no_output_timeout_ms":2,)"
                    R"("max_log_bytes":3}})";
  job_spec y;
  y.stage = "stale";
  y.stage_index = 5;
  y.pull_request = 9;
  y.pull_request_branch = "stale";
  y.pull_request_slug = "stale";
  postgres::decode_spec(old, y);
  CHECK(y.phases.script == std::vector<std::string>{"make"});
  CHECK(y.stage.empty());
  CHECK(y.stage_index == 0);
  CHECK(y.pull_request == 0);
  CHECK(y.pull_request_branch.empty());
  CHECK(y.pull_request_slug.empty());
}
