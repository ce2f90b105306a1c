# tests/threads.cmake - tests/threads_check.c, the thread-rule stress test
# (included by tests/CMakeLists.txt). A plain program linked to the shared
# library, not a criterion test, so that a -DMMGEN_TSAN=ON build can run it
# under ThreadSanitizer (.ci/run builds just this target and the text
# plugin there).
add_executable(threads_check ${CMAKE_CURRENT_LIST_DIR}/threads_check.c)
target_link_libraries(threads_check PRIVATE mmgen Threads::Threads)
target_include_directories(threads_check PRIVATE ${PROJECT_SOURCE_DIR}/include)
target_compile_definitions(threads_check PRIVATE MMGEN_TEST_PLUGIN_DIR="${MMGEN_PLUGIN_BUILD_DIR}")
add_test(NAME threads_check COMMAND threads_check)
set_tests_properties(threads_check PROPERTIES ENVIRONMENT "${MMGEN_TEST_ENV}" TIMEOUT 600
  FAIL_REGULAR_EXPRESSION "WARNING: ThreadSanitizer;ERROR: AddressSanitizer;ERROR: LeakSanitizer;runtime error:")
