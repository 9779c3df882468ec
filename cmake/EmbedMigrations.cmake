# Writes OUTPUT: a C++ table of the migration files in INPUTS (named NNNN_name.sql), in order.
set(body "")
string(REPLACE "|" ";" INPUTS "${INPUTS}")
foreach(file IN LISTS INPUTS)
  get_filename_component(name ${file} NAME_WE)
  string(REGEX MATCH "^([0-9]+)_" _ ${name})
  if(NOT CMAKE_MATCH_1)
    message(FATAL_ERROR "migration ${file} is not named NNNN_name.sql")
  endif()
  math(EXPR version "${CMAKE_MATCH_1}")
  file(READ ${file} sql)
  string(APPEND body "  {${version}, \"${name}\", R\"conduit_sql(${sql})conduit_sql\"},\n")
endforeach()
file(WRITE ${OUTPUT}.tmp
"// Generated from broker/store/migrations by cmake/EmbedMigrations.cmake. Do not edit.\n"
"#include \"conduit/store/migrations.hpp\"\n\n"
"namespace conduit::store {\n\n"
"const std::vector<Migration>& builtinMigrations() {\n"
"  static const std::vector<Migration> kMigrations{\n${body}  };\n"
"  return kMigrations;\n}\n\n}  // namespace conduit::store\n")
file(COPY_FILE ${OUTPUT}.tmp ${OUTPUT} ONLY_IF_DIFFERENT)
