// Evaluation of v1 conditions, following travis-conditions' `Eval` and
// `Data`: values are nil, booleans or strings; a string "true" / "false" (any
// case) reads as a boolean wherever a value is read; `AND`, `OR` and `NOT`
// see Ruby truthiness (only nil and false are false).
//
// Regular expressions are Ruby's in Travis. Here they run on std::regex in
// ECMAScript mode after a small translation (see `regex_translator`), with
// libstdc++'s breadth-first executor: its recursion depth depends on the
// pattern only, never on the text, and its time is linear in the text.
// Patterns are bounded in length and size, and matching in steps, so a
// hostile condition cannot exhaust the stack or the CPU.
#include "actors/gatekeeper/condition.hpp"

#include <algorithm>
#include <exception>
#include <iterator>
#include <regex>

#if !defined(__GLIBCXX__)
#  error "condition regexes rely on libstdc++'s polynomial regex executor"
#endif

namespace conveyor {

namespace {

using kind = condition_node::kind_type;

// Thrown inside the evaluator only; `evaluate` turns it into an error.
struct eval_failure {
  std::string message;
};

// -- values -------------------------------------------------------------------

bool truthy(const condition_value& value) {
  if (std::holds_alternative<std::monostate>(value))
    return false;
  if (auto b = std::get_if<bool>(&value))
    return *b;
  return true;
}

// Ruby's `to_s`.
std::string to_s(const condition_value& value) {
  if (auto b = std::get_if<bool>(&value))
    return *b ? "true" : "false";
  if (auto s = std::get_if<std::string>(&value))
    return *s;
  return {};
}

bool iequals(std::string_view text, std::string_view lower_word) {
  if (text.size() != lower_word.size())
    return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    auto c = text[i];
    if (c >= 'A' && c <= 'Z')
      c = static_cast<char>(c - 'A' + 'a');
    if (c != lower_word[i])
      return false;
  }
  return true;
}

// Travis' `cast`: the strings "true" and "false" (any case) are booleans.
condition_value cast(condition_value value) {
  if (auto s = std::get_if<std::string>(&value)) {
    if (iequals(*s, "true"))
      return true;
    if (iequals(*s, "false"))
      return false;
  }
  return value;
}

// Travis strips one pair of matching quotes from each line of an env value
// (`gsub(/^(["'])(.*)\1$/, '\2')`).
std::string unquote_lines(std::string_view text) {
  std::string result;
  std::size_t start = 0;
  for (;;) {
    auto end = std::min(text.find('\n', start), text.size());
    auto line = text.substr(start, end - start);
    if (line.size() >= 2 && (line.front() == '"' || line.front() == '\'')
        && line.back() == line.front())
      line = line.substr(1, line.size() - 2);
    result.append(line);
    if (end == text.size())
      return result;
    result += '\n';
    start = end + 1;
  }
}

// -- regular expressions ------------------------------------------------------

[[noreturn]] void unsupported_regex(std::string_view source,
                                    std::string_view why) {
  throw eval_failure{"Unsupported regular expression: /" + std::string{source}
                     + "/ (" + std::string{why} + ")"};
}

// Where the character class starting at `open` (a `[`) ends (its `]`), or
// the end of the pattern.
std::size_t class_end(std::string_view p, std::size_t open) {
  auto i = open + 1;
  if (i < p.size() && p[i] == '^')
    ++i;
  if (i < p.size() && p[i] == ']')
    ++i; // a leading `]` is literal
  for (; i < p.size(); ++i) {
    if (p[i] == '\\') {
      ++i;
    } else if (p[i] == '[' && i + 1 < p.size() && p[i + 1] == ':') {
      auto close = p.find(":]", i + 2);
      if (close != std::string_view::npos)
        i = close + 1;
    } else if (p[i] == ']') {
      return i;
    }
  }
  return p.size();
}

// The upper bound of a counted repetition `{n}`, `{n,}` or `{n,m}` starting
// at `open`, with `end` set to its `}`; nullopt if `{` starts none.
std::optional<std::size_t> repeat_bound(std::string_view p, std::size_t open,
                                        std::size_t& end) {
  auto number = [p](std::size_t& i) {
    std::optional<std::size_t> result;
    for (; i < p.size() && p[i] >= '0' && p[i] <= '9'; ++i)
      result = std::min<std::size_t>(result.value_or(0) * 10 + (p[i] - '0'),
                                     1'000'000);
    return result;
  };
  auto i = open + 1;
  auto low = number(i);
  if (!low)
    return std::nullopt;
  auto high = low;
  if (i < p.size() && p[i] == ',') {
    ++i;
    if (auto n = number(i))
      high = n;
  }
  if (i >= p.size() || p[i] != '}')
    return std::nullopt;
  end = i;
  return std::max(*low, *high);
}

// Roughly how many states libstdc++'s automaton for an ECMAScript pattern
// has: one per atom, quantifier or alternative, two per group, and counted
// repetitions copy what they repeat. The recursion depth of matching grows
// with it.
std::size_t automaton_size(std::string_view p) {
  // Sizes saturate just above the limit, so they cannot overflow.
  auto cap = max_condition_regex_size + 1;
  auto add = [cap](std::size_t x, std::size_t y) {
    return std::min(cap, x + y);
  };
  std::vector<std::size_t> groups{0}; // the size of each open group so far
  std::size_t last = 0;               // the size of what a quantifier repeats
  for (std::size_t i = 0; i < p.size(); ++i) {
    std::size_t atom = 1;
    std::size_t end = 0;
    if (p[i] == '\\') {
      ++i;
    } else if (p[i] == '[') {
      i = class_end(p, i);
    } else if (p[i] == '(') {
      if (p.substr(i + 1, 1) == "?")
        i += 2; // `(?:`, `(?=`, `(?!`
      groups.push_back(0);
      last = 0;
      continue;
    } else if (p[i] == ')' && groups.size() > 1) {
      atom = add(groups.back(), 2);
      groups.pop_back();
    } else if (p[i] == '{') {
      if (auto n = repeat_bound(p, i, end)) {
        auto copies = std::max<std::size_t>(*n, 1);
        auto repeated = std::min(cap, (last + 1) * copies);
        groups.back() = add(groups.back() - last, repeated);
        last = repeated;
        i = end;
        continue;
      }
    }
    groups.back() = add(groups.back(), atom);
    last = atom;
  }
  std::size_t total = 0;
  for (auto size : groups)
    total = add(total, size);
  return total;
}

[[noreturn]] void invalid_regex(std::string_view source) {
  throw eval_failure{"Invalid regular expression: /" + std::string{source}
                     + "/"};
}

bool is_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')
         || (c >= 'A' && c <= 'F');
}

// True if a quantifier (`*`, `+`, `?`, `{n,m}`) starts at `i`.
bool is_quantifier(std::string_view p, std::size_t i) {
  std::size_t end = 0;
  return i < p.size()
         && (p[i] == '*' || p[i] == '+' || p[i] == '?'
             || (p[i] == '{' && repeat_bound(p, i, end)));
}

// Translates the character class `cls` (`[...]`, brackets included).
std::string translate_class(std::string_view source, std::string_view cls) {
  std::string out = "[";
  std::size_t i = 1;
  if (cls[i] == '^')
    out += cls[i++];
  if (cls[i] == ']') { // literal in Ruby, an empty class in ECMAScript
    out += "\\]";
    ++i;
  }
  for (; i + 1 < cls.size(); ++i) {
    auto c = cls[i];
    if (c == '\\') {
      auto e = cls[++i];
      if (e == 'H')
        unsupported_regex(source, "\\H inside [...]");
      if (e == 'h')
        out += "0-9a-fA-F";
      else
        out.append(1, c).append(1, e);
    } else if (c == '[' && cls[i + 1] == ':'
               && cls.find(":]", i + 2) != std::string_view::npos) {
      auto close = cls.find(":]", i + 2);
      auto name = cls.substr(i, close + 2 - i);
      out += name == "[:word:]" ? "\\w" : name;
      i = close + 1;
    } else if (c == '[') {
      unsupported_regex(source, "nested character classes");
    } else if (c == '&' && cls[i + 1] == '&') {
      unsupported_regex(source, "character class intersections");
    } else {
      out += c;
    }
  }
  return out + "]";
}

// How a Ruby pattern is run as ECMAScript.
struct translated_regex {
  std::string pattern;
  bool multiline = true; // Ruby's `^` and `$` always work on lines
};

// Translates the Ruby syntax that ECMAScript lacks or reads differently:
// `.`, `\A`, `\z`, `\Z`, `\h`, `\R`, `\e`, `\xH`, `{,n}`, a `{` that starts
// no repetition, repeated anchors (`^*`), named groups, `[:word:]` and a
// leading `]` in a class. What has no ECMAScript equivalent (lookbehind, inline
// options, atomic groups, nested classes, ...) is rejected rather than
// misread, and so are unbalanced parentheses, which could otherwise pair with
// the group `compile_regex` wraps the pattern in.
class regex_translator {
public:
  explicit regex_translator(std::string_view source) : source_(source) {
    // nop
  }

  translated_regex run() {
    for (i_ = 0; i_ < source_.size(); ++i_) {
      auto c = source_[i_];
      if (c == '\\')
        escape();
      else if (c == '[')
        char_class();
      else if (c == '(')
        open_group();
      else if (c == ')')
        close_group();
      else if (c == '{')
        brace();
      else if (c == '^' || c == '$')
        anchor(c);
      else if (c == '.')
        out_.pattern += "[^\\n]"; // ECMAScript's `.` also stops at `\r`
      else
        out_.pattern += c;
    }
    if (depth_ > 0)
      invalid_regex(source_);
    if (string_start_) {
      if (line_anchors_)
        unsupported_regex(source_, "\\A together with ^ or $");
      out_.multiline = false;
    }
    return std::move(out_);
  }

private:
  void escape() {
    if (i_ + 1 == source_.size())
      invalid_regex(source_);
    auto e = source_[++i_];
    auto next = i_ + 1 < source_.size() ? source_[i_ + 1] : '\0';
    auto& out = out_.pattern;
    switch (e) {
      case 'A':
        out += '^';
        string_start_ = true;
        break;
      case 'z': out += "(?![\\s\\S])"; break;
      case 'Z': out += "(?=\\n?(?![\\s\\S]))"; break;
      case 'h': out += "[0-9a-fA-F]"; break;
      case 'H': out += "[^0-9a-fA-F]"; break;
      case 'R': out += "(?:\\r\\n|[\\n\\v\\f\\r])"; break;
      case 'e': out += "\\x1b"; break;
      case 'a': out += "\\x07"; break;
      case 'K': break; // moves the match start: whether it matches is the same
      case 'x': // Ruby also takes one hex digit
        out += is_hex(next) && !is_hex(i_ + 2 < source_.size()
                                         ? source_[i_ + 2]
                                         : '\0')
                 ? "\\x0"
                 : "\\x";
        break;
      case 'k': case 'g': case 'p': case 'P':
        // `\k<name>`, `\g<name>`, `\p{Alpha}`; otherwise a plain letter
        if (next == '<' || next == '{')
          unsupported_regex(source_, std::string{"\\"} + e);
        out += e;
        break;
      case 'G': case 'X': case 'C': case 'M':
        unsupported_regex(source_, std::string{"\\"} + e);
      default:
        if (e >= '0' && e <= '9' && too_many_digits())
          invalid_regex(source_);
        out.append(1, '\\').append(1, e);
    }
  }

  // std::regex reads the number of a back-reference `\123` into a long
  // without checking for overflow (undefined behaviour). A pattern short
  // enough has fewer than 1000 groups, so a longer number is invalid anyway.
  bool too_many_digits() const {
    auto end = i_;
    while (end < source_.size() && source_[end] >= '0' && source_[end] <= '9')
      ++end;
    return end - i_ > 3;
  }

  void char_class() {
    auto end = class_end(source_, i_);
    if (end == source_.size())
      invalid_regex(source_);
    out_.pattern += translate_class(source_, source_.substr(i_, end - i_ + 1));
    i_ = end;
  }

  void open_group() {
    ++depth_;
    auto rest = source_.substr(i_);
    if (rest.substr(0, 4) == "(?<=" || rest.substr(0, 4) == "(?<!")
      unsupported_regex(source_, "lookbehind");
    if (rest.substr(0, 3) == "(?<") { // a named group is a numbered one here
      auto close = source_.find('>', i_ + 3);
      if (close == std::string_view::npos)
        invalid_regex(source_);
      out_.pattern += '(';
      i_ = close;
      return;
    }
    if (rest.size() > 2 && rest[1] == '?'
        && std::string_view{":=!"}.find(rest[2]) == std::string_view::npos)
      unsupported_regex(source_, std::string{"(?"} + rest[2] + "...)");
    out_.pattern += '(';
  }

  void close_group() {
    if (depth_ == 0)
      invalid_regex(source_);
    --depth_;
    out_.pattern += ')';
  }

  void brace() {
    std::size_t end = 0;
    auto digits = i_ + 2;
    while (digits < source_.size() && source_[digits] >= '0'
           && source_[digits] <= '9')
      ++digits;
    if (source_.substr(i_, 2) == "{," && digits > i_ + 2
        && digits < source_.size() && source_[digits] == '}')
      out_.pattern += "{0"; // `{,n}` is `{0,n}`; the rest follows as is
    else if (repeat_bound(source_, i_, end))
      out_.pattern += '{';
    else
      out_.pattern += "\\{"; // a literal in Ruby
  }

  void anchor(char c) {
    line_anchors_ = true;
    if (is_quantifier(source_, i_ + 1)) // Ruby repeats anchors, as a group
      out_.pattern.append("(?:").append(1, c).append(")");
    else
      out_.pattern += c;
  }

  std::string_view source_;
  std::size_t i_ = 0;
  std::size_t depth_ = 0;
  bool line_anchors_ = false;
  bool string_start_ = false;
  translated_regex out_;
};

// Steps the regex engine may still take in one evaluation.
struct step_budget {
  std::size_t left = max_condition_regex_steps;

  void spend() {
    if (left == 0)
      throw eval_failure{"regular expression matching needs more than "
                         + std::to_string(max_condition_regex_steps)
                         + " steps"};
    --left;
  }
};

// Iterates over the subject text for std::regex, counting its steps against
// a budget: the engine looks at a character or compares positions at every
// step, and the budget throws when spent.
class counting_iterator {
public:
  using iterator_category = std::bidirectional_iterator_tag;
  using value_type = char;
  using difference_type = std::ptrdiff_t;
  using pointer = const char*;
  using reference = const char&;

  counting_iterator() = default;

  counting_iterator(const char* pos, step_budget* budget)
    : pos_(pos), budget_(budget) {
    // nop
  }

  reference operator*() const {
    spend();
    return *pos_;
  }

  counting_iterator& operator++() {
    ++pos_;
    return *this;
  }

  counting_iterator operator++(int) {
    auto result = *this;
    ++pos_;
    return result;
  }

  counting_iterator& operator--() {
    --pos_;
    return *this;
  }

  counting_iterator operator--(int) {
    auto result = *this;
    --pos_;
    return result;
  }

  friend bool operator==(const counting_iterator& x,
                         const counting_iterator& y) {
    x.spend();
    return x.pos_ == y.pos_;
  }

  friend bool operator!=(const counting_iterator& x,
                         const counting_iterator& y) {
    return !(x == y);
  }

private:
  void spend() const {
    if (budget_ != nullptr)
      budget_->spend();
  }

  const char* pos_ = nullptr;
  step_budget* budget_ = nullptr;
};

std::regex compile_regex(const std::string& source) {
  if (source.size() > max_condition_regex_length)
    throw eval_failure{"Unsupported regular expression (longer than "
                       + std::to_string(max_condition_regex_length)
                       + " bytes)"};
  auto translated = regex_translator{source}.run();
  if (automaton_size(translated.pattern) > max_condition_regex_size)
    unsupported_regex(source, "too large once repetitions are expanded");
  auto flags = std::regex::ECMAScript | std::regex_constants::__polynomial;
  if (translated.multiline)
    flags |= std::regex::multiline;
  try {
    // A lazy prefix and `match_continuous` make one pass over the text
    // instead of one per starting position.
    return std::regex{"[\\s\\S]*?(?:" + translated.pattern + ")", flags};
  } catch (const std::regex_error& e) {
    if (e.code() == std::regex_constants::error_complexity)
      unsupported_regex(source, "back-references");
    if (e.code() == std::regex_constants::error_space)
      unsupported_regex(source, "too large");
  }
  invalid_regex(source);
}

bool search(const std::regex& re, const std::string& text,
            step_budget& budget) {
  counting_iterator first{text.data(), &budget};
  counting_iterator last{text.data() + text.size(), &budget};
  std::match_results<counting_iterator> match;
  return std::regex_search(first, last, match, re,
                           std::regex_constants::match_continuous);
}

// -- evaluation ---------------------------------------------------------------

class evaluator {
public:
  explicit evaluator(const condition_data& data) : data_(data) {
    // nop
  }

  bool apply(const condition_node& node) {
    return truthy(evl(node));
  }

private:
  condition_value evl(const condition_node& node) {
    switch (node.kind) {
      case kind::val:
        return cast(node.text);
      case kind::var:
        return cast(attribute(node.text));
      case kind::call:
        return cast(call(node));
      case kind::reg:
      case kind::list:
        throw eval_failure{"a regex or list is not a value"};
      case kind::eq:
        return equal(node);
      case kind::neq:
        return !equal(node);
      case kind::match:
        return match(node);
      case kind::not_match:
        return !match(node);
      case kind::in:
        return in(node);
      case kind::not_in:
        return !in(node);
      case kind::is:
        return is(node);
      case kind::is_not:
        return !is(node);
      case kind::not_:
        return !truthy(evl(node.args.at(0)));
      case kind::and_:
        return std::all_of(node.args.begin(), node.args.end(),
                           [this](const condition_node& arg) {
                             return truthy(evl(arg));
                           });
      case kind::or_:
        return std::any_of(node.args.begin(), node.args.end(),
                           [this](const condition_node& arg) {
                             return truthy(evl(arg));
                           });
    }
    throw eval_failure{"unknown condition node"};
  }

  bool equal(const condition_node& node) {
    auto lft = evl(node.args.at(0));
    auto rgt = evl(node.args.at(1));
    return lft == rgt;
  }

  condition_value attribute(const std::string& name) const {
    auto i = data_.attributes.find(name);
    return i != data_.attributes.end() ? i->second : condition_value{};
  }

  condition_value call(const condition_node& node) {
    std::vector<condition_value> args;
    for (const auto& arg : node.args)
      args.push_back(evl(arg));
    if (iequals(node.text, "env"))
      return env(args);
    std::string result; // concat
    for (const auto& arg : args) {
      result += to_s(arg);
      if (result.size() > max_condition_concat_length)
        throw eval_failure{"concat() builds a string longer than "
                           + std::to_string(max_condition_concat_length)
                           + " bytes"};
    }
    return result;
  }

  condition_value env(const std::vector<condition_value>& args) const {
    if (args.size() > 1)
      throw eval_failure{"env() takes one variable name, not "
                         + std::to_string(args.size())};
    if (args.empty() || std::holds_alternative<std::monostate>(args[0]))
      return {};
    auto name = std::get_if<std::string>(&args[0]);
    if (name == nullptr)
      throw eval_failure{"env() needs a variable name, not "
                         + to_s(args[0])};
    auto i = data_.env.find(*name);
    if (i == data_.env.end())
      return {};
    if (auto s = std::get_if<std::string>(&i->second))
      return unquote_lines(*s);
    return i->second;
  }

  // Travis converts the operand to a string and searches it for the regex;
  // nil on either side never matches.
  bool match(const condition_node& node) {
    auto lft = evl(node.args.at(0));
    auto rgt = node.args.size() > 1 ? regex(node.args[1])
                                    : std::optional<std::regex>{};
    if (std::holds_alternative<std::monostate>(lft) || !rgt)
      return false;
    return search(*rgt, to_s(lft), budget_);
  }

  std::optional<std::regex> regex(const condition_node& node) {
    auto source = node.args.empty() ? cast(node.text) : evl(node.args.at(0));
    if (!truthy(source))
      return std::nullopt;
    auto text = std::get_if<std::string>(&source);
    if (text == nullptr) // Ruby cannot make a regex of `true` either
      throw eval_failure{"Invalid regular expression: /" + to_s(source) + "/"};
    return compile_regex(*text);
  }

  bool in(const condition_node& node) {
    if (node.args.size() < 2)
      throw eval_failure{"IN needs a list of values"};
    std::vector<condition_value> values;
    for (const auto& item : node.args[1].args)
      values.push_back(evl(item));
    auto value = evl(node.args.at(0));
    return std::find(values.begin(), values.end(), value) != values.end();
  }

  bool is(const condition_node& node) {
    auto value = evl(node.args.at(0));
    auto present = truthy(value);
    if (auto s = std::get_if<std::string>(&value))
      present = !s->empty();
    if (node.text == "present")
      return present;
    if (node.text == "blank")
      return !present;
    if (node.text == "true")
      return truthy(value);
    return !truthy(value); // false
  }

  const condition_data& data_;
  step_budget budget_;
};

} // namespace

condition_eval_result evaluate(const condition& cond,
                               const condition_data& data) {
  condition_eval_result result;
  try {
    result.value = evaluator{data}.apply(cond.root);
  } catch (eval_failure& failure) {
    result.error = condition_error{std::move(failure.message), 0, 0};
  } catch (const std::exception& e) {
    result.error = condition_error{
      std::string{"cannot evaluate condition: "} + e.what(), 0, 0};
  }
  return result;
}

condition_eval_result evaluate_condition(std::string_view text,
                                         const condition_data& data) {
  auto parsed = parse_condition(text);
  if (!parsed.cond)
    return condition_eval_result{false, parsed.error};
  return evaluate(*parsed.cond, data);
}

} // namespace conveyor
