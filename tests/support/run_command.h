// runCapture: a shell command's standard output (what a test reads back from real tools:
// nft, dig, …). Empty when the command could not start.
#pragma once

#include <cstdio>
#include <string>

namespace km::test {

inline std::string runCapture(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  ::pclose(p);
  return out;
}

}  // namespace km::test
