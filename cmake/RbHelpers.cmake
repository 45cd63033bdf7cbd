# Small helpers for the shapes that repeat: a library, an executable, a test.
# Each library gets a namespaced alias (rebound::<name>) that dependants must use.

# Warnings for our own code only; third-party headers are included as SYSTEM.
function(rb_set_warnings target)
  # Designated initializers that leave members at their defaults are intended (C++20 style), so
  # -Wmissing-field-initializers is off.
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wno-unused-parameter
                                           -Wno-missing-field-initializers)
  if(REBOUND_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

# rb_cc_library(NAME name SRCS ... [HDRS_DIR dir] DEPS ... [PRIVATE_DEPS ...])
function(rb_cc_library)
  cmake_parse_arguments(RB "" "NAME" "SRCS;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(rebound_${RB_NAME} STATIC ${RB_SRCS})
  add_library(rebound::${RB_NAME} ALIAS rebound_${RB_NAME})
  if(EXISTS "${CMAKE_CURRENT_SOURCE_DIR}/include")
    target_include_directories(rebound_${RB_NAME} PUBLIC "${CMAKE_CURRENT_SOURCE_DIR}/include")
  endif()
  target_include_directories(rebound_${RB_NAME} PRIVATE "${CMAKE_CURRENT_SOURCE_DIR}")
  target_link_libraries(rebound_${RB_NAME} PUBLIC ${RB_DEPS} PRIVATE ${RB_PRIVATE_DEPS})
  rb_set_warnings(rebound_${RB_NAME})
endfunction()

# rb_cc_binary(NAME name SRCS ... DEPS ...)
function(rb_cc_binary)
  cmake_parse_arguments(RB "" "NAME" "SRCS;DEPS" ${ARGN})
  add_executable(${RB_NAME} ${RB_SRCS})
  target_include_directories(${RB_NAME} PRIVATE "${CMAKE_CURRENT_SOURCE_DIR}")
  target_link_libraries(${RB_NAME} PRIVATE ${RB_DEPS})
  rb_set_warnings(${RB_NAME})
endfunction()

# rb_cc_test(NAME name SRCS ... DEPS ... [LABELS unit|integration|e2e] [STACK] [TIMEOUT s])
# STACK tests need the local Kafka/Redis/SMTP stack: they get the stack_fixture and
# REBOUND_STACK_ENV pointing at the env file the stack writes.
function(rb_cc_test)
  cmake_parse_arguments(RB "STACK" "NAME;TIMEOUT" "SRCS;DEPS;LABELS" ${ARGN})
  if(NOT REBOUND_BUILD_TESTS)
    return()
  endif()
  add_executable(${RB_NAME} ${RB_SRCS})
  target_include_directories(${RB_NAME} PRIVATE "${CMAKE_CURRENT_SOURCE_DIR}")
  target_link_libraries(${RB_NAME} PRIVATE ${RB_DEPS} GTest::gmock_main)
  if(NOT RB_LABELS)
    set(RB_LABELS unit)
  endif()
  if(NOT RB_TIMEOUT)
    set(RB_TIMEOUT 120)
  endif()
  rb_set_warnings(${RB_NAME})
  add_test(NAME ${RB_NAME} COMMAND ${RB_NAME})
  set_tests_properties(${RB_NAME} PROPERTIES LABELS "${RB_LABELS}" TIMEOUT ${RB_TIMEOUT}
    ENVIRONMENT "REBOUND_SOURCE_DIR=${PROJECT_SOURCE_DIR};REBOUND_BINARY_DIR=${PROJECT_BINARY_DIR}")
  if(RB_STACK)
    set_tests_properties(${RB_NAME} PROPERTIES FIXTURES_REQUIRED stack
      ENVIRONMENT "REBOUND_SOURCE_DIR=${PROJECT_SOURCE_DIR};REBOUND_BINARY_DIR=${PROJECT_BINARY_DIR};REBOUND_STACK_ENV=${REBOUND_STACK_DIR}/stack.env")
  endif()
endfunction()
