#include "actors/worker/build_script.hpp"

#include <algorithm>
#include <cctype>
#include <sstream>

namespace conveyor {

namespace {

// Characters that never need quoting in a shell word.
bool is_plain(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0
         || std::string_view{"_@%+=:,./-"}.find(c) != std::string_view::npos;
}

// Builds the script line by line. Every user-supplied string goes through
// shell_word, so the script itself always parses, whatever the commands hold;
// the commands are only interpreted by `eval`.
class script_writer {
public:
  explicit script_writer(std::ostringstream& out) : out_(out) {
  }

  void echo_command(std::string_view indent, const std::string& cmd) {
    out_ << indent << "printf '%s\\n' " << shell_word("$ " + cmd) << '\n';
  }

  // A setup command: its failure stops the build. `run`, if given, is what
  // runs instead of `cmd` (which is shown): the clone with its credentials.
  void setup(const std::string& phase, const std::string& cmd,
             const std::string& run = {}) {
    out_ << "if [ \"$_conveyor_stopped\" = 0 ]; then\n";
    echo_command("  ", cmd);
    out_ << "  eval " << shell_word(run.empty() ? cmd : run) << "\n"
         << "  _conveyor_rc=$?\n"
         << "  if [ \"$_conveyor_rc\" -ne 0 ]; then\n"
         << "    printf '\\nThe command \"%s\" failed and exited with %s during "
            "%s.\\n\\nYour build has been stopped.\\n' "
         << shell_word(cmd) << " \"$_conveyor_rc\" " << shell_word(phase)
         << "\n"
         << "    _conveyor_stopped=1\n"
         << "    _conveyor_stop_rc=$_conveyor_rc\n"
         << "    _conveyor_stop_phase=" << shell_word(phase) << "\n"
         << "  fi\n"
         << "fi\n";
  }

  // A script command: its failure fails the build, the next still runs.
  void test(const std::string& cmd) {
    out_ << "if [ \"$_conveyor_stopped\" = 0 ]; then\n";
    echo_command("  ", cmd);
    out_ << "  eval " << shell_word(cmd) << "\n"
         << "  _conveyor_rc=$?\n"
         << "  if [ \"$_conveyor_rc\" -ne 0 ]; then _conveyor_test_result=1; "
            "fi\n"
         << "  export TRAVIS_TEST_RESULT=$_conveyor_test_result\n"
         << "  printf '\\nThe command \"%s\" exited with %s.\\n\\n' "
         << shell_word(cmd) << " \"$_conveyor_rc\"\n"
         << "fi\n";
  }

  // An after_* command: runs when `condition` holds, its status is ignored.
  void after(const std::string& condition, const std::string& cmd) {
    out_ << "if " << condition << "; then\n";
    echo_command("  ", cmd);
    out_ << "  eval " << shell_word(cmd) << "\n"
         << "fi\n";
  }

private:
  std::ostringstream& out_;
};

bool is_git_auth(const env_var& var) {
  return var.name == git_auth_variable;
}

bool has_git_auth(const job_spec& spec) {
  return std::any_of(spec.env.begin(), spec.env.end(), is_git_auth);
}

// The credentials arrive in the script's environment, which stays readable
// in /proc/<pid>/environ for as long as the process lives, whatever `unset`
// does. So the script takes them into a shell variable and replaces itself
// (same pid and process group) with a bash without them, through a pipe.
void write_git_auth_handover(std::ostringstream& out) {
  auto var = std::string{git_auth_variable};
  out << "if [ -n \"${" << var << "+set}\" ]; then\n"
      << "  exec 3<<<\"$" << var << "\"\n"
      << "  exec /usr/bin/env -u " << var
      << " _CONVEYOR_GIT_AUTH_FD=3 /bin/bash \"$0\"\n"
      << "fi\n"
      << "_conveyor_git_auth=\n"
      << "if [ -n \"${_CONVEYOR_GIT_AUTH_FD+set}\" ]; then\n"
      << "  IFS= read -r _conveyor_git_auth <&3\n"
      << "  exec 3<&-\n"
      << "  unset _CONVEYOR_GIT_AUTH_FD\n"
      << "fi\n";
}

void write_env(std::ostringstream& out, const job_spec& spec) {
  if (std::all_of(spec.env.begin(), spec.env.end(), is_git_auth))
    return;
  out << "printf '%s\\n' 'Setting environment variables from .travis.yml'\n";
  for (const auto& var : spec.env) {
    if (is_git_auth(var))
      continue; // the worker's, for the clone only: never written
    if (!is_valid_env_name(var.name)) {
      out << "printf '%s\\n' "
          << shell_word("Skipping the invalid environment variable name "
                        + shell_word(var.name) + ".")
          << '\n';
      continue;
    }
    auto assignment = var.name + "=" + shell_word(var.value);
    out << "printf '%s\\n' " << shell_word("$ export " + assignment) << '\n'
        << "export " << assignment << '\n';
  }
  out << "echo\n";
}

// A clone only has the remote's branches and tags: the head of a pull
// request from a fork (or one no branch holds any more, or one beyond a
// shallow clone's depth) is found under refs/pull/N/head, as on GitHub. It is
// fetched only when the clone lacks the commit; a remote without that ref (a
// plain repository) leaves the clone as it is, and the checkout that follows
// tells whether the commit is there.
template <class Wrap>
std::string pull_request_fetch(const job_spec& spec, const std::string& dir,
                               Wrap wrap) {
  auto number = std::to_string(spec.pull_request);
  auto ref = "refs/pull/" + number + "/head";
  std::string depth;
  if (spec.clone_depth > 0)
    depth = " --depth=" + std::to_string(spec.clone_depth);
  return "git -C " + dir + " cat-file -e " + shell_word(spec.sha + "^{commit}")
         + " 2>/dev/null || "
         + wrap("git -C " + dir + " fetch --quiet" + depth + " origin "
                + shell_word("+" + ref + ":refs/remotes/origin/pull/" + number
                             + "/head"))
         + " || printf '%s\\n' " + shell_word("Could not fetch " + ref
                                         + ": checking out the commit as "
                                           "cloned.");
}

std::string pull_request_fetch(const job_spec& spec, const std::string& dir) {
  return pull_request_fetch(spec, dir, [](std::string cmd) { return cmd; });
}

// Runs a git command with the header of git_auth_variable for the origin
// alone, in a subshell that keeps only the basic variables of the job's
// environment and a fixed PATH: nothing a config's `env` sets (tracing,
// proxies, GIT_* settings, another PATH) applies to a command that holds
// the credentials. The value reaches git through its environment only (an
// argument would show in `ps`).
std::string with_git_auth(const std::string& origin, const std::string& cmd) {
  return "( for _conveyor_v in $(compgen -e); do case \"$_conveyor_v\" in "
         "HOME|LANG|TERM|USER|LOGNAME) ;; *) unset \"$_conveyor_v\" ;; "
         "esac; done; export PATH=/usr/local/bin:/usr/bin:/bin; "
         "GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null "
         "GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0="
         + shell_word("http." + origin + ".extraHeader")
         + " GIT_CONFIG_VALUE_0=\"Authorization: $_conveyor_git_auth\" exec "
         + cmd + " )";
}

void write_checkout(script_writer& w, std::ostringstream& out,
                    const job_spec& spec, const build_layout& where) {
  auto dir = shell_word(where.build_dir.string());
  std::string origin;
  if (has_git_auth(spec) && spec.clone)
    origin = http_origin(spec.repo);
  auto authed = [&origin](const std::string& cmd) {
    return origin.empty() ? std::string{} : with_git_auth(origin, cmd);
  };
  if (spec.repo.empty() || !spec.clone) {
    out << "mkdir -p -- " << dir << '\n';
  } else {
    std::string options = "--quiet";
    auto source = spec.repo;
    if (spec.clone_depth > 0) {
      options += " --depth=" + std::to_string(spec.clone_depth);
      if (!spec.branch.empty())
        options += " --branch=" + shell_word(spec.branch);
      // git makes shallow clones of a local path only through a file:// URL.
      if (source.front() == '/')
        source = "file://" + source;
    }
    auto clone = "git clone " + options + " " + shell_word(source) + " " + dir;
    w.setup("clone", clone, authed(clone));
    if (spec.pull_request > 0 && !spec.sha.empty()) {
      auto fetch = pull_request_fetch(spec, dir);
      w.setup("clone", fetch, origin.empty() ? std::string{}
                                             : pull_request_fetch(spec, dir,
                                                                  authed));
    }
    if (!spec.sha.empty())
      w.setup("clone", "git -C " + dir + " checkout --quiet --force "
                         + shell_word(spec.sha));
  }
  // No command of the config may see the credentials.
  out << "unset _conveyor_git_auth " << git_auth_variable << '\n';
  w.setup("clone", "cd " + dir);
}

} // namespace

void set_git_auth(job_spec& spec, std::string header) {
  spec.env.erase(std::remove_if(spec.env.begin(), spec.env.end(), is_git_auth),
                 spec.env.end());
  if (!header.empty())
    spec.env.push_back({git_auth_variable, std::move(header)});
}

std::string http_origin(std::string_view url) {
  auto sep = url.find("://");
  if (sep == std::string_view::npos)
    return {};
  auto scheme = url.substr(0, sep);
  if (scheme != "http" && scheme != "https")
    return {};
  auto rest = url.substr(sep + 3);
  auto authority = rest.substr(0, rest.find_first_of("/?#"));
  if (auto at = authority.rfind('@'); at != std::string_view::npos)
    authority.remove_prefix(at + 1);
  if (authority.empty())
    return {};
  return std::string{scheme} + "://" + std::string{authority} + "/";
}

std::string shell_word(std::string_view x) {
  bool plain = !x.empty();
  for (auto c : x)
    plain = plain && is_plain(c);
  if (plain)
    return std::string{x};
  std::string result = "'";
  for (auto c : x) {
    if (c == '\'')
      result += "'\\''";
    else
      result += c;
  }
  result += '\'';
  return result;
}

bool is_valid_env_name(std::string_view x) {
  if (x.empty() || std::isdigit(static_cast<unsigned char>(x.front())) != 0)
    return false;
  for (auto c : x)
    if (c != '_' && std::isalnum(static_cast<unsigned char>(c)) == 0)
      return false;
  return true;
}

std::string make_build_script(const job_spec& spec,
                              const build_layout& where) {
  std::ostringstream out;
  script_writer w{out};
  out << "#!/bin/bash\n"
      << "# Generated by conveyor for job " << spec.job_id << " ("
      << job_number(spec) << "), attempt " << spec.attempt << ".\n"
      << "# Every command runs with eval in this one shell, so `export` and\n"
      << "# `cd` persist across phases, as on Travis CI. The result line is\n"
      << "# written once the result is known; a missing result file tells\n"
      << "# the runner that the script ended early.\n"
      << "_conveyor_result_file=" << shell_word(where.result_file.string())
      << "\n"
      << "_conveyor_stopped=0\n"
      << "_conveyor_stop_rc=0\n"
      << "_conveyor_stop_phase=\n"
      << "_conveyor_test_result=0\n"
      << "rm -f -- \"$_conveyor_result_file\"\n";
  if (has_git_auth(spec))
    write_git_auth_handover(out);
  // The clone comes first, as on Travis CI: the config's env is exported
  // (and its values expanded) only once the credentials are gone.
  write_checkout(w, out, spec, where);
  write_env(out, spec);
  const auto& p = spec.phases;
  for (const auto& cmd : p.before_install)
    w.setup("before_install", cmd);
  for (const auto& cmd : p.install)
    w.setup("install", cmd);
  for (const auto& cmd : p.before_script)
    w.setup("before_script", cmd);
  for (const auto& cmd : p.script)
    w.test(cmd);
  out << "export TRAVIS_TEST_RESULT=$_conveyor_test_result\n"
      << "if [ \"$_conveyor_stopped\" != 0 ]; then\n"
      << "  _conveyor_state=errored\n"
      << "  _conveyor_exit=$_conveyor_stop_rc\n"
      << "  _conveyor_phase=$_conveyor_stop_phase\n"
      << "elif [ \"$_conveyor_test_result\" = 0 ]; then\n"
      << "  _conveyor_state=passed\n"
      << "  _conveyor_exit=0\n"
      << "  _conveyor_phase=script\n"
      << "else\n"
      << "  _conveyor_state=failed\n"
      << "  _conveyor_exit=1\n"
      << "  _conveyor_phase=script\n"
      << "fi\n"
      << "printf '%s %s %s\\n' \"$_conveyor_state\" \"$_conveyor_exit\" "
         "\"$_conveyor_phase\" > \"$_conveyor_result_file\"\n";
  for (const auto& cmd : p.after_success)
    w.after("[ \"$_conveyor_state\" = passed ]", cmd);
  for (const auto& cmd : p.after_failure)
    w.after("[ \"$_conveyor_state\" = failed ]", cmd);
  for (const auto& cmd : p.after_script)
    w.after("true", cmd);
  out << "exit \"$_conveyor_exit\"\n";
  return out.str();
}

std::optional<script_result> parse_script_result(std::string_view text) {
  std::istringstream in{std::string{text}};
  std::string state;
  script_result result;
  if (!(in >> state >> result.exit_code >> result.phase))
    return std::nullopt;
  if (state == "passed")
    result.state = job_state::passed;
  else if (state == "failed")
    result.state = job_state::failed;
  else if (state == "errored")
    result.state = job_state::errored;
  else
    return std::nullopt;
  return result;
}

} // namespace conveyor
