# broker/tunnel: MBAP framing, request decisions and the Modbus inspector byte for byte, and its
# answers decoded by tshark (unit); a bounded libFuzzer run of the framer and inspector, built by
# scripts/fuzz.sh with clang (unit).
conduit_test(test_tunnel unit
  SOURCES
    tunnel/mbap_framer_test.cpp
    tunnel/modbus_policy_test.cpp
    tunnel/modbus_inspector_test.cpp
    tunnel/modbus_tshark_test.cpp
    tunnel/modbus_tunnel_test.cpp
    tunnel/s7_framer_test.cpp
    tunnel/s7_inspector_test.cpp
    tunnel/s7_tunnel_test.cpp
    tunnel/s7_tshark_test.cpp
  # The S7 tshark test records through the recorder and decodes its pcap export.
  LIBS conduit_tunnel conduit_recorder PkgConfig::SODIUM Boost::json)

# The lock: fuzz targets share build/fuzz/obj and the machine's two cores.
add_test(NAME fuzz_modbus COMMAND ${PROJECT_SOURCE_DIR}/scripts/fuzz.sh modbus 20)
set_tests_properties(fuzz_modbus PROPERTIES
  LABELS unit TIMEOUT 600 RESOURCE_LOCK conduit_fuzz_build)
add_test(NAME fuzz_s7 COMMAND ${PROJECT_SOURCE_DIR}/scripts/fuzz.sh s7 10)
set_tests_properties(fuzz_s7 PROPERTIES
  LABELS unit TIMEOUT 600 RESOURCE_LOCK conduit_fuzz_build)
