// The conformance vectors in fixtures/ (see fixtures/README.md) and the `age` CLI for tests.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "core/fs.h"
#include "core/subprocess.h"
#include "support/test_paths.h"

namespace km::secrets::test {

// sops's test age recipient (age/keys.txt) and the keysource_test.go mock recipients.
inline constexpr const char* kSopsTestRecipient = "age1yt3tfqlfrwdwx0z0ynwplcr6qxcxfaqycuprpmy89nr83ltx74tqdpszlw";
inline constexpr const char* kMockRecipient = "age1lzd99uklcjnc0e7d860axevet2cz99ce9pq6tzuzd05l5nr28ams36nvun";

// Data keys of the PGP-only fixtures, recovered with sops's published functional-test PGP key.
inline constexpr const char* kExampleKeyHex = "8c68886c50b5b72965a3cb99c5172e1d74a8aca27b39ee880b535d6907e59f68";
inline constexpr const char* kCommentsKeyHex = "61bec946f5783fd4cea3d1b1ce407fce2b6e81fc301cc539c422015e27f6d1be";
inline constexpr const char* kFormatKeyHex = "af5e68dd342b72c6a0475f81a50da4fde898f4b7742c92cbcf1668211411f4e4";

inline std::string fixturePath(const std::string& name) {
  return km::test::sourceDir() + "/tests/unit/secrets/fixtures/" + name;
}

inline std::string readFixture(const std::string& name) {
  auto text = fs::readFile(fixturePath(name));
  EXPECT_TRUE(text.has_value()) << name << ": " << (text ? "" : text.error().message());
  return text ? *text : std::string();
}

inline std::string fromHex(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out += static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16));
  }
  return out;
}

inline constexpr const char* kAge = "/usr/bin/age";
#define KM_SKIP_WITHOUT_AGE()                                                                \
  do {                                                                                       \
    if (!::km::fs::exists(::km::secrets::test::kAge))                                        \
      GTEST_SKIP() << "no " << ::km::secrets::test::kAge << " (scripts/install-deps.sh installs age)"; \
  } while (0)

// `key` wrapped for `recipient` by the real age CLI, armored, as sops stores it.
inline std::string ageWrap(const std::string& key, const std::string& recipient) {
  auto run = runCaptured({kAge, "-r", recipient, "-a"}, key, 1 << 16, std::chrono::seconds(10));
  EXPECT_TRUE(run && run->exit_code == 0) << (run ? run->err : run.error().message());
  return run ? run->out : std::string();
}

// A sops.age list entry (indented under `sops:`) for an armored age file.
inline std::string ageEntry(const std::string& recipient, const std::string& armored) {
  std::string out = "        - recipient: " + recipient + "\n          enc: |\n";
  size_t start = 0;
  while (start < armored.size()) {
    size_t end = armored.find('\n', start);
    if (end == std::string::npos) end = armored.size();
    if (end > start) out += "            " + armored.substr(start, end - start) + "\n";
    start = end + 1;
  }
  return out;
}

}  // namespace km::secrets::test
