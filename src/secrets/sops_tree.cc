// decryptSopsTree: sops's Tree.Decrypt and the MAC check of `sops decrypt`. The walk visits
// every value in document order (map entries in order, list items in order; comments are not
// part of the MAC); each value either is opened (when the file's rule says sops encrypted it)
// or is taken as written. The MAC is SHA-512 over the bytes of each non-null value, in that
// order (only the encrypted ones when mac_only_encrypted), written as uppercase hex, and
// stored encrypted with the data key and lastmodified as additional data.
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <memory>
#include <optional>

#include "core/strings.h"
#include "doc/diagnostic.h"
#include "doc/pcre2_handles.h"
#include "secrets/enc_value.h"
#include "secrets/located.h"
#include "secrets/secrets.h"
#include "secrets/value_bytes.h"

namespace km::secrets {
namespace {

using doc::Node;

// sha256("sops"): what sops hashes first when mac_only_encrypted is set, so that the MAC of a
// file differs from the MAC of the same file with the setting off.
constexpr unsigned char kMacOnlyEncryptedInit[32] = {
    0x8a, 0x3f, 0xd2, 0xad, 0x54, 0xce, 0x66, 0x52, 0x7b, 0x10, 0x34, 0xf3, 0xd1, 0x47, 0xbe, 0x0b,
    0x0b, 0x97, 0x5b, 0x3b, 0xf4, 0x4f, 0x72, 0xc6, 0xfd, 0xad, 0xec, 0x81, 0x76, 0xf2, 0x7d, 0x69};

struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};

// A Go regexp (encrypted_regex / unencrypted_regex) run with PCRE2: both read the usual
// syntax alike; `$` only at the very end as in Go; searched, not anchored, as regexp.Match.
class KeyRegex {
 public:
  static Result<KeyRegex> compile(const std::string& pattern, const std::string& source) {
    int err = 0;
    PCRE2_SIZE offset = 0;
    doc::Pcre2Code code(pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                      PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | PCRE2_DOLLAR_ENDONLY, &err,
                                      &offset, nullptr));
    if (!code) {
      PCRE2_UCHAR msg[256];
      pcre2_get_error_message(err, msg, sizeof msg);
      return invalidArgument(source + ": the sops key regex " + quoted(pattern) + " does not compile: " +
                             reinterpret_cast<const char*>(msg));
    }
    KeyRegex r;
    r.match_data_.reset(pcre2_match_data_create_from_pattern(code.get(), nullptr));
    r.context_.reset(pcre2_match_context_create(nullptr));
    if (!r.match_data_ || !r.context_) return internalError("out of memory compiling a regex");
    pcre2_set_match_limit(r.context_.get(), 1'000'000);
    r.code_ = std::move(code);
    return r;
  }

  // Whether `key` contains a match; InvalidArgument when the match exceeds the work limit.
  Result<bool> search(std::string_view key) const {
    int rc = pcre2_match(code_.get(), reinterpret_cast<PCRE2_SPTR>(key.data()), key.size(), 0, 0,
                         match_data_.get(), context_.get());
    if (rc >= 0) return true;
    if (rc == PCRE2_ERROR_NOMATCH) return false;
    return invalidArgument("the sops key regex is too costly to match against key " + quoted(key));
  }

 private:
  doc::Pcre2Code code_;
  doc::Pcre2MatchData match_data_;
  doc::Pcre2MatchContext context_;
};

class TreeDecryptor {
 public:
  TreeDecryptor(const SopsFile& file, std::string_view key, EVP_MD_CTX* hash, const KeyRegex* regex)
      : file_(file), key_(key), hash_(hash), regex_(regex) {}

  Status walk(Node& node, std::vector<std::string>& keys, const std::string& shown) {
    if (node.isMap()) {
      for (doc::MapEntry& e : node.entries()) {
        keys.push_back(e.key);
        Status s = walk(e.value, keys, doc::childPath(shown, e.key));
        keys.pop_back();
        KM_TRY(s);
      }
      return ok();
    }
    if (node.isSeq()) {
      // sops's path does not count list positions: every item is bound to the list's key.
      for (size_t i = 0; i < node.items().size(); ++i) KM_TRY(walk(node.items()[i], keys, doc::indexPath(shown, i)));
      return ok();
    }
    return leaf(node, keys, shown);
  }

 private:
  Result<bool> encrypted(const std::vector<std::string>& keys) const {
    bool any = false;
    for (const auto& k : keys) {
      if (regex_) {
        auto m = regex_->search(k);
        if (!m) return std::move(m).error();
        any = any || *m;
      } else {
        any = any || endsWith(k, file_.rule_value);
      }
    }
    bool inverse = file_.rule == CryptRule::kUnencryptedSuffix || file_.rule == CryptRule::kUnencryptedRegex;
    return inverse ? !any : any;
  }

  void hash(std::string_view bytes) { EVP_DigestUpdate(hash_, bytes.data(), bytes.size()); }

  Status leaf(Node& node, const std::vector<std::string>& keys, const std::string& shown) {
    if (node.isNull()) return ok();  // sops neither encrypts nor hashes null
    auto enc = encrypted(keys);
    if (!enc) return invalidAt(node.mark(), enc.error().message());
    if (!*enc) {
      if (file_.mac_only_encrypted) return ok();
      if (auto bytes = plainMacBytes(node)) hash(*bytes);
      return ok();
    }
    if (node.kind() != Node::Kind::kString) {
      return invalidAt(node.mark(), shown + " should be encrypted but holds a plain value: was the file "
                                            "edited without sops?");
    }
    if (node.text().empty()) return ok();  // sops leaves "" as it is and hashes nothing for it
    auto value = parseEncValue(node.text());
    if (!value) return invalidAt(node.mark(), shown + ": " + value.error().message());
    std::string additional = join(keys, ":") + ":";
    auto plain = openEncValue(*value, key_, additional);
    if (!plain) return invalidAt(node.mark(), shown + ": " + plain.error().message());
    auto typed = typedValue(value->type, std::move(*plain));
    if (!typed) return invalidAt(node.mark(), shown + ": " + typed.error().message());
    hash(typed->mac_bytes);
    OPENSSL_cleanse(typed->mac_bytes.data(), typed->mac_bytes.size());
    node = doc::scalarNode(typed->kind, std::move(typed->text), node.mark());
    return ok();
  }

  const SopsFile& file_;
  std::string_view key_;
  EVP_MD_CTX* hash_;
  const KeyRegex* regex_;
};

std::string upperHex(const unsigned char* bytes, size_t n) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    out += kHex[bytes[i] >> 4];
    out += kHex[bytes[i] & 0xf];
  }
  return out;
}

Status checkMac(const SopsFile& file, std::string_view key, const std::string& computed) {
  // The line of sops.mac (its column is not kept).
  auto at = [&](std::string_view message) {
    std::string where = file.source + (file.mac_line ? ":" + std::to_string(file.mac_line) : "");
    return invalidArgument(where + ": " + std::string(message));
  };
  if (file.mac.empty()) {
    return invalidArgument(file.source + ": has no sops.mac, so its integrity cannot be checked (sops "
                                         "itself refuses it without --ignore-mac); re-encrypt it with sops");
  }
  auto value = parseEncValue(file.mac);
  if (!value) return at("sops.mac: " + value.error().message());
  auto stored = openEncValue(*value, key, file.last_modified);
  if (!stored) {
    return at("sops.mac does not match its authentication tag: sops.mac or sops.lastmodified was "
                         "changed; was the file edited without sops?");
  }
  if (stored->size() != computed.size() || CRYPTO_memcmp(stored->data(), computed.data(), computed.size()) != 0) {
    return at("the MAC does not match the file's contents: was the file edited without sops? "
                         "(values, keys or their order changed)");
  }
  return ok();
}

}  // namespace

Result<doc::Node> decryptSopsTree(const SopsFile& file, std::string_view data_key) {
  if (data_key.size() != 32) {
    return invalidArgument(file.source + ": the data key is " + std::to_string(data_key.size()) +
                           " bytes, not 32");
  }
  std::optional<KeyRegex> regex;
  if (file.rule == CryptRule::kEncryptedRegex || file.rule == CryptRule::kUnencryptedRegex) {
    auto compiled = KeyRegex::compile(file.rule_value, file.source);
    if (!compiled) return std::move(compiled).error();
    regex.emplace(std::move(*compiled));
  }
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> md(EVP_MD_CTX_new());
  if (!md || EVP_DigestInit_ex(md.get(), EVP_sha512(), nullptr) != 1) return internalError("SHA-512 setup failed");
  if (file.mac_only_encrypted) EVP_DigestUpdate(md.get(), kMacOnlyEncryptedInit, sizeof kMacOnlyEncryptedInit);

  doc::Node tree = file.data;
  std::vector<std::string> keys;
  TreeDecryptor walker(file, data_key, md.get(), regex ? &*regex : nullptr);
  KM_TRY(walker.walk(tree, keys, ""));

  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (EVP_DigestFinal_ex(md.get(), digest, &n) != 1) return internalError("SHA-512 failed");
  KM_TRY(checkMac(file, data_key, upperHex(digest, n)));
  return tree;
}

}  // namespace km::secrets
