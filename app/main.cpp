// The conveyor command: dispatches to its subcommands.
#include <cstdio>
#include <string>
#include <vector>

#include "app/config_command.hpp"
#include "app/run_command.hpp"
#include "app/serve_command.hpp"

namespace {

constexpr const char* usage = R"(usage: conveyor <command> [options]

commands:
  run [DIR]     build a local git repository's commit once and print its logs
  serve         run a node with its HTTP API (builds, logs, metrics)
  config check FILE
                validate a build config and print its findings
  config expand FILE
                print the jobs a build of a config would have

options:
  --help        show this text (or a command's, e.g. conveyor serve --help)
  --version     show the version
)";

} // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    std::fputs(usage, stderr);
    return 2;
  }
  const auto& command = args.front();
  if (command == "--help" || command == "-h" || command == "help") {
    std::fputs(usage, stdout);
    return 0;
  }
  if (command == "--version") {
    std::printf("conveyor %s\n", CONVEYOR_VERSION);
    return 0;
  }
  if (command == "run")
    return conveyor::run_command({args.begin() + 1, args.end()});
  if (command == "serve")
    return conveyor::serve_command({args.begin() + 1, args.end()});
  if (command == "config")
    return conveyor::config_command({args.begin() + 1, args.end()});
  std::fprintf(stderr, "conveyor: unknown command '%s'\n\n%s", command.c_str(),
               usage);
  return 2;
}
