// km's command line: parses arguments (CLI11), runs one library call per command, prints.
// Exit codes as upstream: 0 ok, 1 failed (an invalid profile included), 2 usage error.
#pragma once

#include <functional>

namespace km::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitBug = 70;  // an exception escaped: a km bug

// Runs `km` with the given arguments; returns the process exit code. Never throws.
int run(int argc, char** argv);

// Runs `body`; if an exception escapes, prints "BUG: ..." to stderr and returns kExitBug.
int guarded(const std::function<int()>& body);

}  // namespace km::cli
