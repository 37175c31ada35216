// libFuzzer target: bytes -> the whole build config front end (YAML load,
// Travis normalization and validation, approval, matrix expansion, jobs),
// with request fields taken from `#@key=value` comment lines of the input
// (see fuzz_inputs.hpp).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "tests/fuzz/fuzz_inputs.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text{reinterpret_cast<const char*>(data), size};
  auto out = conveyor::fuzz::run_config_input(text);
  if (!out.problem.empty()) {
    std::fprintf(stderr, "broken invariant: %s\n", out.problem.c_str());
    std::abort();
  }
  return 0;
}
