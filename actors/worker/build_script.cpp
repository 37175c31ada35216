#include "actors/worker/build_script.hpp"

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

  // A setup command: its failure stops the build.
  void setup(const std::string& phase, const std::string& cmd) {
    out_ << "if [ \"$_conveyor_stopped\" = 0 ]; then\n";
    echo_command("  ", cmd);
    out_ << "  eval " << shell_word(cmd) << "\n"
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

void write_env(std::ostringstream& out, const job_spec& spec) {
  if (spec.env.empty())
    return;
  out << "printf '%s\\n' 'Setting environment variables from .travis.yml'\n";
  for (const auto& var : spec.env) {
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
std::string pull_request_fetch(const job_spec& spec, const std::string& dir) {
  auto number = std::to_string(spec.pull_request);
  auto ref = "refs/pull/" + number + "/head";
  std::string depth;
  if (spec.clone_depth > 0)
    depth = " --depth=" + std::to_string(spec.clone_depth);
  return "git -C " + dir + " cat-file -e " + shell_word(spec.sha + "^{commit}")
         + " 2>/dev/null || git -C " + dir + " fetch --quiet" + depth
         + " origin " + shell_word("+" + ref + ":refs/remotes/origin/pull/"
                                   + number + "/head")
         + " || printf '%s\\n' " + shell_word("Could not fetch " + ref
                                         + ": checking out the commit as "
                                           "cloned.");
}

void write_checkout(script_writer& w, std::ostringstream& out,
                    const job_spec& spec, const build_layout& where) {
  auto dir = shell_word(where.build_dir.string());
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
    w.setup("clone",
            "git clone " + options + " " + shell_word(source) + " " + dir);
    if (spec.pull_request > 0 && !spec.sha.empty())
      w.setup("clone", pull_request_fetch(spec, dir));
    if (!spec.sha.empty())
      w.setup("clone", "git -C " + dir + " checkout --quiet --force "
                         + shell_word(spec.sha));
  }
  w.setup("clone", "cd " + dir);
}

} // namespace

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
  write_env(out, spec);
  write_checkout(w, out, spec, where);
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
