// Paths the tests need: the source tree, ../shared (reference profiles) and the km binary.
#pragma once

#include <filesystem>
#include <string>

namespace km::test {

inline std::string sourceDir() { return KM_SOURCE_DIR; }
inline std::string sharedDir() { return KM_SHARED_DIR; }
inline std::string kmBinary() { return KM_BINARY; }
inline std::string referenceProfiles() { return sharedDir() + "/reference/profiles"; }

// The upstream reference data sits in ../shared beside a checkout (developers and CI have
// it); a bare clone does not, and tests that need it skip, saying so.
inline bool haveShared() { return std::filesystem::is_directory(referenceProfiles()); }
#define KM_SKIP_WITHOUT_SHARED()                                                       \
  do {                                                                                 \
    if (!::km::test::haveShared())                                                     \
      GTEST_SKIP() << "no upstream reference data at " << ::km::test::sharedDir();     \
  } while (0)

}  // namespace km::test
