# Helpers that give every netbinder target the same warnings, include root and sanitizers.
include_guard(GLOBAL)

set(NB_WARNINGS -Wall -Wextra -Wshadow -Wnon-virtual-dtor -Wcast-align -Wunused -Woverloaded-virtual
    -Wnull-dereference -Wimplicit-fallthrough)

# nb_apply_common(TARGET [NO_INSTRUMENT]): NO_INSTRUMENT leaves out sanitizers and fuzzer coverage,
# for code loaded into uninstrumented programs (the LD_PRELOAD shim).
function(nb_apply_common target)
  cmake_parse_arguments(ARG "NO_INSTRUMENT" "" "" ${ARGN})
  target_compile_options(${target} PRIVATE ${NB_WARNINGS})
  if(NB_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
  if(ARG_NO_INSTRUMENT)
    return()
  endif()
  if(NB_SANITIZE)
    target_compile_options(${target} PRIVATE -fsanitize=${NB_SANITIZE} -fno-omit-frame-pointer
                                             -fno-sanitize-recover=all)
    target_link_options(${target} PRIVATE -fsanitize=${NB_SANITIZE})
  endif()
  if(NB_FUZZ)
    # Coverage instrumentation for everything a fuzzer links, not just the fuzzer's own file.
    target_compile_options(${target} PRIVATE -fsanitize=fuzzer-no-link)
  endif()
endfunction()

# nb_library(NAME SRCS ... DEPS ... [PUBLIC_DEPS ...])
function(nb_library name)
  cmake_parse_arguments(ARG "" "" "SRCS;DEPS;PUBLIC_DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SRCS})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
  target_link_libraries(${name} PUBLIC ${ARG_PUBLIC_DEPS} PRIVATE ${ARG_DEPS})
  nb_apply_common(${name})
endfunction()

# nb_executable(NAME SRCS ... DEPS ...)
function(nb_executable name)
  cmake_parse_arguments(ARG "" "" "SRCS;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SRCS})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS})
  nb_apply_common(${name})
endfunction()

# nb_test(NAME SRCS ... DEPS ... [LABELS ...]): one GoogleTest binary, registered with ctest.
function(nb_test name)
  cmake_parse_arguments(ARG "" "" "SRCS;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SRCS})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gmock GTest::gtest_main)
  nb_apply_common(${name})
  if(NOT ARG_LABELS)
    set(ARG_LABELS unit)
  endif()
  include(GoogleTest)
  gtest_discover_tests(${name} PROPERTIES LABELS "${ARG_LABELS}" DISCOVERY_TIMEOUT 60)
endfunction()

# nb_fuzzer(NAME SRCS ... DEPS ... SMOKE_SECONDS N): a libFuzzer target plus a bounded ctest smoke run.
function(nb_fuzzer name)
  cmake_parse_arguments(ARG "" "SMOKE_SECONDS" "SRCS;DEPS" ${ARGN})
  if(NOT NB_FUZZ)
    return()
  endif()
  add_executable(${name} ${ARG_SRCS})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS})
  nb_apply_common(${name})
  target_compile_options(${name} PRIVATE -fsanitize=fuzzer)
  target_link_options(${name} PRIVATE -fsanitize=fuzzer)
  if(NOT ARG_SMOKE_SECONDS)
    set(ARG_SMOKE_SECONDS 20)
  endif()
  set(corpus ${CMAKE_CURRENT_BINARY_DIR}/${name}_corpus)
  file(MAKE_DIRECTORY ${corpus})
  add_test(NAME ${name}_smoke
           COMMAND ${name} -max_total_time=${ARG_SMOKE_SECONDS} -timeout=10 -rss_limit_mb=2048
                   ${corpus} ${CMAKE_CURRENT_SOURCE_DIR}/corpus/${name})
  set_tests_properties(${name}_smoke PROPERTIES LABELS fuzz TIMEOUT 600)
endfunction()

# Fails the configure step if a pure layer links gRPC, protobuf or Asio.
function(nb_check_pure_layers)
  foreach(target ${ARGN})
    get_target_property(libs ${target} LINK_LIBRARIES)
    get_target_property(ilibs ${target} INTERFACE_LINK_LIBRARIES)
    foreach(lib ${libs} ${ilibs})
      if(lib MATCHES "grpc|protobuf|asio|nb_proto")
        message(FATAL_ERROR "pure layer ${target} links ${lib}; see docs/architecture.md")
      endif()
    endforeach()
  endforeach()
endfunction()
