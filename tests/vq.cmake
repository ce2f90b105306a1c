# tests/vq.cmake - extra wiring for test_vq (included by tests/CMakeLists.txt).
#
# test_vq is a white-box test of the shared vector-quantization library
# plugins/vq: it links the static library mmgen_vq and calls its vq_*
# functions with a test-side host table.
if(TARGET test_vq)
  if(TARGET mmgen_vq)
    target_link_libraries(test_vq PRIVATE mmgen_vq)
  else()
    # plugins are off: nothing to test
    set_target_properties(test_vq PROPERTIES EXCLUDE_FROM_ALL TRUE)
    set_tests_properties(test_vq PROPERTIES DISABLED TRUE)
  endif()
endif()
