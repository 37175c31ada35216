// The v1 conditions parser. It mirrors travis-conditions' recursive descent
// over a string scanner step by step, because which conditions Travis accepts
// depends on its details: keywords are matched as prefixes (`NOT` also eats
// the start of `nothing`), whitespace is skipped around most tokens even when
// they fail, a failed function name is not given back, and a regex without
// slashes ends at the first blank. Where the grammar recurses on sequences
// (AND / OR chains, lists) this version loops, so that only real nesting
// uses the stack, and that is capped.
#include "actors/gatekeeper/condition.hpp"

#include <algorithm>
#include <array>
#include <exception>
#include <utility>

namespace conveyor {

namespace {

using kind = condition_node::kind_type;

// Thrown inside the parser only; `parse_condition` turns it into an error.
struct parse_failure {
  std::string message;
  std::size_t pos; // in the filtered text
};

// Ruby's `\s`.
bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f'
         || c == '\r';
}

char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string lower(std::string_view text) {
  std::string result{text};
  std::transform(result.begin(), result.end(), result.begin(),
                 [](char c) { return lower(c); });
  return result;
}

bool starts_with(std::string_view text, std::string_view prefix, bool icase) {
  if (text.size() < prefix.size())
    return false;
  for (std::size_t i = 0; i < prefix.size(); ++i)
    if (icase ? lower(text[i]) != lower(prefix[i]) : text[i] != prefix[i])
      return false;
  return true;
}

// A backslash, blanks, and the last line break among them join two lines
// (Travis' `CONT` filter). Remembers where text was removed, so that error
// positions can be given in the original text.
struct filtered_text {
  std::string text;
  // (position in `text` right after the inserted blank, bytes removed)
  std::vector<std::pair<std::size_t, std::size_t>> joins;

  explicit filtered_text(std::string_view original) {
    text.reserve(original.size());
    std::size_t i = 0;
    while (i < original.size()) {
      if (original[i] == '\\') {
        auto end = i + 1;
        while (end < original.size() && is_space(original[end]))
          ++end;
        auto last_break = std::string_view::npos;
        for (auto j = i + 1; j < end; ++j)
          if (original[j] == '\n' || original[j] == '\r')
            last_break = j;
        if (last_break != std::string_view::npos) {
          text += ' ';
          joins.emplace_back(text.size(), last_break - i);
          i = last_break + 1;
          continue;
        }
      }
      text += original[i++];
    }
  }

  std::size_t original_pos(std::size_t pos) const {
    auto result = pos;
    for (auto [at, removed] : joins)
      if (at <= pos)
        result += removed;
    return result;
  }
};

// An error at byte `offset` of `text`, with its line and column.
condition_error error_at(std::string_view text, std::size_t offset,
                         std::string message) {
  auto before = text.substr(0, offset);
  auto line_start = before.rfind('\n');
  line_start = line_start == std::string_view::npos ? 0 : line_start + 1;
  auto line = 1 + static_cast<std::size_t>(
                    std::count(before.begin(), before.end(), '\n'));
  return condition_error{std::move(message), line, offset - line_start + 1};
}

class parser {
public:
  explicit parser(std::string_view text) : str_(text) {
    content_end_ = str_.size();
    while (content_end_ > 0
           && (is_space(str_[content_end_ - 1]) || str_[content_end_ - 1] == 0))
      --content_end_;
  }

  condition_node parse() {
    auto result = expr();
    if (pos_ < str_.size())
      fail("unexpected input");
    return result;
  }

private:
  // -- boolean layer (expr = expr_and { OR expr_and }) ------------------------

  condition_node expr() {
    std::vector<condition_node> items;
    items.push_back(expr_and());
    while (boolean_op({"or", "||"}))
      items.push_back(expr_and());
    return combine(kind::or_, std::move(items));
  }

  condition_node expr_and() {
    std::vector<condition_node> items;
    items.push_back(oprd());
    while (boolean_op({"and", "&&"}))
      items.push_back(oprd());
    return combine(kind::and_, std::move(items));
  }

  static condition_node combine(kind k, std::vector<condition_node> items) {
    if (items.size() == 1)
      return std::move(items.front());
    return condition_node{k, {}, std::move(items)};
  }

  condition_node oprd() {
    if (auto inner = parens([this] { return expr(); }))
      return std::move(*inner);
    if (auto negated = not_())
      return std::move(*negated);
    return term();
  }

  std::optional<condition_node> not_() {
    if (!space_scan({"not", "!"}, true))
      return std::nullopt;
    enter();
    condition_node result{kind::not_, {}, {}};
    result.args.push_back(oprd());
    leave();
    return result;
  }

  bool boolean_op(std::initializer_list<std::string_view> words) {
    return space_scan(words, true).has_value();
  }

  // -- terms ------------------------------------------------------------------

  condition_node term() {
    auto lft = operand();
    if (auto in = in_list(lft))
      return std::move(*in);
    if (auto is = is_pred(lft))
      return std::move(*is);
    if (auto op = space_scan({"=~", "~=", "!~"}, false)) {
      condition_node result{*op == "!~" ? kind::not_match : kind::match, {},
                            {}};
      result.args.push_back(std::move(lft));
      if (auto re = regex())
        result.args.push_back(std::move(*re));
      return result;
    }
    if (auto op = space_scan({"==", "=", "!="}, false)) {
      condition_node result{*op == "!=" ? kind::neq : kind::eq, {}, {}};
      result.args.push_back(std::move(lft));
      result.args.push_back(operand());
      return result;
    }
    return lft;
  }

  std::optional<condition_node> in_list(condition_node& lft) {
    auto op = space_scan({"in", "not in"}, true);
    if (!op)
      return std::nullopt;
    condition_node result{op->size() == 2 ? kind::in : kind::not_in, {}, {}};
    result.args.push_back(std::move(lft));
    auto items = parens([this] {
      auto result = list();
      if (result.empty())
        fail("expected a list of values");
      return result;
    });
    if (items)
      result.args.push_back(condition_node{kind::list, {}, std::move(*items)});
    return result;
  }

  std::optional<condition_node> is_pred(condition_node& lft) {
    auto op = space_scan({"is not", "is"}, true);
    if (!op)
      return std::nullopt;
    auto pred = space_scan({"present", "blank", "true", "false"}, true);
    if (!pred)
      return std::nullopt;
    condition_node result{op->size() == 2 ? kind::is : kind::is_not,
                          lower(*pred), {}};
    result.args.push_back(std::move(lft));
    return result;
  }

  // -- operands ---------------------------------------------------------------

  condition_node operand() {
    skip_space();
    auto result = var();
    if (!result)
      result = call();
    if (!result)
      result = val();
    skip_space();
    if (!result)
      fail("expected an operand");
    return std::move(*result);
  }

  std::optional<condition_node> var() {
    static constexpr std::array<std::string_view, 15> names{
      "type", "repo",  "head_repo", "os",     "dist",
      "group", "sudo", "language",  "sender", "fork",
      "draft", "branch", "head_branch", "tag", "commit_message"};
    auto start = pos_;
    for (auto name : names) {
      if (!starts_with(rest(), name, false))
        continue;
      pos_ += name.size();
      if (at_boundary())
        return condition_node{kind::var, std::string{name}, {}};
      break;
    }
    pos_ = start;
    return std::nullopt;
  }

  bool at_boundary() const {
    if (pos_ >= str_.size())
      return true;
    auto c = str_[pos_];
    return is_space(c) || c == ',' || c == '=' || c == ')' || c == '|';
  }

  // Like Travis, a function name that is not followed by `(` stays consumed.
  std::optional<condition_node> call() {
    auto name = space_scan({"env", "concat"}, true);
    if (!name)
      return std::nullopt;
    auto args = parens([this] { return list(); });
    if (!args)
      return std::nullopt;
    return condition_node{kind::call, std::string{*name}, std::move(*args)};
  }

  std::optional<condition_node> val() {
    auto text = quoted();
    if (!text)
      text = word();
    if (!text)
      return std::nullopt;
    return condition_node{kind::val, std::move(*text), {}};
  }

  // Quotes have no escapes: the string ends at the next quote of its kind.
  std::optional<std::string> quoted() {
    if (pos_ >= str_.size() || (str_[pos_] != '"' && str_[pos_] != '\''))
      return std::nullopt;
    auto quote = str_[pos_++];
    auto end = str_.find(quote, pos_);
    if (end == std::string_view::npos) {
      pos_ = str_.size();
      fail(std::string{"expected "} + quote);
    }
    std::string result{str_.substr(pos_, end - pos_)};
    pos_ = end + 1;
    return result;
  }

  std::optional<std::string> word() {
    skip_space();
    auto start = pos_;
    while (pos_ < str_.size() && !is_space(str_[pos_])
           && std::string_view{"()\"',=!"}.find(str_[pos_])
                == std::string_view::npos)
      ++pos_;
    std::optional<std::string> result;
    if (pos_ > start)
      result = std::string{str_.substr(start, pos_ - start)};
    skip_space();
    if (result && result->front() == '$')
      fail("Strings cannot start with a dollar (shell code does not work). "
           "This can be bypassed by quoting the string.",
           start);
    return result;
  }

  // `item {, item}`, possibly empty. Travis recurses here, skipping one more
  // comma on the way back out of each level: that is the loop at the end.
  std::vector<condition_node> list() {
    std::vector<condition_node> items;
    for (;;) {
      auto item = var();
      if (!item)
        item = call();
      if (!item)
        item = val();
      if (!item)
        break;
      items.push_back(std::move(*item));
      if (!space_scan({","}, false))
        break;
    }
    for (std::size_t i = 0; i < items.size() && skip_char(','); ++i) {
      // nothing else to do
    }
    return items;
  }

  // -- regular expressions ----------------------------------------------------

  // A function call, `/.../` (up to the next unescaped slash, or the end of
  // the text) or a word up to the next blank, without trailing `)`.
  std::optional<condition_node> regex() {
    if (auto fn = call()) {
      condition_node result{kind::reg, {}, {}};
      result.args.push_back(std::move(*fn));
      return result;
    }
    skip_space();
    // Travis scans a stripped copy of the rest of the text.
    auto start = pos_;
    while (start < content_end_ && (is_space(str_[start]) || str_[start] == 0))
      ++start;
    if (start >= content_end_)
      return std::nullopt;
    auto text = str_.substr(start, content_end_ - start);
    std::size_t size = 0;
    if (text.front() == '/') {
      auto escaped = false;
      size = 1;
      while (size < text.size() && (text[size] != '/' || escaped)) {
        escaped = text[size] == '\\';
        ++size;
      }
      if (size < text.size())
        ++size; // the closing slash
    } else {
      while (size < text.size() && !is_space(text[size]))
        ++size;
      while (size > 0 && text[size - 1] == ')')
        --size;
      if (size == 0)
        return std::nullopt;
    }
    pos_ = start + size;
    return condition_node{kind::reg, strip_slashes(text.substr(0, size)), {}};
  }

  // Travis removes slashes at the start or end of any line of the regex
  // (`gsub(%r{^/|/$}, '')`).
  static std::string strip_slashes(std::string_view text) {
    std::string result;
    for (std::size_t i = 0; i < text.size(); ++i) {
      auto line_start = i == 0 || text[i - 1] == '\n';
      auto line_end = i + 1 == text.size() || text[i + 1] == '\n';
      if (text[i] != '/' || !(line_start || line_end))
        result += text[i];
    }
    return result;
  }

  // -- scanning ---------------------------------------------------------------

  std::string_view rest() const {
    return str_.substr(pos_);
  }

  void skip_space() {
    while (pos_ < str_.size() && is_space(str_[pos_]))
      ++pos_;
  }

  bool skip_char(char c) {
    if (pos_ < str_.size() && str_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }

  // Skips blanks, takes the first of `words` the text continues with, skips
  // blanks again (also when nothing matched, as Travis' `space { ... }`).
  std::optional<std::string_view>
  space_scan(std::initializer_list<std::string_view> words, bool icase) {
    skip_space();
    std::optional<std::string_view> result;
    for (auto word : words) {
      if (starts_with(rest(), word, icase)) {
        result = str_.substr(pos_, word.size());
        pos_ += word.size();
        break;
      }
    }
    skip_space();
    return result;
  }

  // `( inner )`, or nothing (blanks skipped) if there is no `(`.
  template <class Inner>
  auto parens(Inner inner) -> std::optional<decltype(inner())> {
    skip_space();
    auto open = skip_char('(');
    skip_space();
    if (!open)
      return std::nullopt;
    enter();
    skip_space();
    auto result = inner();
    skip_space();
    if (!skip_char(')'))
      fail("expected )");
    leave();
    return result;
  }

  void enter() {
    if (++depth_ > max_condition_depth)
      fail("condition nested too deeply (more than "
           + std::to_string(max_condition_depth) + " levels)");
  }

  void leave() {
    --depth_;
  }

  [[noreturn]] void fail(std::string message) const {
    throw parse_failure{std::move(message), pos_};
  }

  [[noreturn]] void fail(std::string message, std::size_t pos) const {
    throw parse_failure{std::move(message), pos};
  }

  std::string_view str_;
  std::size_t pos_ = 0;
  std::size_t content_end_ = 0; // end of the text without trailing blanks
  std::size_t depth_ = 0;
};

} // namespace

condition_parse_result parse_condition(std::string_view text) {
  condition_parse_result result;
  try {
    filtered_text filtered{text};
    try {
      result.cond = condition{parser{filtered.text}.parse()};
    } catch (parse_failure& failure) {
      auto offset = std::min(filtered.original_pos(failure.pos), text.size());
      result.error = error_at(text, offset, std::move(failure.message));
    }
  } catch (const std::exception& e) {
    result.error.message = std::string{"cannot parse condition: "} + e.what();
  }
  return result;
}

} // namespace conveyor
