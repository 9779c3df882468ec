# Browser RDP: the broker <-> worker framing (unit), and its libFuzzer target, built and run by
# scripts/fuzz.sh with clang (unit).
conduit_test(test_rdp unit SOURCES rdp/worker_protocol_test.cpp LIBS conduit_rdp)
# The lock: fuzz targets share build/fuzz/obj and the machine's two cores.
add_test(NAME fuzz_rdp_protocol COMMAND ${PROJECT_SOURCE_DIR}/scripts/fuzz.sh rdp_protocol 10)
set_tests_properties(fuzz_rdp_protocol PROPERTIES
  LABELS unit TIMEOUT 600 RESOURCE_LOCK conduit_fuzz_build)
