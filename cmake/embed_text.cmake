# Writes a C++ file whose function returns a text file's contents (a data file shipped inside
# the binary). Usage: cmake -DOUT=file.cc -DIN=data/x.yaml -DHEADER=meter/x.h -DFUNC=ns::name -P embed_text.cmake
file(READ ${IN} text)
string(FIND "${text}" ")km_data\"" clash)
if(NOT clash EQUAL -1)
  message(FATAL_ERROR "${IN} holds the raw string's closing sequence")
endif()
string(REGEX REPLACE "::[^:]*$" "" ns "${FUNC}")
string(REGEX REPLACE "^.*::" "" fn "${FUNC}")
set(body "// Generated from ${IN} by cmake/embed_text.cmake. Do not edit.\n#include \"${HEADER}\"\n\n")
string(APPEND body "namespace ${ns} {\n\nstd::string_view ${fn}() {\n  return R\"km_data(${text})km_data\";\n}\n\n}  // namespace ${ns}\n")
file(WRITE ${OUT}.tmp "${body}")
file(COPY_FILE ${OUT}.tmp ${OUT} ONLY_IF_DIFFERENT)
