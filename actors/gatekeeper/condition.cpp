// Condition data and the rendering of parsed conditions.
#include "actors/gatekeeper/condition.hpp"

#include <cstdio>

#include "actors/gatekeeper/env_string.hpp"

namespace conveyor {

namespace {

using kind = condition_node::kind_type;

// Ruby's `String#inspect`, enough for conditions.
void append_quoted(std::string& out, std::string_view text) {
  out += '"';
  for (std::size_t i = 0; i < text.size(); ++i) {
    auto c = text[i];
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      case '\f': out += "\\f"; break;
      case '\v': out += "\\v"; break;
      case '\a': out += "\\a"; break;
      case '\b': out += "\\b"; break;
      case '\x1b': out += "\\e"; break;
      case '#': {
        auto next = i + 1 < text.size() ? text[i + 1] : '\0';
        out += next == '{' || next == '$' || next == '@' ? "\\#" : "#";
        break;
      }
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof(buf),
                        c == 0x7f ? "\\x%02X" : "\\u%04X",
                        static_cast<unsigned char>(c));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

std::string_view symbol(kind k) {
  switch (k) {
    case kind::val: return "val";
    case kind::var: return "var";
    case kind::call: return "call";
    case kind::reg: return "reg";
    case kind::list: return "list";
    case kind::eq: return "eq";
    case kind::neq: return "not_eq";
    case kind::match: return "match";
    case kind::not_match: return "not_match";
    case kind::in: return "in";
    case kind::not_in: return "not_in";
    case kind::is: return "is";
    case kind::is_not: return "is_not";
    case kind::not_: return "not";
    case kind::and_: return "and";
    case kind::or_: return "or";
  }
  return "?";
}

void append(std::string& out, const condition_node& node);

void append_list(std::string& out, const std::vector<condition_node>& items) {
  out += '[';
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0)
      out += ", ";
    append(out, items[i]);
  }
  out += ']';
}

void append(std::string& out, const condition_node& node) {
  if (node.kind == kind::list) {
    append_list(out, node.args);
    return;
  }
  // Travis nests AND / OR chains to the left: [:or, [:or, a, b], c].
  if (node.kind == kind::and_ || node.kind == kind::or_) {
    for (std::size_t i = 1; i < node.args.size(); ++i)
      out.append("[:").append(symbol(node.kind)).append(", ");
    for (std::size_t i = 0; i < node.args.size(); ++i) {
      if (i > 0)
        out += ", ";
      append(out, node.args[i]);
      if (i > 0)
        out += ']';
    }
    return;
  }
  out.append("[:").append(symbol(node.kind));
  switch (node.kind) {
    case kind::val:
      out += ", ";
      append_quoted(out, node.text);
      break;
    case kind::var:
      out.append(", :").append(node.text);
      break;
    case kind::call:
      out.append(", :").append(node.text).append(", ");
      append_list(out, node.args);
      break;
    case kind::reg:
      out += ", ";
      if (node.args.empty())
        append_quoted(out, node.text);
      else
        append(out, node.args.front());
      break;
    case kind::is:
    case kind::is_not:
      out += ", ";
      append(out, node.args.front());
      out.append(", :").append(node.text);
      break;
    default: // operators: [:op, lhs, rhs], a missing rhs is nil
      for (const auto& arg : node.args) {
        out += ", ";
        append(out, arg);
      }
      if (node.kind != kind::not_ && node.args.size() < 2)
        out += ", nil";
  }
  out += ']';
}

} // namespace

void condition_data::add_env_string(std::string_view text) {
  auto parsed = parse_env_string(text);
  for (auto& var : parsed.vars) {
    auto lowered = var.value;
    for (auto& c : lowered)
      c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    if (lowered == "true" || lowered == "false")
      env[var.name] = lowered == "true";
    else
      env[var.name] = std::move(var.value);
  }
}

std::string to_string(const condition_node& node) {
  std::string result;
  append(result, node);
  return result;
}

std::string to_string(const condition& cond) {
  return to_string(cond.root);
}

std::string to_string(const condition_error& err) {
  if (err.line == 0)
    return err.message;
  return "line " + std::to_string(err.line) + ", column "
         + std::to_string(err.column) + ": " + err.message;
}

} // namespace conveyor
