// Fuzzes km::secrets up to the data key (no `age` is run): the ENC[...] value parser, the
// sops file parser, and the tree decryption and MAC check with fixed data keys (the test
// writer's and those of the sops conformance vectors, so that seeds from
// tests/fuzz/seeds/sops/ decrypt and mutations explore the paths after each check).
// Properties: every error says something; a parsed ENC value has a 16-byte tag and an iv of 1
// to 64 bytes; every variable returned has a valid name.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "secrets/enc_value.h"
#include "secrets/secrets.h"
#include "secrets/value_bytes.h"

namespace {

std::string fromHex(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out += static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16));
  }
  return out;
}

const std::string* keys() {
  static const std::string k[] = {
      "0123456789abcdef0123456789ABCDEF",  // tests/unit/secrets/sops_writer.h
      fromHex("af5e68dd342b72c6a0475f81a50da4fde898f4b7742c92cbcf1668211411f4e4"),  // format.enc.yaml
      fromHex("61bec946f5783fd4cea3d1b1ce407fce2b6e81fc301cc539c422015e27f6d1be"),  // comments.enc.yaml
      fromHex("8c68886c50b5b72965a3cb99c5172e1d74a8aca27b39ee880b535d6907e59f68"),  // example.yaml
  };
  return k;
}

template <class R>
void checkError(const R& r) {
  if (!r && r.error().message().empty()) std::abort();
}

bool validName(const std::string& n) {
  if (n.empty() || (n[0] >= '0' && n[0] <= '9')) return false;
  for (char c : n)
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto value = km::secrets::parseEncValue(text);
  checkError(value);
  if (value) {
    if (value->tag.size() != 16 || value->iv.empty() || value->iv.size() > 64) std::abort();
    for (int i = 0; i < 4; ++i) checkError(km::secrets::openEncValue(*value, keys()[i], "A:"));
  }
  // "type:plaintext" for the typed-value conversions.
  size_t colon = text.find(':');
  if (colon != std::string_view::npos && colon < 16) {
    checkError(km::secrets::typedValue(text.substr(0, colon), std::string(text.substr(colon + 1))));
  }

  auto file = km::secrets::parseSopsFile(text, "fuzz.yaml");
  checkError(file);
  if (!file) return 0;
  for (int i = 0; i < 4; ++i) {
    auto tree = km::secrets::decryptSopsTree(*file, keys()[i]);
    checkError(tree);
    if (!tree) continue;
    auto secrets = km::secrets::secretsFromTree(*tree, "fuzz.yaml");
    checkError(secrets);
    if (secrets) {
      for (const auto& s : *secrets)
        if (!validName(s.name)) std::abort();
    }
    break;
  }
  return 0;
}
