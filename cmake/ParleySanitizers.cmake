# Global sanitizer flags, from the PARLEY_SANITIZE cache variable (set by the dev and fuzz presets).
if(PARLEY_SANITIZE)
  add_compile_options(-fsanitize=${PARLEY_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=${PARLEY_SANITIZE})
  # clang 14 cannot emit -fsanitize=function checks for coroutines split out of inline functions (asio's
  # co_spawn) when debug info is on: "Cannot represent a difference across sections".
  if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 15
     AND PARLEY_SANITIZE MATCHES "undefined")
    add_compile_options(-fno-sanitize=function)
  endif()
endif()
if(PARLEY_FUZZ)
  # Every object is instrumented for coverage; only the fuzz executables link the libFuzzer main.
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()

# parley_fuzz_target(name source... LIBS lib...): a libFuzzer executable, plus a short ctest run over
# its seed corpus (tests/fuzz/corpus/<name>) labelled "fuzz".
function(parley_fuzz_target name)
  cmake_parse_arguments(F "" "" "SOURCES;LIBS" ${ARGN})
  if(NOT PARLEY_FUZZ)
    return()
  endif()
  add_executable(fuzz_${name} ${F_SOURCES})
  target_link_libraries(fuzz_${name} PRIVATE ${F_LIBS})
  target_link_options(fuzz_${name} PRIVATE -fsanitize=fuzzer)
  set(corpus ${CMAKE_SOURCE_DIR}/tests/fuzz/corpus/${name})
  set(workdir ${CMAKE_BINARY_DIR}/fuzz-corpus/${name})
  if(NOT DEFINED PARLEY_FUZZ_SECONDS)
    set(PARLEY_FUZZ_SECONDS 20)
  endif()
  add_test(NAME fuzz_${name}
           COMMAND ${CMAKE_COMMAND} -E env ASAN_OPTIONS=detect_leaks=1
                   $<TARGET_FILE:fuzz_${name}> -max_total_time=${PARLEY_FUZZ_SECONDS} -max_len=8192
                   -print_final_stats=1 ${workdir} ${corpus})
  set_tests_properties(fuzz_${name} PROPERTIES LABELS fuzz)
  file(MAKE_DIRECTORY ${workdir})
endfunction()
