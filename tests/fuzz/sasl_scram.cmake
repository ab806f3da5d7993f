# SCRAM and PLAIN parsers under libFuzzer: server mechanisms fed arbitrary client messages, and the
# SCRAM client fed arbitrary server messages.
parley_fuzz_target(sasl_scram SOURCES ${CMAKE_CURRENT_LIST_DIR}/sasl_scram.cpp LIBS parley_sasl)
