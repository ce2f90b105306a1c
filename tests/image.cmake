# tests/image.cmake - extra wiring for the image plugin's tests (included by
# tests/CMakeLists.txt).
#
# Every tests/test_image*.c reads PNGs through libpng's simplified API as an
# independent reference, so it links libpng. White-box tests (resize,
# k-means, search, allocation limits) compile the plugin's objects in, with
# the vq library they link (plugins/vq, mmgen_vq), and call the internal
# img_* and vq_* functions with a test-side host table.
# image_roundtrip is the driver tests/check_image_formats.sh compares with
# ImageMagick.
set(_image_whitebox test_image_internals)
file(GLOB _image_tests CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/test_image*.c)
foreach(src ${_image_tests})
  get_filename_component(name ${src} NAME_WE)
  if(NOT TARGET mmgen_image_objects)
    # plugins are off: nothing to test
    set_target_properties(${name} PROPERTIES EXCLUDE_FROM_ALL TRUE)
    set_tests_properties(${name} PROPERTIES DISABLED TRUE)
    continue()
  endif()
  target_link_libraries(${name} PRIVATE PkgConfig::PNG)
  target_compile_definitions(${name} PRIVATE MMGEN_IMAGE_FIXTURES="${CMAKE_CURRENT_LIST_DIR}/fixtures/image")
  add_dependencies(${name} image)
  if(name IN_LIST _image_whitebox)
    target_sources(${name} PRIVATE $<TARGET_OBJECTS:mmgen_image_objects>)
    target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/plugins/image)
    target_link_libraries(${name} PRIVATE mmgen_image_objects)
  endif()
endforeach()

if(TARGET mmgen_image_objects)
  add_executable(image_roundtrip ${CMAKE_CURRENT_LIST_DIR}/image_roundtrip.c)
  target_link_libraries(image_roundtrip PRIVATE mmgen_static)
  target_compile_definitions(image_roundtrip PRIVATE MMGEN_TEST_PLUGIN_DIR="${MMGEN_PLUGIN_BUILD_DIR}")
  add_dependencies(image_roundtrip image)
endif()
