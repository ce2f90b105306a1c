# tests/plugins.cmake - plugins built only for the plugin-host tests
# (included by tests/CMakeLists.txt).
#
# One good test plugin (tests/plugins/testbytes.c) and, from the same source
# with one compile definition each, the broken plugins the host must refuse;
# plus tests/abi/plugin_v1_fixture.c, built against the FROZEN v1 header
# alone. They land in <build>/tests/plugins, never in the real plugin
# directory, and are not installed. The tests find them through the compile
# definition MMGEN_TEST_HOST_PLUGIN_DIR.

set(MMGEN_TEST_HOST_PLUGIN_DIR ${PROJECT_BINARY_DIR}/tests/plugins)
set(MMGEN_TEST_HOST_PLUGINS "")

# mmgen_add_test_plugin(<file stem> <source> <include dir> [definitions...])
# builds <build>/tests/plugins/mmgen-<file stem>.so.
function(mmgen_add_test_plugin stem source include_dir)
  set(target mmgen_testplugin_${stem})
  string(REPLACE "-" "_" target ${target})
  add_library(${target} MODULE ${source})
  target_include_directories(${target} PRIVATE ${include_dir})
  target_compile_options(${target} PRIVATE -fvisibility=hidden)
  target_compile_definitions(${target} PRIVATE ${ARGN})
  set_target_properties(${target} PROPERTIES PREFIX "" OUTPUT_NAME "mmgen-${stem}"
    LIBRARY_OUTPUT_DIRECTORY ${MMGEN_TEST_HOST_PLUGIN_DIR})
  target_link_options(${target} PRIVATE -Wl,--no-undefined)
  set(MMGEN_TEST_HOST_PLUGINS ${MMGEN_TEST_HOST_PLUGINS} ${target} PARENT_SCOPE)
endfunction()

set(_tb ${CMAKE_CURRENT_LIST_DIR}/plugins/testbytes.c)
set(_inc ${PROJECT_SOURCE_DIR}/include)
# The good plugin, and a second good one with another name.
mmgen_add_test_plugin(testbytes ${_tb} ${_inc})
mmgen_add_test_plugin(testbytes2 ${_tb} ${_inc} TESTPLUGIN_NAME="testbytes2" TESTPLUGIN_ENV="TESTBYTES2")
# Broken on purpose, one rule each.
mmgen_add_test_plugin(broken-noentry ${_tb} ${_inc} TESTPLUGIN_NAME="noentry"
  TESTPLUGIN_ENTRY=mmg_plugin_entry)
mmgen_add_test_plugin(broken-entry-v2 ${_tb} ${_inc} TESTPLUGIN_NAME="entryv2"
  TESTPLUGIN_ENTRY=mmg_plugin_entry_v2)
mmgen_add_test_plugin(broken-major ${_tb} ${_inc} TESTPLUGIN_NAME="major2"
  TESTPLUGIN_ABI_VERSION=MMGEN_MAKE_ABI_VERSION\(2,0\))
mmgen_add_test_plugin(broken-small ${_tb} ${_inc} TESTPLUGIN_NAME="small" TESTPLUGIN_SMALL_STRUCT)
mmgen_add_test_plugin(broken-nullfn ${_tb} ${_inc} TESTPLUGIN_NAME="nullfn" TESTPLUGIN_NULL_ENCODE)
mmgen_add_test_plugin(broken-initfails ${_tb} ${_inc} TESTPLUGIN_NAME="initfails"
  TESTPLUGIN_ENV="INITFAILS" TESTPLUGIN_INIT_FAILS)
# A plugin from a future minor (1.7) with a larger descriptor: must load.
mmgen_add_test_plugin(newer-minor ${_tb} ${_inc} TESTPLUGIN_NAME="newerminor"
  TESTPLUGIN_ENV="NEWERMINOR" TESTPLUGIN_NEWER_MINOR)
# For `mmgen plugin check` (tests/check_plugin_validator.sh): a plugin that
# loads but breaks encode's bounds and crashes in decode, and the out-of-tree
# example plugin built from its source as a plugin author would.
mmgen_add_test_plugin(broken-range ${CMAKE_CURRENT_LIST_DIR}/plugins/broken_range.c ${_inc})
mmgen_add_test_plugin(caesar ${PROJECT_SOURCE_DIR}/examples/plugin_out_of_tree/caesar.c ${_inc})
# Built against the frozen v1.0 header only (no include/ on its path).
mmgen_add_test_plugin(v1fixture ${CMAKE_CURRENT_LIST_DIR}/abi/plugin_v1_fixture.c
  ${CMAKE_CURRENT_LIST_DIR}/abi)

foreach(t test_plugin_loader test_plugin_search test_tokenizer_api test_plugin_abi
    test_plugin_fault)
  if(TARGET ${t})
    target_compile_definitions(${t} PRIVATE
      MMGEN_TEST_HOST_PLUGIN_DIR="${MMGEN_TEST_HOST_PLUGIN_DIR}"
      MMGEN_PLUGIN_INSTALL_DIR_FOR_TESTS="${CMAKE_INSTALL_FULL_LIBDIR}/mmgen/plugins")
    add_dependencies(${t} ${MMGEN_TEST_HOST_PLUGINS})
  endif()
endforeach()
# The frozen layout table is compiled against the frozen header only.
if(TARGET test_plugin_abi)
  target_sources(test_plugin_abi PRIVATE ${CMAKE_CURRENT_LIST_DIR}/abi/plugin_v1_layout.c)
endif()
