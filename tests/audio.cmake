# tests/audio.cmake - extra wiring for the audio plugin's tests (included by
# tests/CMakeLists.txt). They open the plugin through the public API and use
# libsndfile (to write inputs and read what decode wrote) and libcodec2 (the
# Codec2 round trip the plugin must equal) as independent references.
file(GLOB _audio_tests CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/test_audio_*.c)
list(FILTER _audio_tests EXCLUDE REGEX "test_audio_quality")
foreach(src ${_audio_tests})
  get_filename_component(name ${src} NAME_WE)
  if(NOT TARGET audio) # plugins are off: nothing to test
    set_target_properties(${name} PROPERTIES EXCLUDE_FROM_ALL TRUE)
    set_tests_properties(${name} PROPERTIES DISABLED TRUE)
    continue()
  endif()
  add_dependencies(${name} audio)
  target_link_libraries(${name} PRIVATE PkgConfig::SNDFILE PkgConfig::CODEC2)
endforeach()
