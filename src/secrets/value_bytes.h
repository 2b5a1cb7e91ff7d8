// What sops's Go code makes of a value: the typed plaintext of an ENC[...] value, and the
// bytes each value adds to the file's MAC (Go's strconv formatting: ints in decimal, floats in
// the shortest 'f' form, bools as "True"/"False"). Private to km::secrets. Pure; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"
#include "doc/node.h"

namespace km::secrets {

struct TypedValue {
  doc::Node::Kind kind;   // kString for str, bytes and time
  std::string text;       // the plaintext; a bool as "true" / "false"
  std::string mac_bytes;  // what sops hashes for it
};

// The decrypted `plain` of an ENC value of sops type `type`. InvalidArgument (without the
// value) when the type is unknown, is "comment" (a value is never one), or the plaintext is
// not what its type says (sops refuses those as well).
[[nodiscard]] Result<TypedValue> typedValue(std::string_view type, std::string plain);

// The bytes sops hashes for a value it left unencrypted, as its YAML reader typed the scalar;
// nullopt for null, which sops skips.
std::optional<std::string> plainMacBytes(const doc::Node& scalar);

// Go's strconv.FormatFloat(v, 'f', -1, 64).
std::string goFormatFloat(double v);

}  // namespace km::secrets
