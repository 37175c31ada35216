// The gatekeeper actor's answers that need no store: a request it cannot
// resolve, and a build it cannot persist.
#include <catch2/catch.hpp>

#include <filesystem>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/exit_reason.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include "actors/gatekeeper/gatekeeper_actor.hpp"
#include "messages/error.hpp"
#include "messages/type_ids.hpp"
#include "test_repo.hpp"

using namespace conveyor;

namespace {

struct system_fixture {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  gatekeeper_actor gatekeeper;

  system_fixture() {
    register_message_types(cfg);
    cfg.set("scheduler.max-threads", 2);
    sys = std::make_unique<caf::actor_system>(cfg);
    gatekeeper = spawn_gatekeeper(*sys, gatekeeper_config{}, store_actor{},
                                  scheduler_actor{});
  }

  ~system_fixture() {
    caf::anon_send_exit(gatekeeper, caf::exit_reason::user_shutdown);
  }

  caf::error error_for(const build_request& req) {
    return error_from(gatekeeper, req);
  }

  caf::error error_from(const gatekeeper_actor& to, const build_request& req) {
    caf::scoped_actor self{*sys};
    caf::error result;
    self->request(to, std::chrono::seconds(30), req)
      .receive([](build_record&) { FAIL("expected an error, got a build"); },
               [&result](caf::error& err) { result = std::move(err); });
    return result;
  }
};

} // namespace

TEST_CASE_METHOD(system_fixture, "the gatekeeper answers unknown repositories "
                                 "with an error") {
  build_request req;
  req.repo = "/nonexistent/conveyor/repo";
  auto err = error_for(req);
  CHECK(err.category() == errc_category);
  CHECK(err.code() == static_cast<uint8_t>(errc::unknown_repository));
  CHECK(describe(err).find(req.repo) != std::string::npos);
}

TEST_CASE_METHOD(system_fixture, "the gatekeeper answers unknown refs with an "
                                 "error") {
  test_repo repo;
  repo.write(".conveyor.yml", "script: make\n");
  repo.commit("one");
  build_request req;
  req.repo = repo.path();
  req.ref = "missing";
  auto err = error_for(req);
  CHECK(err.code() == static_cast<uint8_t>(errc::unknown_ref));
}

TEST_CASE_METHOD(system_fixture, "without a store the gatekeeper answers "
                                 "store_failure") {
  test_repo repo;
  repo.write(".conveyor.yml", "script: make\n");
  repo.commit("one");
  build_request req;
  req.repo = repo.path();
  auto err = error_for(req);
  CHECK(err.code() == static_cast<uint8_t>(errc::store_failure));
}

TEST_CASE_METHOD(system_fixture, "a gatekeeper without a mirror root refuses "
                                 "URLs") {
  test_repo repo;
  repo.write(".conveyor.yml", "script: make\n");
  repo.commit("one");
  build_request req;
  req.repo = "file://" + repo.path();
  auto err = error_for(req);
  CHECK(err.code() == static_cast<uint8_t>(errc::unknown_repository));
  CHECK(describe(err).find("repository URLs need a mirror directory")
        != std::string::npos);
}

TEST_CASE_METHOD(system_fixture, "a gatekeeper with a mirror root builds "
                                 "URLs from their mirrors") {
  test_repo repo;
  repo.write(".conveyor.yml", "script: make\n");
  repo.commit("one");
  gatekeeper_config cfg;
  cfg.mirror_root = repo.root() + "/mirrors";
  auto with_mirrors = spawn_gatekeeper(*sys, cfg, store_actor{},
                                       scheduler_actor{});
  build_request req;
  req.repo = "file://" + repo.path();
  // Resolved and planned: only the missing store stops it.
  auto err = error_from(with_mirrors, req);
  CHECK(err.code() == static_cast<uint8_t>(errc::store_failure));
  CHECK(std::filesystem::is_directory(cfg.mirror_root));
  req.ref = "missing";
  err = error_from(with_mirrors, req);
  CHECK(err.code() == static_cast<uint8_t>(errc::unknown_ref));
  req.repo = "file:///nonexistent";
  req.ref.clear();
  err = error_from(with_mirrors, req);
  CHECK(err.code() == static_cast<uint8_t>(errc::unknown_repository));
  caf::anon_send_exit(with_mirrors, caf::exit_reason::user_shutdown);
}

TEST_CASE_METHOD(system_fixture, "a gatekeeper with a remote file reader "
                                 "plans webhook requests without a mirror") {
  test_repo repo;
  repo.write(".travis.yml", "script: make\n");
  auto sha = repo.commit("one");
  auto asked = std::make_shared<std::vector<std::string>>();
  auto served = std::make_shared<bool>(true);
  gatekeeper_config cfg;
  cfg.mirror_root = repo.root() + "/mirrors";
  cfg.remote_files = [asked, served](const remote_file_query& q) {
    asked->push_back(q.slug + " " + q.path + " " + q.sha);
    remote_file out;
    if (!*served)
      return out;
    out.status = q.path == ".travis.yml" ? remote_file_status::found
                                         : remote_file_status::missing;
    out.content = "script: make\n";
    return out;
  };
  auto gk = spawn_gatekeeper(*sys, cfg, store_actor{}, scheduler_actor{});
  build_request req;
  req.repo = "https://github.com/octo/demo.git";
  req.slug = "octo/demo";
  req.sha = sha;
  req.ref = "refs/heads/main";
  // Planned (only the missing store stops it), and no mirror was needed.
  auto err = error_from(gk, req);
  CHECK(err.code() == static_cast<uint8_t>(errc::store_failure));
  REQUIRE(asked->size() == 2);
  CHECK((*asked)[0] == "octo/demo .conveyor.yml " + sha);
  CHECK((*asked)[1] == "octo/demo .travis.yml " + sha);
  CHECK_FALSE(std::filesystem::exists(cfg.mirror_root));
  // Requests without a sha or a slug, and repositories the reader does not
  // serve, are read from the mirror as before.
  asked->clear();
  *served = false;
  req.repo = "file://" + repo.path();
  err = error_from(gk, req);
  CHECK(err.code() == static_cast<uint8_t>(errc::store_failure));
  CHECK(asked->size() == 1);
  CHECK(std::filesystem::is_directory(cfg.mirror_root));
  asked->clear();
  req.slug.clear();
  err = error_from(gk, req);
  CHECK(err.code() == static_cast<uint8_t>(errc::store_failure));
  CHECK(asked->empty());
  caf::anon_send_exit(gk, caf::exit_reason::user_shutdown);
}
