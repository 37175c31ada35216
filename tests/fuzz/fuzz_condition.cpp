// libFuzzer target: bytes -> parse_condition, evaluate against fixed data
// (plus repository env settings after a NUL byte), to_string; see
// fuzz_inputs.hpp for the properties checked.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "tests/fuzz/fuzz_inputs.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text{reinterpret_cast<const char*>(data), size};
  auto out = conveyor::fuzz::run_condition_input(text);
  if (!out.problem.empty()) {
    std::fprintf(stderr, "broken invariant: %s\n", out.problem.c_str());
    std::abort();
  }
  return 0;
}
