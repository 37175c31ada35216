// Env strings: shell-like quoting in, the same quoting out.
#include <catch2/catch.hpp>

#include "actors/gatekeeper/env_string.hpp"

using namespace conveyor;

namespace {

std::vector<env_var> vars(std::string_view text) {
  auto result = parse_env_string(text);
  INFO(text << " -> " << result.error);
  REQUIRE(result.error.empty());
  return result.vars;
}

std::string error_of(std::string_view text) {
  auto result = parse_env_string(text);
  CHECK(result.vars.empty());
  return result.error;
}

} // namespace

TEST_CASE("env strings split into ordered variables with shell quoting") {
  CHECK(vars("FOO=a BAR=\"b c\" BAZ='x y'")
        == std::vector<env_var>{{"FOO", "a"}, {"BAR", "b c"}, {"BAZ", "x y"}});
  CHECK(vars("") == std::vector<env_var>{});
  CHECK(vars("   \t ") == std::vector<env_var>{});
  CHECK(vars("  A=1\t\tB=2  ") == std::vector<env_var>{{"A", "1"}, {"B", "2"}});
  CHECK(vars("EMPTY=") == std::vector<env_var>{{"EMPTY", ""}});
  CHECK(vars("E='' F=\"\"") == std::vector<env_var>{{"E", ""}, {"F", ""}});
  CHECK(vars("X=a=b") == std::vector<env_var>{{"X", "a=b"}});
  CHECK(vars("X=a\"b c\"d'e f'") == std::vector<env_var>{{"X", "ab cde f"}});
  CHECK(vars("_x1=1") == std::vector<env_var>{{"_x1", "1"}});
}

TEST_CASE("env strings keep single quotes literal and honour escapes") {
  CHECK(vars("A='$HOME \\n \"q\"'")
        == std::vector<env_var>{{"A", "$HOME \\n \"q\""}});
  CHECK(vars("A=\"say \\\"hi\\\" \\$x \\\\ \\n\"")
        == std::vector<env_var>{{"A", "say \"hi\" $x \\ \\n"}});
  CHECK(vars("A=b\\ c D=e") == std::vector<env_var>{{"A", "b c"}, {"D", "e"}});
  CHECK(vars("A=$HOME/bin") == std::vector<env_var>{{"A", "$HOME/bin"}});
  CHECK(vars("A=\"it's\"") == std::vector<env_var>{{"A", "it's"}});
  CHECK(vars("A='multi\nline'") == std::vector<env_var>{{"A", "multi\nline"}});
}

TEST_CASE("env strings that are not NAME=value words are rejected") {
  CHECK(error_of("FOO") == "expected NAME=value, got 'FOO'");
  CHECK(error_of("A=1 junk B=2") == "expected NAME=value, got 'junk'");
  CHECK(error_of("=x") == "expected NAME=value, got '=x'");
  CHECK(error_of("1A=x") == "expected NAME=value, got '1A=x'");
  CHECK(error_of("A-B=x") == "expected NAME=value, got 'A-B=x'");
  CHECK(error_of("\"A\"=x") == "expected NAME=value, got '\"A\"=x'");
  CHECK(error_of("A='open")
        == "unterminated single quote in the value of A");
  CHECK(error_of("A=\"open \\\"")
        == "unterminated double quote in the value of A");
}

TEST_CASE("variable names follow the shell's rule") {
  CHECK(is_env_name("FOO"));
  CHECK(is_env_name("_"));
  CHECK(is_env_name("a1_B"));
  CHECK_FALSE(is_env_name(""));
  CHECK_FALSE(is_env_name("1A"));
  CHECK_FALSE(is_env_name("A-B"));
  CHECK_FALSE(is_env_name("A B"));
}

TEST_CASE("rendered env strings quote only where needed and read back") {
  std::vector<env_var> xs{{"A", "plain-1.2/x:y"}, {"B", "b c"}, {"C", ""},
                          {"D", "it's $HOME \"q\" `x` \\"}, {"E", "x\ny"}};
  auto text = render_env(xs);
  CHECK(text
        == "A=plain-1.2/x:y B='b c' C= D=\"it's \\$HOME \\\"q\\\" \\`x\\` "
           "\\\\\" E='x\ny'");
  CHECK(vars(text) == xs);
  CHECK(render_env({}) == "");
}
