# tests/code.cmake - build support for the code plugin's tests (included by
# tests/CMakeLists.txt): they dlopen the plugin, so they depend on it; the
# pre-tokenizer's unit tests compile its source (and the Unicode tables it
# reads) directly.
if(TARGET code)
  file(GLOB _code_tests CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/test_code*.c)
  foreach(src ${_code_tests})
    get_filename_component(name ${src} NAME_WE)
    add_dependencies(${name} code)
    target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/plugins/code ${PROJECT_SOURCE_DIR}/plugins/text)
    target_link_libraries(${name} PRIVATE ${CMAKE_DL_LIBS})
    target_compile_options(${name} PRIVATE -Wno-format-truncation)
  endforeach()
  if(TARGET test_code_pretokenize)
    target_sources(test_code_pretokenize PRIVATE ${PROJECT_SOURCE_DIR}/plugins/code/pretokenize.c
      ${PROJECT_SOURCE_DIR}/plugins/text/unicode_tables.c)
  endif()
endif()
