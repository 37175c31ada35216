#include "actors/worker/job_environment.hpp"

#include <algorithm>
#include <utility>

#include <pwd.h>
#include <unistd.h>

#include "actors/worker/build_script.hpp"

namespace conveyor {

namespace {

// From the password database rather than $USER, which we must not trust.
std::string current_user() {
  std::vector<char> buf(16384);
  passwd pw;
  passwd* found = nullptr;
  if (::getpwuid_r(::geteuid(), &pw, buf.data(), buf.size(), &found) == 0
      && found != nullptr)
    return found->pw_name;
  return std::to_string(::geteuid());
}

class env_builder {
public:
  void set(const std::string& name, std::string value) {
    auto i = std::find_if(vars_.begin(), vars_.end(),
                          [&name](const auto& x) { return x.first == name; });
    if (i != vars_.end())
      i->second = std::move(value);
    else
      vars_.emplace_back(name, std::move(value));
  }

  std::vector<std::string> lines() const {
    std::vector<std::string> result;
    result.reserve(vars_.size());
    for (const auto& [name, value] : vars_)
      result.push_back(name + "=" + value);
    return result;
  }

private:
  std::vector<std::pair<std::string, std::string>> vars_;
};

} // namespace

std::vector<std::string> job_environment(const job_spec& spec,
                                         const std::filesystem::path& workspace,
                                         const std::filesystem::path& build_dir) {
  env_builder env;
  auto user = current_user();
  env.set("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
  env.set("HOME", workspace.string());
  env.set("LANG", "C.UTF-8");
  env.set("TERM", "dumb");
  env.set("USER", user);
  env.set("LOGNAME", user);
  env.set("CI", "true");
  env.set("CONTINUOUS_INTEGRATION", "true");
  env.set("TRAVIS", "true");
  env.set("CONVEYOR", "true");
  env.set("CONVEYOR_REQUEST_ID", spec.request_id);
  env.set("CONVEYOR_BUILD_ID", std::to_string(spec.build_id));
  env.set("CONVEYOR_BUILD_NUMBER", std::to_string(spec.build_number));
  env.set("CONVEYOR_JOB_ID", std::to_string(spec.job_id));
  env.set("CONVEYOR_JOB_NUMBER", job_number(spec));
  env.set("CONVEYOR_JOB_ATTEMPT", std::to_string(spec.attempt));
  env.set("TRAVIS_BRANCH", spec.branch);
  env.set("TRAVIS_COMMIT", spec.sha);
  env.set("TRAVIS_COMMIT_MESSAGE", spec.commit_message);
  env.set("TRAVIS_BUILD_DIR", build_dir.string());
  env.set("TRAVIS_BUILD_ID", std::to_string(spec.build_id));
  env.set("TRAVIS_BUILD_NUMBER", std::to_string(spec.build_number));
  env.set("TRAVIS_JOB_ID", std::to_string(spec.job_id));
  env.set("TRAVIS_JOB_NUMBER", job_number(spec));
  env.set("TRAVIS_EVENT_TYPE", spec.event);
  // For a pull request, TRAVIS_BRANCH is the base branch it targets (the
  // request's branch) and the commit is the pull request's head.
  auto pr = spec.pull_request > 0;
  env.set("TRAVIS_PULL_REQUEST",
          pr ? std::to_string(spec.pull_request) : std::string{"false"});
  env.set("TRAVIS_PULL_REQUEST_BRANCH", pr ? spec.pull_request_branch : "");
  env.set("TRAVIS_PULL_REQUEST_SHA", pr ? spec.sha : "");
  env.set("TRAVIS_PULL_REQUEST_SLUG", pr ? spec.pull_request_slug : "");
  env.set("TRAVIS_TAG", spec.tag);
  env.set("TRAVIS_REPO_SLUG", spec.slug);
  env.set("TRAVIS_OS_NAME", "linux");
  env.set("TRAVIS_ALLOW_FAILURE", spec.allow_failure ? "true" : "false");
  // The config's own `env` is exported by the script itself (build_script):
  // in the environment bash starts with, BASH_ENV or SHELLOPTS of a config
  // would run or trace code before the script's first line, while the clone
  // credentials are still there.
  for (const auto& var : spec.env)
    if (var.name == git_auth_variable)
      env.set(var.name, var.value);
  return env.lines();
}

} // namespace conveyor
