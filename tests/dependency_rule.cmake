# Fails if an include crosses the dependency rule of DESIGN.md:
# messages/ includes only itself; an actor never includes another actor (nor an
# adapter, supervisors or app); an adapter never includes another adapter (nor
# an actor or app); supervisors include only messages/.
set(violations "")
file(GLOB_RECURSE sources RELATIVE ${ROOT}
     ${ROOT}/messages/* ${ROOT}/actors/* ${ROOT}/adapters/* ${ROOT}/supervisors/*)
foreach(src ${sources})
  if(NOT src MATCHES "\\.(hpp|cpp)$")
    continue()
  endif()
  string(REGEX MATCH "^(actors/[^/]+|adapters/[^/]+|messages|supervisors)" own ${src})
  file(STRINGS ${ROOT}/${src} lines REGEX "^#include \"")
  foreach(line ${lines})
    string(REGEX REPLACE "^#include \"([^\"]+)\".*" "\\1" inc "${line}")
    string(REGEX MATCH "^(actors/[^/]+|adapters/[^/]+|messages|supervisors|app)" other "${inc}")
    if(other STREQUAL "" OR other STREQUAL own OR other STREQUAL "messages")
      continue()
    endif()
    list(APPEND violations "${src} includes ${inc}")
  endforeach()
endforeach()
if(violations)
  list(JOIN violations "\n  " text)
  message(FATAL_ERROR "dependency rule broken:\n  ${text}")
endif()
list(LENGTH sources n)
message(STATUS "dependency rule holds in ${n} files")
