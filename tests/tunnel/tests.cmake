# broker/tunnel: MBAP framing, request decisions and the Modbus inspector byte for byte, and its
# answers decoded by tshark (unit); a bounded libFuzzer run of the framer and inspector, built by
# scripts/fuzz.sh with clang (unit).
conduit_test(test_tunnel unit
  SOURCES
    tunnel/mbap_framer_test.cpp
    tunnel/modbus_policy_test.cpp
    tunnel/modbus_inspector_test.cpp
    tunnel/modbus_tshark_test.cpp
  LIBS conduit_tunnel)

# The lock: fuzz targets share build/fuzz/obj and the machine's two cores.
add_test(NAME fuzz_modbus COMMAND ${PROJECT_SOURCE_DIR}/scripts/fuzz.sh modbus 20)
set_tests_properties(fuzz_modbus PROPERTIES
  LABELS unit TIMEOUT 600 RESOURCE_LOCK conduit_fuzz_build)
