// Fuzzes the operator config loader (same YAML reader, its own schema and CIDR/address checks).
#include <cstdint>
#include <string_view>

#include "config/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  km::config::LoadedConfig c = km::config::parseConfig(text, "config.yaml");
  (void)km::config::toNode(km::config::effective(c.config, "/nonexistent-km-fuzz/resolv.conf"));
  (void)km::config::nameserversFromResolvConf(text);
  return 0;
}
