# End to end: browser RDP in Debian's Chromium (tests/e2e/rdp_story.mjs, playwright-core) through
# `conduit serve` and its RDP worker, against FreeRDP's shadow server on Xvfb showing an xterm.
# Screenshots are kept in <build dir>/e2e-artefacts/rdp.
conduit_test(test_e2e_rdp integration
  SOURCES e2e/rdp_story_test.cpp rdp/integration/rdp_target.cpp ssh/integration/sshd_fixture.cpp
  LIBS conduit_core Threads::Threads)
target_compile_definitions(test_e2e_rdp PRIVATE
  CONDUIT_E2E_ARTEFACTS="${CMAKE_BINARY_DIR}/e2e-artefacts/rdp"
  CONDUIT_RDP_WORKER="$<TARGET_FILE:conduit-rdp-worker>")
add_dependencies(test_e2e_rdp conduit conduit-rdp-worker)
add_dependencies(test_e2e_rdp conduit-test-rdp-printer conduit-print-converter)
target_compile_definitions(test_e2e_rdp PRIVATE
  CONDUIT_TEST_RDP_PRINTER="$<TARGET_FILE:conduit-test-rdp-printer>")
