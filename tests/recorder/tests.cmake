# recorder/: container round trips, crash safety, tamper detection, exports (the RDP desktop
# export too), text extraction, segments and seeking (unit); the seek index in the database
# (unit); export --from through the binary and exports checked by the real asciinema and
# tshark (integration); and a bounded libFuzzer run of the reader built by scripts/fuzz.sh with
# clang (unit).
conduit_test(test_recorder unit
  SOURCES
    recorder/record_test.cpp
    recorder/container_test.cpp
    recorder/tamper_test.cpp
    recorder/crash_test.cpp
    recorder/export_test.cpp
    recorder/desktop_export_test.cpp
    recorder/seek_test.cpp
  LIBS conduit_recorder PkgConfig::SODIUM)
# The seek index in the database (migration 0009), as sealing fills it.
conduit_test(test_recorder_index unit
  SOURCES recorder/seek_index_test.cpp
  LIBS conduit_recorder conduit_store PkgConfig::SODIUM)
conduit_test(test_recorder_tools integration
  SOURCES recorder/tools_test.cpp
  LIBS conduit_recorder PkgConfig::SODIUM)
# `conduit recording export --from`, `search`, `reindex` and `--format desktop` through the binary.
conduit_test(test_recorder_cli integration
  SOURCES recorder/cli_seek_test.cpp recorder/cli_desktop_test.cpp
  LIBS conduit_recorder conduit_access conduit_store conduit_vault PkgConfig::SODIUM)
add_dependencies(test_recorder_cli conduit)

# Bounded libFuzzer runs of the recording parsers. scripts/fuzz.sh compiles the recorder sources
# with clang (not through this g++ build) into build/fuzz/ and seeds each corpus; the targets
# share object files, hence the resource lock.
add_test(NAME fuzz_recording_reader
  COMMAND ${PROJECT_SOURCE_DIR}/scripts/fuzz.sh recording_reader 20)
add_test(NAME fuzz_recording_manifest
  COMMAND ${PROJECT_SOURCE_DIR}/scripts/fuzz.sh recording_manifest 10)
# The MP4 export's PNG and JPEG tile decoding: tiles are what a possibly hostile worker sent.
add_test(NAME fuzz_tile_image
  COMMAND ${PROJECT_SOURCE_DIR}/scripts/fuzz.sh tile_image 10)
set_tests_properties(fuzz_recording_reader fuzz_recording_manifest fuzz_tile_image PROPERTIES
  LABELS unit TIMEOUT 600 RESOURCE_LOCK conduit_fuzz_build)
