# Generates a C++ file that embeds the SQL migrations of one backend (docs/storage.md "Migrations").
# Run in script mode:
#   cmake -DMIGRATIONS_DIR=<dir of NNNN_name.sql> -DTEMPLATE=<.cpp.in> -DOUTPUT=<.cpp> -P embed_migrations.cmake
# Checks that the files are named NNNN_name.sql and numbered 1, 2, 3... without gaps or duplicates.
foreach(var MIGRATIONS_DIR TEMPLATE OUTPUT)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "embed_migrations.cmake: -D${var}=... is required")
  endif()
endforeach()

file(GLOB files "${MIGRATIONS_DIR}/*")
list(SORT files)
if(NOT files)
  message(FATAL_ERROR "embed_migrations.cmake: no migration in ${MIGRATIONS_DIR}")
endif()

set(delimiter "parley_sql")
set(expected 1)
set(PARLEY_MIGRATION_ENTRIES "")
foreach(file IN LISTS files)
  get_filename_component(filename "${file}" NAME)
  if(NOT filename MATCHES "^([0-9][0-9][0-9][0-9])_([a-z0-9_]+)\\.sql$")
    message(FATAL_ERROR "${file}: migration files are named NNNN_name.sql (four digits, then lower-case "
                        "letters, digits and underscores), e.g. 0003_rosters.sql")
  endif()
  set(name "${CMAKE_MATCH_2}")
  math(EXPR version "${CMAKE_MATCH_1}")
  if(NOT version EQUAL expected)
    message(FATAL_ERROR "${file}: expected migration number ${expected} here; migrations are numbered "
                        "1, 2, 3... without gaps or duplicates")
  endif()
  math(EXPR expected "${expected} + 1")
  file(READ "${file}" sql)
  string(FIND "${sql}" ")${delimiter}\"" clash)
  if(NOT clash EQUAL -1)
    message(FATAL_ERROR "${file}: contains )${delimiter}\", which would end the embedded string")
  endif()
  string(APPEND PARLEY_MIGRATION_ENTRIES
         "    {${version}, \"${name}\", R\"${delimiter}(${sql})${delimiter}\"},\n")
endforeach()

# configure_file rewrites OUTPUT only if its content changed, so unchanged migrations rebuild nothing.
configure_file("${TEMPLATE}" "${OUTPUT}" @ONLY)
