# RDP tests against real peers: conduit-rdp-worker (a real FreeRDP client process) against
# freerdp-shadow-cli sharing an Xvfb display (tests/rdp/integration/rdp_target.hpp).
pkg_check_modules(TEST_LIBPNG REQUIRED IMPORTED_TARGET libpng16)
conduit_test(test_rdp_worker integration
  SOURCES rdp/integration/worker_test.cpp rdp/integration/rdp_target.cpp
  LIBS conduit_rdp PkgConfig::TEST_LIBPNG)
add_dependencies(test_rdp_worker conduit-rdp-worker)
target_compile_definitions(test_rdp_worker PRIVATE
  CONDUIT_RDP_WORKER="$<TARGET_FILE:conduit-rdp-worker>")
# An RDP server that prints to the printer its client offers (a Windows spooler's stand-in:
# no RDP server that runs here prints), built on FreeRDP's own server library.
pkg_check_modules(TEST_FREERDP_SERVER REQUIRED IMPORTED_TARGET freerdp-server2 freerdp2 winpr2)
add_executable(conduit-test-rdp-printer rdp/print_server/print_server.cpp)
conduit_target_defaults(conduit-test-rdp-printer)
target_link_libraries(conduit-test-rdp-printer PRIVATE PkgConfig::TEST_FREERDP_SERVER)
add_dependencies(test_rdp_worker conduit-test-rdp-printer)
target_compile_definitions(test_rdp_worker PRIVATE
  CONDUIT_TEST_RDP_PRINTER="$<TARGET_FILE:conduit-test-rdp-printer>")
