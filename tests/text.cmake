# tests/text.cmake - build support for the text plugin's tests (included by
# tests/CMakeLists.txt): the tests dlopen the plugin, so they depend on it;
# text_tool drives the plugin for tests/check_tiktoken.sh and bench/run_text.sh.
if(TARGET text)
  add_executable(text_tool ${CMAKE_CURRENT_LIST_DIR}/text_tool.c
    ${PROJECT_SOURCE_DIR}/plugins/text/pretokenize.c ${PROJECT_SOURCE_DIR}/plugins/text/unicode_tables.c)
  target_include_directories(text_tool PRIVATE ${PROJECT_SOURCE_DIR}/include
    ${PROJECT_SOURCE_DIR}/plugins/text ${CMAKE_CURRENT_LIST_DIR})
  target_compile_definitions(text_tool PRIVATE MMGEN_TEST_PLUGIN_DIR="${MMGEN_PLUGIN_BUILD_DIR}")
  target_link_libraries(text_tool PRIVATE ${CMAKE_DL_LIBS})
  add_dependencies(text_tool text)
  file(GLOB _text_tests CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/test_text*.c)
  foreach(src ${_text_tests})
    get_filename_component(name ${src} NAME_WE)
    add_dependencies(${name} text)
    target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/plugins/text)
    target_link_libraries(${name} PRIVATE ${CMAKE_DL_LIBS})
    # Paths are built in fixed buffers far longer than any real path.
    target_compile_options(${name} PRIVATE -Wno-format-truncation)
  endforeach()
endif()
