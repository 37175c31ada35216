#include "actors/gatekeeper/approval.hpp"

#include <vector>

#include "actors/gatekeeper/condition.hpp"
#include "actors/gatekeeper/travis_matrix.hpp"

namespace conveyor {

namespace {

char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

// True if `text` at `pos` starts with `word`, ignoring ASCII case.
bool starts_with_nocase(std::string_view text, std::size_t pos,
                        std::string_view word) {
  if (text.size() - pos < word.size())
    return false;
  for (std::size_t i = 0; i < word.size(); ++i)
    if (lower(text[pos + i]) != lower(word[i]))
      return false;
  return true;
}

// Ruby's `\s`.
bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'
         || c == '\v';
}

// Ruby's `\w` (ASCII).
bool is_word(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
         || (c >= '0' && c <= '9') || c == '_';
}

// Matches /\[skip\s+ci\]/i.
bool has_skip_ci(std::string_view text) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (!starts_with_nocase(text, i, "[skip"))
      continue;
    auto j = i + 5;
    auto blanks = j;
    while (j < text.size() && is_space(text[j]))
      ++j;
    if (j > blanks && starts_with_nocase(text, j, "ci]"))
      return true;
  }
  return false;
}

// The command of the first match of /\[ci(?: |:)([\w ]*)\]/i, lower-cased;
// false if there is none.
bool ci_command(std::string_view text, std::string& out) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (!starts_with_nocase(text, i, "[ci"))
      continue;
    auto j = i + 3;
    if (j >= text.size() || (text[j] != ' ' && text[j] != ':'))
      continue;
    auto start = ++j;
    while (j < text.size() && (is_word(text[j]) || text[j] == ' '))
      ++j;
    if (j < text.size() && text[j] == ']') {
      out.clear();
      for (auto k = start; k < j; ++k)
        out += lower(text[k]);
      return true;
    }
  }
  return false;
}

// Ruby's `String#strip`.
std::string strip(std::string_view x) {
  auto blank = [](char c) { return is_space(c) || c == '\0'; };
  std::size_t b = 0;
  auto e = x.size();
  while (b < e && blank(x[b]))
    ++b;
  while (e > b && blank(x[e - 1]))
    --e;
  return std::string{x.substr(b, e - b)};
}

// The entries of an `only` / `except` value: a string split on commas, or a
// list as given.
std::vector<std::string> patterns(const config_node& x) {
  std::vector<std::string> result;
  if (x.is_string()) {
    std::string_view text = x.text();
    std::size_t start = 0;
    for (;;) {
      auto comma = text.find(',', start);
      result.push_back(strip(text.substr(start, comma - start)));
      if (comma == std::string_view::npos)
        break;
      start = comma + 1;
    }
    // Ruby's `split` drops trailing empty fields.
    while (!result.empty() && result.back().empty())
      result.pop_back();
    return result;
  }
  for (const auto& item : x.items())
    if (item.is_string())
      result.push_back(item.text());
  return result;
}

// Ruby's `Regexp.new(re) === text`; an invalid regex matches nothing.
bool regex_matches(const std::string& re, std::string_view text) {
  condition c;
  c.root.kind = condition_node::kind_type::match;
  condition_node var;
  var.kind = condition_node::kind_type::var;
  var.text = "branch";
  condition_node reg;
  reg.kind = condition_node::kind_type::reg;
  reg.text = re;
  c.root.args = {var, reg};
  condition_data data;
  data.attributes["branch"] = std::string{text};
  auto result = evaluate(c, data);
  return !result.error && result.value;
}

bool matches(const std::string& pattern, std::string_view branch) {
  bool regex = pattern.size() >= 2 && pattern.front() == '/'
               && pattern.back() == '/'
               && pattern.find('\n') == std::string::npos;
  if (regex)
    return regex_matches(pattern.substr(1, pattern.size() - 2), branch);
  return pattern == branch;
}

bool includes(const config_node& list, std::string_view branch) {
  for (const auto& pattern : patterns(list))
    if (matches(pattern, branch))
      return true;
  return false;
}

approval rejected(std::string code, std::string reason) {
  return {false, std::move(code), std::move(reason)};
}

// A GitHub Pages branch is built only if `branches.only` names one.
bool github_pages_enabled(const config_node& branches) {
  for (const auto& x : wrap(branches.get("only")))
    if (x.is_string() && is_github_pages(x.text()))
      return true;
  return false;
}

} // namespace

// -- rules --------------------------------------------------------------------

bool skips_ci(std::string_view message) {
  if (has_skip_ci(message))
    return true;
  std::string command;
  return ci_command(message, command) && command == "skip";
}

bool branch_included(const config_node& branches, std::string_view branch) {
  auto only = branches.get("only");
  if (only.is_null() || (only.is_bool() && !only.flag()))
    return true;
  return includes(only, branch);
}

bool branch_excluded(const config_node& branches, std::string_view branch) {
  auto except = branches.get("except");
  if (except.is_null() || (except.is_bool() && !except.flag()))
    return false;
  return includes(except, branch);
}

bool is_github_pages(std::string_view branch) {
  for (std::size_t i = 0; i + 8 <= branch.size(); ++i)
    if (starts_with_nocase(branch, i, "gh")
        && (branch[i + 2] == '-' || branch[i + 2] == '_')
        && starts_with_nocase(branch, i + 3, "pages"))
      return true;
  return false;
}

// -- requests -----------------------------------------------------------------

config_node request_data(const build_request& req) {
  config_node result = config_node::map();
  auto set = [&result](const char* key, const std::string& value) {
    if (!value.empty())
      result.set(key, config_node::string(value));
  };
  set("type", req.event.empty() ? std::string{"push"} : req.event);
  set("repo", req.slug);
  set("branch", req.branch.empty() ? req.tag : req.branch);
  set("tag", req.tag);
  set("commit_message", req.commit_message);
  set("sender", req.sender);
  if (req.pull_request > 0 || req.event == "pull_request") {
    set("head_repo", req.head_repo);
    set("head_branch", req.head_branch);
    result.set("fork", config_node::boolean(req.fork));
  }
  return result;
}

approval approve_request(const build_request& req,
                         const config_node& config) {
  if (skips_ci(req.commit_message))
    return rejected("ci_skip",
                    "the commit message asks not to build it ([ci skip] or "
                    "[skip ci])");
  if (!config.is_map())
    return {};
  auto branch = req.branch.empty() ? req.tag : req.branch;
  auto branches = config.get("branches");
  if (is_github_pages(branch) && !github_pages_enabled(branches))
    return rejected("github_pages",
                    "'" + branch
                      + "' is a GitHub Pages branch, which is built only if "
                        "'branches.only' names it");
  if (branches.is_map()) {
    if (!branch_included(branches, branch))
      return rejected("branch_not_included",
                      "the branch '" + branch
                        + "' is not included by 'branches.only'");
    if (branch_excluded(branches, branch))
      return rejected("branch_excluded",
                      "the branch '" + branch
                        + "' is excluded by 'branches.except'");
  }
  auto cond = config.get("if");
  std::string error;
  if (!accept_condition(cond, config, request_data(req), &error))
    return rejected("build_condition",
                    "the build's condition does not hold: 'if: "
                      + cond.scalar_text() + "'"
                      + (error.empty() ? "" : " (" + error + ")"));
  return {};
}

} // namespace conveyor
