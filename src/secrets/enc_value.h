// One sops-encrypted value, ENC[AES256_GCM,data:<b64>,iv:<b64>,tag:<b64>,type:<type>], and
// opening it with the data key. Private to km::secrets. Pure; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "core/result.h"

namespace km::secrets {

struct EncValue {
  std::string data;  // ciphertext, any length
  std::string iv;    // sops writes 32 bytes; any length from 1 to 64 is accepted, as Go's GCM does
  std::string tag;   // 16 bytes
  std::string type;  // str int float bool bytes comment time (int64 from old versions)
};

// Parses the text of an ENC[...] value. InvalidArgument saying what is wrong (never quoting
// the value) when it is not of that form, a field is not standard padded base64, or the tag
// is not 16 bytes.
[[nodiscard]] Result<EncValue> parseEncValue(std::string_view text);

// Opens `v` with AES-256-GCM under `key` (32 bytes) and the additional data sops bound it to
// (the key path joined with ':' plus a trailing ':', or the lastmodified time for the MAC).
// InvalidArgument when the tag does not match (wrong key, edited value, or moved to another
// key); Internal when OpenSSL fails otherwise.
[[nodiscard]] Result<std::string> openEncValue(const EncValue& v, std::string_view key,
                                               std::string_view additional_data);

}  // namespace km::secrets
