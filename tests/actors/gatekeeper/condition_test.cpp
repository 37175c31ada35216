// Travis conditions v1: the trees the parser builds, its errors, evaluation,
// and hostile input (huge, deeply nested, expensive regexes).
#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "actors/gatekeeper/condition.hpp"

using namespace conveyor;

namespace {

std::string tree(std::string_view text) {
  auto parsed = parse_condition(text);
  INFO("condition: " << text);
  INFO("error: " << to_string(parsed.error));
  REQUIRE(parsed.cond);
  return to_string(*parsed.cond);
}

condition_error parse_error(std::string_view text) {
  auto parsed = parse_condition(text);
  INFO("condition: " << text);
  REQUIRE_FALSE(parsed.cond);
  return parsed.error;
}

// The data of travis-conditions' eval spec, plus a few attributes.
condition_data sample_data() {
  condition_data data;
  data.attributes["branch"] = std::string{"master"};
  data.attributes["tag"] = condition_value{};
  data.attributes["type"] = std::string{"push"};
  data.attributes["fork"] = false;
  data.attributes["commit_message"] = std::string{"Fix it\nMerge pull request"};
  data.env["foo"] = std::string{"foo"};
  data.env["bar"] = false;
  data.env["QUOTED"] = std::string{"'a b'"};
  return data;
}

condition_eval_result eval(std::string_view text,
                           const condition_data& data = sample_data()) {
  return evaluate_condition(text, data);
}

bool holds(std::string_view text) {
  auto result = eval(text);
  INFO("condition: " << text);
  INFO("error: " << (result.error ? to_string(*result.error) : "none"));
  REQUIRE_FALSE(result.error);
  return result.value;
}

std::string eval_error(std::string_view text,
                       const condition_data& data = sample_data()) {
  auto result = eval(text, data);
  INFO("condition: " << text);
  REQUIRE(result.error);
  CHECK(result.error->line == 0);
  return result.error->message;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now()
                                       - start)
    .count();
}

} // namespace

TEST_CASE("condition trees have the shape of travis-conditions s-expressions") {
  // Expectations from travis-conditions' spec/v1/parser_spec.rb and friends.
  std::vector<std::pair<std::string, std::string>> cases{
    {"1", R"([:val, "1"])"},
    {"type", "[:var, :type]"},
    {"env()", "[:call, :env, []]"},
    {"true!=false", R"([:not_eq, [:val, "true"], [:val, "false"]])"},
    {"type = foo AND type = bar OR type = baz",
     R"([:or, [:and, [:eq, [:var, :type], [:val, "foo"]], )"
     R"([:eq, [:var, :type], [:val, "bar"]]], )"
     R"([:eq, [:var, :type], [:val, "baz"]]])"},
    {"(type = foo OR type = bar OR type = baz)",
     R"([:or, [:or, [:eq, [:var, :type], [:val, "foo"]], )"
     R"([:eq, [:var, :type], [:val, "bar"]]], )"
     R"([:eq, [:var, :type], [:val, "baz"]]])"},
    {"NOT (type = foo OR type = bar) AND NOT type = baz",
     R"([:and, [:not, [:or, [:eq, [:var, :type], [:val, "foo"]], )"
     R"([:eq, [:var, :type], [:val, "bar"]]]], )"
     R"([:not, [:eq, [:var, :type], [:val, "baz"]]]])"},
    {"branch =~ /^.* foo$/",
     R"([:match, [:var, :branch], [:reg, "^.* foo$"]])"},
    {"branch =~ /foo/ OR (tag =~ /^foo$/)",
     R"([:or, [:match, [:var, :branch], [:reg, "foo"]], )"
     R"([:match, [:var, :tag], [:reg, "^foo$"]]])"},
    {"branch IN (foo ,bar )",
     R"([:in, [:var, :branch], [[:val, "foo"], [:val, "bar"]]])"},
    {R"(branch NOT IN ("foo"))",
     R"([:not_in, [:var, :branch], [[:val, "foo"]]])"},
    {"tag IS NOT present", "[:is_not, [:var, :tag], :present]"},
    {"env(env(foo))", R"([:call, :env, [[:call, :env, [[:val, "foo"]]]]])"},
    {"1 = 1 AND \\\n 2 = 2",
     R"([:and, [:eq, [:val, "1"], [:val, "1"]], )"
     R"([:eq, [:val, "2"], [:val, "2"]]])"},
    {R"(commit_message !~ concat("[skip", env(TRAVIS_JOB_NAME), "]"))",
     R"([:not_match, [:var, :commit_message], [:reg, [:call, :concat, )"
     R"([[:val, "[skip"], [:call, :env, [[:val, "TRAVIS_JOB_NAME"]]], )"
     R"([:val, "]"]]]]])"},
    // Travis' quirks, kept: a trailing `=~` has no regex, NOT is a prefix.
    {"branch =~", "[:match, [:var, :branch], nil]"},
    {"nothing = x", R"([:not, [:eq, [:val, "hing"], [:val, "x"]]])"},
    {"sender = 'a \"b\"'", R"([:eq, [:var, :sender], [:val, "a \"b\""]])"},
  };
  for (const auto& [text, expected] : cases)
    CHECK(tree(text) == expected);
}

TEST_CASE("condition parse errors say what and where") {
  auto err = parse_error("branch = ");
  CHECK(err.message == "expected an operand");
  CHECK(err.line == 1);
  CHECK(err.column == 10);
  err = parse_error("(branch = master");
  CHECK(err.message == "expected )");
  CHECK(err.column == 17);
  CHECK(to_string(err) == "line 1, column 17: expected )");
  err = parse_error("branch IN ()");
  CHECK(err.message == "expected a list of values");
  CHECK(err.column == 12);
  err = parse_error("branch = master foo");
  CHECK(err.message == "unexpected input");
  CHECK(err.column == 17);
  err = parse_error("branch = \"master");
  CHECK(err.message == "expected \"");
  err = parse_error("branch = $FOO");
  CHECK(err.message.find("dollar") != std::string::npos);
  CHECK(err.column == 10);
  err = parse_error("tag =~ ^v(1|2)");
  CHECK(err.message == "unexpected input");
  CHECK(err.column == 14);
  // Lines count in the original text, line continuations included.
  err = parse_error("branch = master\nAND (tag = x");
  CHECK(err.line == 2);
  CHECK(err.column == 13);
  err = parse_error("1 = 1 AND \\\n (2 = 2");
  CHECK(err.message == "expected )");
  CHECK(err.line == 2);
  CHECK(err.column == 8);
}

TEST_CASE("conditions evaluate like Travis") {
  CHECK(holds("branch = master"));
  CHECK_FALSE(holds("branch != master"));
  CHECK(holds("type IN (api, push) AND NOT fork"));
  CHECK(holds("tag IS blank AND branch IS present"));
  CHECK(holds("env(foo) = foo AND env(bar) = false AND NOT env(bar)"));
  CHECK(holds("env(missing) = tag")); // nil = nil
  CHECK(holds("env(QUOTED) = 'a b'"));
  CHECK(holds("concat(branch, -, env(foo)) = master-foo"));
  CHECK(holds("0")); // any string is true
  CHECK_FALSE(holds("FALSE"));
  CHECK(holds("branch =~ ^ma && branch !~ ^foo"));
  CHECK(holds("branch =~ env(foo) || branch =~ /st/"));
  CHECK_FALSE(holds("env(missing) =~ .*"));
  // Ruby's ^ and $ match at line breaks; \A and \z only at the ends.
  CHECK(holds("commit_message =~ ^Merge"));
  CHECK(holds("commit_message =~ it$"));
  CHECK_FALSE(holds("commit_message =~ \\AMerge"));
  CHECK(holds("commit_message =~ \\AFix"));
  CHECK(holds("commit_message =~ request\\z"));
  CHECK_FALSE(holds("commit_message =~ it\\z"));
  CHECK(holds("branch =~ ^m\\h\\H")); // \h is a hex digit
  CHECK(holds("branch =~ ^mas{,1}ter$"));
  CHECK(holds("branch =~ ^(?<name>ma)ster$"));
  CHECK(holds("branch =~ ^*-?master")); // Ruby repeats anchors: `^*` is empty
  CHECK(holds("branch =~ /^ma{ster|^master/")); // a `{` that repeats nothing
  CHECK(holds("branch =~ ^[]m]aster")); // a leading ] is literal
  // A failing right side is not evaluated after a true left side.
  CHECK(holds("branch = master OR branch =~ /[z-a]/"));
}

TEST_CASE("condition evaluation errors are values") {
  CHECK(eval_error("branch =~ /[z-a]/")
        == "Invalid regular expression: /[z-a]/");
  CHECK(eval_error("env(missing) =~ /(/") == "Invalid regular expression: /(/");
  CHECK(eval_error("branch =~ (?<=a)b").find("lookbehind")
        != std::string::npos);
  CHECK(eval_error("branch =~ (?i)MASTER").find("(?i...)")
        != std::string::npos);
  CHECK(eval_error("branch =~ (a)\\1").find("back-references")
        != std::string::npos);
  CHECK(eval_error("branch =~ true").find("Invalid regular expression")
        != std::string::npos);
  // Unbalanced parentheses must not pair with anything added internally.
  CHECK(eval_error("branch =~ /a)(b/")
        == "Invalid regular expression: /a)(b/");
  CHECK(eval_error("branch =~ /ma\\/")
        == "Invalid regular expression: /ma\\/");
  CHECK(eval_error("branch =~ [a[b]]").find("nested") != std::string::npos);
  CHECK(eval_error("env(foo, bar) = x").find("env()") != std::string::npos);
  CHECK(eval_error("branch IN") == "IN needs a list of values");
  auto parse_failure = eval("branch = ");
  REQUIRE(parse_failure.error);
  CHECK(parse_failure.error->line == 1);
  CHECK_FALSE(parse_failure.value);
}

TEST_CASE("condition data reads env strings like Travis repo settings") {
  condition_data data;
  data.add_env_string(R"(FOO=1 BAR="a b" BAZ=TRUE)");
  data.add_env_string("broken='");
  CHECK(data.env.size() == 3);
  CHECK(data.env["FOO"] == condition_value{std::string{"1"}});
  CHECK(data.env["BAR"] == condition_value{std::string{"a b"}});
  CHECK(data.env["BAZ"] == condition_value{true});
  CHECK(
    evaluate_condition("env(BAR) = 'a b' AND env(BAZ) IS true", data).value);
}

TEST_CASE("huge conditions parse and evaluate in bounded time") {
  auto start = std::chrono::steady_clock::now();
  std::string text;
  while (text.size() < 100'000)
    text += "branch = master AND ";
  text += "tag IS blank";
  auto result = eval(text);
  CHECK_FALSE(result.error);
  CHECK(result.value);
  auto parsed = parse_condition(text + " OR " + text);
  REQUIRE(parsed.cond);
  CHECK(to_string(*parsed.cond).size() > 200'000);
  CHECK(parse_error(std::string(100'000, 'x') + " ==").message
        == "expected an operand");
  CHECK(seconds_since(start) < 10);
}

TEST_CASE("deeply nested conditions are a parse error and not a stack overflow") {
  auto nested = [](std::string open, std::string inner, std::string close) {
    std::string result;
    for (int i = 0; i < 10'000; ++i)
      result += open;
    result += inner;
    for (int i = 0; i < 10'000; ++i)
      result += close;
    return result;
  };
  auto too_deep = "condition nested too deeply (more than "
                  + std::to_string(max_condition_depth) + " levels)";
  CHECK(parse_error(nested("(", "branch = master", ")")).message == too_deep);
  CHECK(parse_error(nested("NOT ", "true", "")).message == too_deep);
  CHECK(parse_error(nested("!", "true", "")).message == too_deep);
  CHECK(parse_error(nested("env(", "x", ")")).message == too_deep);
  CHECK(parse_error(std::string(100'000, '(')).message == too_deep);
  // Up to the limit is fine.
  auto limit = static_cast<int>(max_condition_depth);
  std::string ok = std::string(limit, '(') + "true" + std::string(limit, ')');
  CHECK(holds(ok));
}

TEST_CASE("hostile regular expressions in conditions stay bounded") {
  auto start = std::chrono::steady_clock::now();
  auto data = sample_data();
  data.attributes["commit_message"] = std::string(1'000'000, 'a');
  // Linear patterns run over a long text within the budget.
  auto result = eval("commit_message =~ (a|aa)*c", data);
  CHECK_FALSE(result.error);
  CHECK_FALSE(result.value);
  CHECK(eval("commit_message =~ a$", data).value);
  // Quadratic ones (lookahead at every position) run out of steps.
  CHECK(eval_error("commit_message =~ ((?=a*b)a)*c", data).find("steps")
        != std::string::npos);
  // Big automata and long patterns are refused up front.
  CHECK(eval_error("branch =~ (a{100}){100}").find("too large")
        != std::string::npos);
  CHECK(eval_error("branch =~ " + std::string(2000, 'a')).find("longer than")
        != std::string::npos);
  // Deeply nested groups compile, up to the size limit.
  auto nested = [](std::size_t n) {
    return std::string(n, '(') + "master" + std::string(n, ')');
  };
  CHECK(holds("branch =~ /" + nested(300) + "/"));
  CHECK(eval_error("branch =~ /" + nested(500) + "/").find("too large")
        != std::string::npos);
  // The budget is shared by the whole condition: each match here is fine,
  // 50 of them (each at least a step per character) are not.
  std::string many = "commit_message =~ (a|aa)*c";
  for (int i = 0; i < 50; ++i)
    many += " OR commit_message =~ (a|aa)*c";
  CHECK(eval_error(many, data).find("steps") != std::string::npos);
  // concat() cannot build huge strings.
  data.attributes["commit_message"] = std::string(10'000, 'a');
  std::string concat = "concat(commit_message";
  for (int i = 0; i < 10; ++i)
    concat += ", commit_message";
  CHECK(eval_error(concat + ") = x", data).find("concat()")
        != std::string::npos);
  CHECK(seconds_since(start) < 20);
}
