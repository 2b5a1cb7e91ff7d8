// km: the binary only wires things up; every command is a library call (src/cli).
#include "cli/cli.h"

int main(int argc, char** argv) { return km::cli::run(argc, argv); }
