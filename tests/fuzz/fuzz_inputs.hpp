#pragma once

// The entry points of the gatekeeper's fuzz targets, shared by the libFuzzer
// targets (fuzz_config.cpp, fuzz_condition.cpp) and by the regression test
// that replays the inputs they found (tests/actors/gatekeeper/
// fuzz_regression_test.cpp). Header-only so that both builds compile the
// same code.
//
// Each function feeds one input through the untrusted-input front end and
// returns what came out; `problem` is non-empty if a property that must
// always hold was broken (the fuzz targets abort on it, the test fails).

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "actors/gatekeeper/build_plan.hpp"
#include "actors/gatekeeper/condition.hpp"
#include "messages/build.hpp"
#include "messages/build_request.hpp"
#include "messages/job.hpp"

namespace conveyor::fuzz {

/// What one input gave.
struct fuzz_outcome {
  /// True if the input was accepted (a build with jobs, a condition with a
  /// verdict); false if it was rejected with an error.
  bool accepted = false;
  /// The error or finding that rejected it; empty if accepted.
  std::string error;
  /// A broken invariant; empty if none.
  std::string problem;
};

// -- config -------------------------------------------------------------------

/// The request a config input is planned for. Besides the YAML text, an
/// input may set request fields with comment lines `#@key=value` (YAML
/// ignores them): `branch`, `tag`, `event`, `message`, `sender`, `slug`,
/// `head_repo`, `head_branch`, `pr` (any text: pull request 1), `fork`,
/// `defaults` (any text: Travis's defaults on).
inline build_request fuzz_request(std::string_view text, bool& defaults) {
  build_request req;
  req.request_id = "00000000-0000-0000-0000-000000000000";
  req.source = "api";
  req.repo = "/nonexistent/repo";
  req.slug = "owner/repo";
  req.ref = "refs/heads/master";
  req.sha = "0123456789abcdef0123456789abcdef01234567";
  req.branch = "master";
  req.event = "push";
  req.commit_message = "a commit";
  req.sender = "someone";
  defaults = false;
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto end = text.find('\n', pos);
    if (end == std::string_view::npos)
      end = text.size();
    auto line = text.substr(pos, end - pos);
    pos = end + 1;
    if (line.substr(0, 2) != "#@")
      continue;
    line.remove_prefix(2);
    auto eq = line.find('=');
    if (eq == std::string_view::npos)
      continue;
    auto key = line.substr(0, eq);
    auto value = std::string{line.substr(eq + 1)};
    if (key == "branch")
      req.branch = value;
    else if (key == "tag")
      req.tag = value;
    else if (key == "event")
      req.event = value;
    else if (key == "message")
      req.commit_message = value;
    else if (key == "sender")
      req.sender = value;
    else if (key == "slug")
      req.slug = value;
    else if (key == "head_repo")
      req.head_repo = value;
    else if (key == "head_branch")
      req.head_branch = value;
    else if (key == "pr")
      req.pull_request = 1;
    else if (key == "fork")
      req.fork = true;
    else if (key == "defaults")
      defaults = true;
  }
  return req;
}

/// Plans a build from `text` as the gatekeeper does: YAML load, Travis
/// normalization and validation, approval, matrix expansion, stages,
/// allow_failures and the jobs' specs.
inline fuzz_outcome run_config_input(std::string_view text) {
  fuzz_outcome out;
  bool defaults = false;
  auto req = fuzz_request(text, defaults);
  auto opts = gatekeeper_travis_options();
  opts.defaults = defaults;
  auto plan = plan_config(text, opts);
  if (plan.errored != has_error_messages(plan.messages))
    out.problem = "plan_config: errored disagrees with its messages";
  if (plan.errored && !plan.config.is_null())
    out.problem = "plan_config: an errored plan has a config";
  config_file file;
  file.name = ".travis.yml";
  file.content = std::string{text};
  auto build = plan_build(req, file, plan, job_limits{}, 1);
  if (build.state == build_state::errored) {
    if (!build.jobs.empty())
      out.problem = "plan_build: an errored build has jobs";
    for (const auto& msg : build.messages)
      if (msg.level == "error") {
        out.error = msg.code + ": " + msg.message;
        break;
      }
    if (out.error.empty())
      out.problem = "plan_build: an errored build says no error";
  } else {
    out.accepted = true;
    if (build.jobs.empty())
      out.problem = "plan_build: a build without jobs";
    if (build.jobs.size() > opts.max_jobs)
      out.problem = "plan_build: more jobs than max_jobs";
  }
  return out;
}

// -- conditions ---------------------------------------------------------------

/// The data conditions are evaluated against.
inline condition_data fuzz_condition_data() {
  condition_data data;
  data.attributes["type"] = std::string{"push"};
  data.attributes["repo"] = std::string{"owner/repo"};
  data.attributes["branch"] = std::string{"master"};
  data.attributes["commit_message"] = std::string{"a commit [ci deploy]"};
  data.attributes["sender"] = std::string{"someone"};
  data.attributes["fork"] = false;
  data.attributes["os"] = std::string{"linux"};
  data.attributes["sudo"] = std::string{"true"};
  data.env["foo"] = std::string{"foo"};
  data.env["bar"] = false;
  data.env["QUOTED"] = std::string{"'a b'"};
  data.env["EMPTY"] = std::string{};
  return data;
}

/// Parses `text` as a condition and evaluates it. If `text` holds a NUL
/// byte, what follows the first one is read as an env string (repository
/// settings, `condition_data::add_env_string`) before evaluating, and only
/// what precedes it is the condition.
///
/// Checked: the parse is deterministic (parsing again prints the same
/// s-expression), `evaluate_condition` agrees with `parse_condition` +
/// `evaluate`, and an error has a message. The printed form is an
/// s-expression, not condition syntax, so it is not parsed back.
inline fuzz_outcome run_condition_input(std::string_view text) {
  fuzz_outcome out;
  auto data = fuzz_condition_data();
  if (auto nul = text.find('\0'); nul != std::string_view::npos) {
    data.add_env_string(text.substr(nul + 1));
    text = text.substr(0, nul);
  }
  auto parsed = parse_condition(text);
  if (!parsed.cond) {
    out.error = to_string(parsed.error);
    if (parsed.error.message.empty())
      out.problem = "parse_condition: an error without a message";
    auto direct = evaluate_condition(text, data);
    if (!direct.error || direct.value)
      out.problem = "evaluate_condition: a verdict on an unparsable condition";
    return out;
  }
  auto printed = to_string(*parsed.cond);
  auto again = parse_condition(text);
  if (!again.cond || to_string(*again.cond) != printed)
    out.problem = "parse_condition: not deterministic";
  auto result = evaluate(*parsed.cond, data);
  if (result.error) {
    out.error = to_string(*result.error);
    if (result.value)
      out.problem = "evaluate: true with an error";
    if (result.error->message.empty())
      out.problem = "evaluate: an error without a message";
  } else {
    out.accepted = true;
  }
  auto direct = evaluate_condition(text, data);
  if (direct.value != result.value
      || direct.error.has_value() != result.error.has_value())
    out.problem = "evaluate_condition disagrees with parse + evaluate";
  return out;
}

} // namespace conveyor::fuzz
