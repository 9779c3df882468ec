# RDP tests against real peers: conduit-rdp-worker (a real FreeRDP client process) against
# freerdp-shadow-cli sharing an Xvfb display (tests/rdp/integration/rdp_target.hpp).
pkg_check_modules(TEST_LIBPNG REQUIRED IMPORTED_TARGET libpng16)
conduit_test(test_rdp_worker integration
  SOURCES rdp/integration/worker_test.cpp rdp/integration/rdp_target.cpp
  LIBS conduit_rdp PkgConfig::TEST_LIBPNG)
add_dependencies(test_rdp_worker conduit-rdp-worker)
target_compile_definitions(test_rdp_worker PRIVATE
  CONDUIT_RDP_WORKER="$<TARGET_FILE:conduit-rdp-worker>")
