// Paths the tests need: the source tree, ../shared (reference profiles) and the km binary.
#pragma once

#include <string>

namespace km::test {

inline std::string sourceDir() { return KM_SOURCE_DIR; }
inline std::string sharedDir() { return KM_SHARED_DIR; }
inline std::string kmBinary() { return KM_BINARY; }
inline std::string referenceProfiles() { return sharedDir() + "/reference/profiles"; }

}  // namespace km::test
