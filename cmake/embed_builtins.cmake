# Writes a C++ file holding each built-in profile's YAML as a string literal.
# Usage: cmake -DOUT=file.cc -DDIR=profiles -DNAMES="a;b" -P embed_builtins.cmake
string(REPLACE "," ";" NAMES "${NAMES}")
set(body "// Generated from profiles/*.yaml by cmake/embed_builtins.cmake. Do not edit.\n")
string(APPEND body "#include \"profile/builtin_data.h\"\n\nnamespace km::profile {\n\n")
string(APPEND body "const std::vector<BuiltinSource>& builtinSources() {\n")
string(APPEND body "  static const std::vector<BuiltinSource> kSources = {\n")
foreach(name ${NAMES})
  file(READ ${DIR}/${name}.yaml text)
  string(APPEND body "    {\"${name}\", R\"km_builtin(${text})km_builtin\"},\n")
endforeach()
string(APPEND body "  };\n  return kSources;\n}\n\n}  // namespace km::profile\n")
file(WRITE ${OUT}.tmp "${body}")
file(COPY_FILE ${OUT}.tmp ${OUT} ONLY_IF_DIFFERENT)
