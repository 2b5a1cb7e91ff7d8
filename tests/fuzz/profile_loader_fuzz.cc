// Fuzzes the whole profile pipeline on arbitrary bytes: YAML parse with marks, v1alpha1
// migration, extends resolution (built-in names only: the source lives in a directory that
// does not exist), schema decode, semantic rules, defaults, and the YAML/JSON writers.
// Property checked besides "no crash, no leak, no UB": what km prints as YAML reads back
// as the same document.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "doc/json_io.h"
#include "doc/yaml_io.h"
#include "profile/profile.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  km::profile::LoadOptions options;
  km::profile::Loaded loaded = km::profile::loadText(text, "/nonexistent-km-fuzz/p.yaml", options);
  for (const auto& d : loaded.diagnostics.all()) (void)d.format();

  std::string yaml = km::doc::emitYaml(loaded.document);
  (void)km::doc::toJson(loaded.document);
  km::doc::Node again;
  km::doc::Diagnostics diags;
  if (!km::doc::parseYaml(yaml, "roundtrip.yaml", again, diags) || !again.sameValue(loaded.document)) {
    // A document km wrote must read back unchanged; anything else is a writer bug.
    std::abort();
  }
  if (loaded.ok() && !loaded.abstract) {
    km::doc::Node resolved = km::profile::toNode(km::profile::withDefaults(loaded.profile));
    (void)km::doc::emitYaml(resolved);
  }
  return 0;
}
