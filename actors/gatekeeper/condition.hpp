#pragma once

// Travis CI's conditions language, version 1 (the `if:` of builds, stages and
// jobs): `branch = master AND (tag =~ ^v1 OR env(DEPLOY) IS present)`.
//
// The parser follows travis-conditions' v1 parser closely, quirks included,
// so that exactly the conditions Travis accepts are accepted; the AST has the
// shape of its s-expressions (see `to_string`). Pure: no actors, no I/O.
//
// Known differences from Travis, none of them in its own specs:
// - the limits below (Travis has none); past them, an error;
// - regexes run on std::regex (ECMAScript) after translating Ruby syntax.
//   Lookbehind, back-references, inline options, atomic groups, nested or
//   intersected classes, `\G`, `\p{...}` and quantified assertions give an
//   error instead of a verdict; `^` and `$` also see a lone `\r` as a line
//   end; `.` and classes match bytes, not UTF-8 characters;
// - keywords (`AND`, `IS`, `env`, ...) ignore the case of ASCII letters
//   only; a regex after `=~` ends where its bytes end, where Travis counts
//   characters and gets lost in non-ASCII text.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace conveyor {

// -- limits -------------------------------------------------------------------

/// Deepest nesting of parentheses, `NOT` and function calls a condition may
/// have; deeper conditions are a parse error. Real ones nest a few levels.
constexpr std::size_t max_condition_depth = 64;

/// Longest regular expression a condition may match with, in bytes.
constexpr std::size_t max_condition_regex_length = 1024;

/// Largest size of a regular expression once its counted repetitions
/// (`a{3}`) are expanded, roughly in automaton states. Bounds the stack
/// matching needs (well under a megabyte).
constexpr std::size_t max_condition_regex_size = 1000;

/// Most work (steps of the regex engine over the text) one evaluation may
/// spend matching regular expressions before it gives up with an error.
constexpr std::size_t max_condition_regex_steps = 20'000'000;

/// Longest string `concat(...)` may build, in bytes.
constexpr std::size_t max_condition_concat_length = 64 * 1024;

// -- syntax tree --------------------------------------------------------------

/// One node of a parsed condition, shaped like travis-conditions'
/// s-expressions: `branch = master` is `[:eq, [:var, :branch], [:val,
/// "master"]]`.
struct condition_node {
  /// What a node is. `neq` prints as `:not_eq`, `not_` / `and_` / `or_` as
  /// `:not` / `:and` / `:or`.
  enum class kind_type : uint8_t {
    val,       ///< a string (bare word or quoted): `text`
    var,       ///< a build attribute such as `branch`: `text`
    call,      ///< `env(...)` / `concat(...)`: `text` as written, `args`
    reg,       ///< a regex: the pattern in `text`, or one `call` in `args`
    list,      ///< the values of `IN (...)`: `args`
    eq,        ///< `a = b`, `a == b`
    neq,       ///< `a != b`
    match,     ///< `a =~ re`, `a ~= re`
    not_match, ///< `a !~ re`
    in,        ///< `a IN (...)`
    not_in,    ///< `a NOT IN (...)`
    is,        ///< `a IS present|blank|true|false`: predicate in `text`
    is_not,    ///< `a IS NOT ...`
    not_,      ///< `NOT c`, `!c`
    and_,      ///< `c AND d AND ...`, `&&` (two or more `args`)
    or_,       ///< `c OR d OR ...`, `||` (two or more `args`)
  };

  /// What this node is.
  kind_type kind = kind_type::val;

  /// The string of a `val`, the name of a `var` (lower case) or `call` (as
  /// written), the pattern of a literal `reg`, the predicate of `is` /
  /// `is_not` (lower case).
  std::string text;

  /// Operands, call arguments, list items or sub-conditions, in order. As in
  /// Travis, a match may lack its regex (`branch =~` at the very end) and
  /// `IN` its list (`branch IN` at the very end): they are then absent.
  std::vector<condition_node> args;
};

/// A parsed condition (`if:` of a build, stage or job).
struct condition {
  /// The whole condition: an operand, a comparison or a boolean operator.
  condition_node root;
};

// -- errors -------------------------------------------------------------------

/// Why a condition could not be parsed or evaluated.
struct condition_error {
  /// What went wrong, e.g. "expected )" or "Invalid regular expression:
  /// /[z-a]/".
  std::string message;
  /// The line (1-based) of the condition text where parsing failed; 0 for
  /// evaluation errors.
  std::size_t line = 0;
  /// The column (1-based, in bytes) on that line; 0 for evaluation errors.
  std::size_t column = 0;
};

/// The outcome of `parse_condition`: the condition, or the error.
struct condition_parse_result {
  std::optional<condition> cond; ///< empty on error
  condition_error error;         ///< meaningful only when `cond` is empty
};

/// The outcome of evaluating a condition: the verdict, or the error (then
/// the condition must be treated as not satisfied, as Travis does).
struct condition_eval_result {
  bool value = false;                   ///< the verdict; false on error
  std::optional<condition_error> error; ///< set if there is no verdict
};

// -- data ---------------------------------------------------------------------

/// A value a condition sees: nil (missing), a boolean or a string.
using condition_value = std::variant<std::monostate, bool, std::string>;

/// What a condition is evaluated against.
struct condition_data {
  /// Build attributes by name: `type`, `repo`, `head_repo`, `branch`,
  /// `head_branch`, `tag`, `commit_message`, `sender`, `fork`, `os`, `dist`,
  /// `group`, `sudo`, `language`, `draft`. A missing one reads as nil.
  std::map<std::string, condition_value, std::less<>> attributes;

  /// Environment variables by name (repo settings, then the job's own). A
  /// missing one reads as nil. String values keep their quotes here; `env()`
  /// strips one pair of matching quotes, as Travis does.
  std::map<std::string, condition_value, std::less<>> env;

  /// Adds (or overrides) the variables of a Travis env string such as
  /// `FOO=1 BAR="a b"`, the way Travis reads repo settings: quotes removed,
  /// `true` / `false` (any case) turned into booleans. A string that is not
  /// a list of `NAME=value` words adds nothing.
  void add_env_string(std::string_view text);
};

// -- parsing and evaluation ---------------------------------------------------

/// Parses `text` as a v1 condition. A trailing newline and backslash line
/// continuations are accepted. Never throws.
condition_parse_result parse_condition(std::string_view text);

/// Evaluates `cond` against `data`. An invalid or unsupported regular
/// expression, a wrong `env()` call or exceeding a limit above gives an
/// error rather than a verdict. Never throws.
condition_eval_result evaluate(const condition& cond,
                               const condition_data& data);

/// Parses and evaluates `text` (Travis' `Conditions::V1.eval`); a parse error
/// is returned as the error. Never throws.
condition_eval_result evaluate_condition(std::string_view text,
                                         const condition_data& data);

// -- rendering ----------------------------------------------------------------

/// Renders a node as travis-conditions renders its s-expression with
/// `inspect`, e.g. `[:not, [:is, [:var, :tag], :present]]`.
std::string to_string(const condition_node& node);

/// Renders the root node of `cond`, see above.
std::string to_string(const condition& cond);

/// Renders an error as `line 1, column 5: expected )`, or just the message
/// for an evaluation error.
std::string to_string(const condition_error& err);

} // namespace conveyor
