// km::secrets — decrypts a SOPS-encrypted YAML bundle (spec.secrets.sopsFile) on the host into
// environment variables, as `sops decrypt` would: the data key is unwrapped by the `age` CLI,
// values are opened with AES-256-GCM and the MAC is checked. age recipients only (not PGP, KMS);
// values never appear in errors. Thread-compatible, no globals; the functions that say so run `age`.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "doc/node.h"

namespace km::secrets {

// The age identities to try on a file's data key, in order.
struct SopsKeys {
  std::vector<std::string> age_identity_files;  // files of AGE-SECRET-KEY-1... lines
  std::string age_program = "/usr/bin/age";     // Debian's `age` package
};

// The identity files sops itself reads on Linux, for a caller that has none configured:
// $SOPS_AGE_KEY_FILE when it is set (even if the file is missing, so the error names it), then
// $XDG_CONFIG_HOME/sops/age/keys.txt, or $HOME/.config/sops/age/keys.txt without
// XDG_CONFIG_HOME, when that file exists: the environment km runs with, so the keys of the user
// running km. sops's SOPS_AGE_KEY (a key in the variable itself), SOPS_AGE_KEY_CMD and SSH keys
// are not read. `getenv` is ::getenv but for tests.
SopsKeys defaultSopsKeys(const std::function<const char*(const char*)>& getenv = ::getenv);

struct Secret {
  std::string name;   // a top-level key of the file: [A-Za-z_][A-Za-z0-9_]*
  std::string value;  // the decrypted text
};

// The top-level keys of the SOPS YAML `text` in file order, as environment variables. A string,
// int or float value is its decrypted text (exactly the text sops encrypted: a float keeps its
// digits), a bool is "true" or "false"; a key with the unencrypted suffix keeps its value as
// written. `source` names the file in messages. InvalidArgument, naming the file and line,
// when the text is not a sops YAML file, an ENC[...] value is malformed or fails its tag, the
// MAC does not match or is missing, a value is null, a map or a list, or a key is not a valid
// variable name; when no sops.age recipient can be opened with `keys` (the message names the
// recipients and the identity files tried) or the file has no age recipient at all (it names
// the key types it has). Unavailable when `age` cannot be run. Runs `age` (decryptDataKey).
[[nodiscard]] Result<std::vector<Secret>> decryptSopsYaml(std::string_view text, const std::string& source,
                                                          const SopsKeys& keys);

// ---- The steps of decryptSopsYaml, for tests and the fuzzer --------------------------------

struct AgeRecipient {
  std::string recipient;  // age1...
  std::string enc;        // the armored age file holding the 32-byte data key
  uint32_t line = 0;
};

// Which values sops encrypted: those with a key on their path that ends with (suffix) or matches
// (regex) rule_value, or the others (the "unencrypted" rules).
enum class CryptRule { kUnencryptedSuffix, kEncryptedSuffix, kUnencryptedRegex, kEncryptedRegex };

// A parsed sops file: the document and what its `sops` metadata says.
struct SopsFile {
  std::string source;
  doc::Node data;                            // the document without its top-level `sops` key
  std::vector<AgeRecipient> age;             // sops.age, or the one group of sops.key_groups
  std::vector<std::string> other_key_types;  // "pgp", "kms", ... with entries; km cannot use them
  std::string last_modified;                 // as sops authenticates the MAC with it (RFC 3339)
  std::string mac;                           // ENC[...]; "" when the file has none
  uint32_t mac_line = 0;
  CryptRule rule = CryptRule::kUnencryptedSuffix;
  std::string rule_value = "_unencrypted";   // sops's default when no rule is written
  bool mac_only_encrypted = false;
};

// Parses `text` (at most 1 MiB) and its metadata; no key is needed. InvalidArgument with
// file:line for anything that is not a well-formed sops YAML file.
[[nodiscard]] Result<SopsFile> parseSopsFile(std::string_view text, const std::string& source);

// The 32-byte data key: each of file.age is tried with each identity file through
// `age --decrypt` (no shell; armored input on stdin). Errors as decryptSopsYaml's.
[[nodiscard]] Result<std::string> decryptDataKey(const SopsFile& file, const SopsKeys& keys);

// The document with every encrypted value replaced by its plaintext (a scalar of the kind its
// type says) after the MAC is checked. `data_key`: 32 bytes. Errors as decryptSopsYaml's.
[[nodiscard]] Result<doc::Node> decryptSopsTree(const SopsFile& file, std::string_view data_key);

// The top-level entries of a decrypted tree as environment variables (see decryptSopsYaml).
[[nodiscard]] Result<std::vector<Secret>> secretsFromTree(const doc::Node& plain, const std::string& source);

}  // namespace km::secrets
