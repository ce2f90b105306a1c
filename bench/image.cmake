# bench/image.cmake - bench_image reads PNGs with libpng (the reference for
# PSNR) and loads the image plugin, which must be built first.
if(TARGET bench_image)
  target_link_libraries(bench_image PRIVATE PkgConfig::PNG)
  target_compile_definitions(bench_image PRIVATE MMGEN_PLUGIN_BUILD_DIR="${MMGEN_PLUGIN_BUILD_DIR}")
  if(MMGEN_BUILD_PLUGINS)
    add_dependencies(bench_image image)
  endif()
endif()
