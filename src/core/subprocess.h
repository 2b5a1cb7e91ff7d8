// Running other programs from km, with posix_spawn (safe in threaded processes too).
// km::runCaptured runs one with `input` on its stdin and its stdout and stderr captured (each
// up to a bound), for a CLI that drives another program and reads its answer (km agent runs
// km exec); its child gets a session of its own and no other open fds. km::runStreaming runs
// one whose output is followed line by line (progress) and whose end is kept for its error
// (sys::runProgram, skopeo). Thread-compatible.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace km {

struct Captured {
  int exit_code = 0;         // as a shell reports it: 128+N when killed by signal N
  std::string out, err;      // each at most `max_output` bytes (the rest read and dropped)
  bool out_cut = false, err_cut = false;
};

// Runs argv[0] (a path, not searched) with argv. Unavailable when it cannot be started, or
// when it is still running after `timeout` (it is then killed and reaped); the I/O error
// otherwise. A program that does not read its stdin is fine (the rest of `input` is dropped).
[[nodiscard]] Result<Captured> runCaptured(const std::vector<std::string>& argv, std::string_view input,
                                           size_t max_output, std::chrono::milliseconds timeout);

// What runStreaming reports of a program that ran.
struct Streamed {
  int exit_code = 0;  // as a shell reports it: 128+N when killed by signal N
  // The end of its output (stdout and stderr together), newlines at its end removed: at most
  // `tail_bytes`, with "…" first when it was longer.
  std::string tail;
};

// Runs argv[0] (searched in PATH) with stdin from /dev/null and its stdout and stderr merged,
// and waits. Each line of that output goes to `on_line` (when set) as it arrives. The
// spawn's error when it cannot start (NotFound for a program that is not installed).
[[nodiscard]] Result<Streamed> runStreaming(const std::vector<std::string>& argv,
                                            const std::function<void(std::string_view)>& on_line,
                                            size_t tail_bytes = 2000);

}  // namespace km
