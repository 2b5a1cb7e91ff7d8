// Sandbox ids: {prefix}-{8 lowercase hex} from the kernel's random source.
#include <gtest/gtest.h>

#include <regex>
#include <set>
#include <string>

#include "plan/plan.h"

namespace km::plan {
namespace {

TEST(SandboxIdTest, IsThePrefixADashAndEightLowercaseHexDigits) {
  const std::regex shape("^sb-[0-9a-f]{8}$");
  for (int i = 0; i < 100; ++i) {
    std::string id = newSandboxId("sb");
    EXPECT_TRUE(std::regex_match(id, shape)) << id;
  }
  std::string custom = newSandboxId("gebpfgk");
  EXPECT_EQ(custom.rfind("gebpfgk-", 0), 0u);
  EXPECT_EQ(custom.size(), std::string("gebpfgk-").size() + 8);
}

TEST(SandboxIdTest, ThousandDrawsAreDistinctAndUseEveryHexDigit) {
  // 1000 draws from 2^32 repeat once with probability ~1.2e-4 and twice ~7e-9: allowing one
  // repeat keeps the test from flaking while a broken source (constant, counter reset, few
  // bits) still fails loudly.
  std::set<std::string> seen;
  std::set<char> digits;
  for (int i = 0; i < 1000; ++i) {
    std::string id = newSandboxId("sb");
    seen.insert(id);
    for (char c : id.substr(3)) digits.insert(c);
  }
  EXPECT_GE(seen.size(), 999u);
  EXPECT_EQ(digits.size(), 16u);  // 8000 hex digits all missing one value: ~16·(15/16)^8000
}

}  // namespace
}  // namespace km::plan
