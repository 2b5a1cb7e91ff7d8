// km: the binary only wires things up; every command is a library call (src/cli).
#include <cstdio>
#include <cstdlib>
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif

#include "cli/cli.h"

int main(int argc, char** argv) {
  int code = km::cli::run(argc, argv);
  // The command is done and its own objects are gone. What is left (static tables, library
  // state) the kernel reclaims at once, while destroying it would cost every command most of
  // a millisecond of freeing memory. Output is flushed here; loggers write through.
  std::fflush(nullptr);
#if defined(__SANITIZE_ADDRESS__)
  __lsan_do_leak_check();  // what a normal exit checks in a sanitizer build
#endif
  std::_Exit(code);
}
