# xml_stream: StreamParser under split feeds, re-serialization, and differential against expat.
# The expat reference is compiled in directly (tests/support/CMakeLists.txt is shared).
parley_fuzz_target(xml_stream
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/xml_stream.cpp ${PROJECT_SOURCE_DIR}/tests/support/expat_reference.cpp
  LIBS parley_xml EXPAT::EXPAT)
if(TARGET fuzz_xml_stream)
  target_include_directories(fuzz_xml_stream PRIVATE ${PROJECT_SOURCE_DIR}/tests/support)
  parley_warnings(fuzz_xml_stream)
endif()
