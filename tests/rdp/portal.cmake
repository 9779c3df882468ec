# Browser RDP through `conduit serve` and its portal WebSocket, against FreeRDP's shadow server
# on Xvfb (integration).
conduit_test(test_rdp_portal integration
  SOURCES rdp/integration/rdp_portal_test.cpp rdp/integration/rdp_target.cpp
          ssh/integration/sshd_fixture.cpp portal/ws_client.cpp
  LIBS conduit_core Boost::json OpenSSL::SSL OpenSSL::Crypto Threads::Threads)
add_dependencies(test_rdp_portal conduit conduit-rdp-worker)
target_compile_definitions(test_rdp_portal PRIVATE
  CONDUIT_RDP_WORKER="$<TARGET_FILE:conduit-rdp-worker>")
add_dependencies(test_rdp_portal conduit-test-rdp-printer conduit-print-converter)
target_compile_definitions(test_rdp_portal PRIVATE
  CONDUIT_TEST_RDP_PRINTER="$<TARGET_FILE:conduit-test-rdp-printer>")
