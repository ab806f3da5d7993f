# Fuzzes Jid::parse, Jid::make and the three preparation functions (libs/jid).
parley_fuzz_target(jid SOURCES ${CMAKE_CURRENT_LIST_DIR}/jid.cpp LIBS parley_jid)
