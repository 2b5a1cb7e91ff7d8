// km::runCaptured — runs a program with `input` on its stdin and its stdout and stderr
// captured (each up to a bound), for a CLI that drives another program and reads its answer
// (km agent runs km exec). The child gets a session of its own and no other open fds.
// Thread-compatible; the caller must not be a threaded process that cares about fork
// (posix_spawn is used, which is safe in threaded processes too).
#pragma once

#include <chrono>
#include <cstddef>
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

}  // namespace km
