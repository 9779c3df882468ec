# Browser RDP: the broker <-> worker framing (unit), and its libFuzzer target, built and run by
# scripts/fuzz.sh with clang (unit).
conduit_test(test_rdp unit SOURCES rdp/worker_protocol_test.cpp rdp/drive_folder_test.cpp
  rdp/print_to_pdf_test.cpp
  LIBS conduit_rdp PkgConfig::SODIUM)
# The print queue is internal to broker/rdp; the converter runs as its own process.
target_include_directories(test_rdp PRIVATE ${PROJECT_SOURCE_DIR}/broker/rdp/src)
add_dependencies(test_rdp conduit-print-converter)
target_compile_definitions(test_rdp PRIVATE
  CONDUIT_PRINT_CONVERTER="$<TARGET_FILE:conduit-print-converter>")
# The worker's tile encoder, compiled from its sources (the worker is an executable).
pkg_check_modules(TEST_RDP_PNG REQUIRED IMPORTED_TARGET libpng16)
pkg_check_modules(TEST_RDP_JPEG REQUIRED IMPORTED_TARGET libjpeg)
conduit_test(test_rdp_tiles unit
  SOURCES rdp/tile_encoder_test.cpp ${PROJECT_SOURCE_DIR}/broker/rdp/worker/tile_encoder.cpp
  LIBS PkgConfig::TEST_RDP_PNG PkgConfig::TEST_RDP_JPEG)
target_include_directories(test_rdp_tiles PRIVATE ${PROJECT_SOURCE_DIR}/broker/rdp/worker)
# The lock: fuzz targets share build/fuzz/obj and the machine's two cores.
add_test(NAME fuzz_rdp_protocol COMMAND ${PROJECT_SOURCE_DIR}/scripts/fuzz.sh rdp_protocol 10)
set_tests_properties(fuzz_rdp_protocol PROPERTIES
  LABELS unit TIMEOUT 600 RESOURCE_LOCK conduit_fuzz_build)
# The broker's RDP session against a hostile worker process (a test double for a compromised
# worker; the real one cannot misbehave on purpose).
add_executable(conduit-hostile-rdp-worker rdp/hostile/hostile_worker.cpp)
conduit_target_defaults(conduit-hostile-rdp-worker)
target_link_libraries(conduit-hostile-rdp-worker PRIVATE conduit_rdp)
conduit_test(test_rdp_session unit SOURCES rdp/hostile/rdp_session_test.cpp LIBS conduit_rdp)
add_dependencies(test_rdp_session conduit-hostile-rdp-worker conduit-print-converter)
target_compile_definitions(test_rdp_session PRIVATE
  CONDUIT_HOSTILE_RDP_WORKER="$<TARGET_FILE:conduit-hostile-rdp-worker>"
  CONDUIT_PRINT_CONVERTER="$<TARGET_FILE:conduit-print-converter>")
