# bench/code.cmake - bench_code dlopens the code and text plugins, which must
# be built first.
if(TARGET bench_code)
  target_link_libraries(bench_code PRIVATE ${CMAKE_DL_LIBS})
  if(MMGEN_BUILD_PLUGINS)
    add_dependencies(bench_code code text)
  endif()
endif()
