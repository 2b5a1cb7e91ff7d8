// runKm: km's command line run in-process (cli::run), with stdout and stderr captured; for
// tests of one command's output and exit code without a separate binary.
#pragma once

#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "cli/cli.h"

namespace km::test {

struct RunResult {
  int code;
  std::string out;
  std::string err;
};

// Runs km with `args` (argv[0] is added).
inline RunResult runKm(std::vector<std::string> args) {
  args.insert(args.begin(), "km");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  ::testing::internal::CaptureStdout();
  ::testing::internal::CaptureStderr();
  int code = cli::run(static_cast<int>(args.size()), argv.data());
  std::fflush(stdout);
  RunResult r{code, ::testing::internal::GetCapturedStdout(), ""};
  r.err = ::testing::internal::GetCapturedStderr();
  return r;
}

}  // namespace km::test
