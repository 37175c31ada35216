#include "actors/gatekeeper/env_string.hpp"

namespace conveyor {

namespace {

bool is_blank(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

bool is_name_start(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

bool is_name_char(char c) {
  return is_name_start(c) || (c >= '0' && c <= '9');
}

// Characters that never need quoting in a POSIX shell word.
bool is_safe_char(char c) {
  if (is_name_char(c))
    return true;
  switch (c) {
    case '@': case '%': case '+': case '=': case ':': case ',':
    case '.': case '/': case '-':
      return true;
    default:
      return false;
  }
}

// Reads one value starting at `pos` up to the next unquoted blank. Inside
// double quotes a backslash escapes only what bash lets it escape, so
// Windows-like paths such as "C:\dir" keep their backslash.
bool read_value(std::string_view text, size_t& pos, std::string& out,
                std::string& error) {
  while (pos < text.size() && !is_blank(text[pos])) {
    auto c = text[pos];
    if (c == '\'') {
      auto end = text.find('\'', pos + 1);
      if (end == std::string_view::npos) {
        error = "unterminated single quote";
        return false;
      }
      out.append(text.substr(pos + 1, end - pos - 1));
      pos = end + 1;
    } else if (c == '"') {
      ++pos;
      for (;;) {
        if (pos >= text.size()) {
          error = "unterminated double quote";
          return false;
        }
        auto d = text[pos];
        if (d == '"') {
          ++pos;
          break;
        }
        if (d == '\\' && pos + 1 < text.size()) {
          auto e = text[pos + 1];
          if (e == '"' || e == '\\' || e == '$' || e == '`') {
            out += e;
            pos += 2;
            continue;
          }
          if (e == '\n') {
            pos += 2;
            continue;
          }
        }
        out += d;
        ++pos;
      }
    } else if (c == '\\') {
      if (pos + 1 < text.size()) {
        if (text[pos + 1] != '\n')
          out += text[pos + 1];
        pos += 2;
      } else {
        out += c;
        ++pos;
      }
    } else {
      out += c;
      ++pos;
    }
  }
  return true;
}

std::string quote(const std::string& value) {
  if (value.empty())
    return value;
  bool safe = true;
  for (auto c : value)
    if (!is_safe_char(c)) {
      safe = false;
      break;
    }
  if (safe)
    return value;
  if (value.find('\'') == std::string::npos)
    return "'" + value + "'";
  std::string result = "\"";
  for (auto c : value) {
    if (c == '"' || c == '\\' || c == '$' || c == '`')
      result += '\\';
    result += c;
  }
  result += '"';
  return result;
}

} // namespace

// -- parsing ------------------------------------------------------------------

bool is_env_name(std::string_view name) {
  if (name.empty() || !is_name_start(name[0]))
    return false;
  for (auto c : name)
    if (!is_name_char(c))
      return false;
  return true;
}

env_string_result parse_env_string(std::string_view text) {
  env_string_result result;
  size_t pos = 0;
  for (;;) {
    while (pos < text.size() && is_blank(text[pos]))
      ++pos;
    if (pos >= text.size())
      break;
    auto start = pos;
    while (pos < text.size() && is_name_char(text[pos]))
      ++pos;
    auto name = text.substr(start, pos - start);
    if (pos >= text.size() || text[pos] != '=' || !is_env_name(name)) {
      auto end = start;
      while (end < text.size() && !is_blank(text[end]))
        ++end;
      result.error = "expected NAME=value, got '"
                     + std::string{text.substr(start, end - start)} + "'";
      result.vars.clear();
      return result;
    }
    ++pos;
    env_var var;
    var.name = std::string{name};
    if (!read_value(text, pos, var.value, result.error)) {
      result.error += " in the value of " + var.name;
      result.vars.clear();
      return result;
    }
    result.vars.push_back(std::move(var));
  }
  return result;
}

// -- rendering ----------------------------------------------------------------

std::string render_env(const std::vector<env_var>& vars) {
  std::string result;
  for (const auto& var : vars) {
    if (!result.empty())
      result += ' ';
    result += var.name;
    result += '=';
    result += quote(var.value);
  }
  return result;
}

} // namespace conveyor
