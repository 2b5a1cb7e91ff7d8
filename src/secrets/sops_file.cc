// parseSopsFile: the document and its `sops` metadata, read the way sops's YAML store and
// stores.Metadata read them.
#include <cctype>

#include "core/strings.h"
#include "doc/diagnostic.h"
#include "doc/yaml_io.h"
#include "secrets/located.h"
#include "secrets/secrets.h"

namespace km::secrets {
namespace {

using doc::Node;

bool digitsAt(std::string_view s, size_t pos, size_t n) {
  if (pos + n > s.size()) return false;
  for (size_t i = pos; i < pos + n; ++i)
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
  return true;
}

// sops authenticates the MAC with lastmodified parsed by Go's time.Parse(time.RFC3339) and
// written back with Format(time.RFC3339): fractional seconds are dropped and a zero offset is
// written "Z". nullopt when `s` is not an RFC 3339 date-time.
std::optional<std::string> rfc3339ForMac(std::string_view s) {
  if (!digitsAt(s, 0, 4) || s.substr(4, 1) != "-" || !digitsAt(s, 5, 2) || s.substr(7, 1) != "-" ||
      !digitsAt(s, 8, 2) || s.substr(10, 1) != "T" || !digitsAt(s, 11, 2) || s.substr(13, 1) != ":" ||
      !digitsAt(s, 14, 2) || s.substr(16, 1) != ":" || !digitsAt(s, 17, 2)) {
    return std::nullopt;
  }
  std::string out(s.substr(0, 19));
  size_t i = 19;
  if (s.substr(i, 1) == ".") {
    size_t j = i + 1;
    while (j < s.size() && std::isdigit(static_cast<unsigned char>(s[j]))) ++j;
    if (j == i + 1) return std::nullopt;
    i = j;
  }
  std::string_view zone = s.substr(i);
  if (zone == "Z") return out + "Z";
  if (zone.size() != 6 || (zone[0] != '+' && zone[0] != '-') || !digitsAt(zone, 1, 2) || zone[3] != ':' ||
      !digitsAt(zone, 4, 2)) {
    return std::nullopt;
  }
  if (zone.substr(1) == "00:00") return out + "Z";
  return out + std::string(zone);
}

Result<std::string> stringField(const Node& value, std::string_view name) {
  if (value.isNull()) return std::string();
  if (!value.isScalar()) return invalidAt(value.mark(), "sops." + std::string(name) + " must be a string");
  return value.text();
}

Status readAgeEntries(const Node& list, std::vector<AgeRecipient>& out) {
  if (list.isNull()) return ok();
  if (!list.isSeq()) return invalidAt(list.mark(), "sops.age must be a list of {recipient, enc} entries");
  for (const Node& item : list.items()) {
    const Node* recipient = item.isMap() ? item.find("recipient") : nullptr;
    const Node* enc = item.isMap() ? item.find("enc") : nullptr;
    if (!recipient || !enc || !recipient->isScalar() || !enc->isScalar() || enc->text().empty()) {
      return invalidAt(item.mark(),
                       "an entry of sops.age needs a `recipient` and an `enc` (the age-encrypted data key)");
    }
    out.push_back({recipient->text(), enc->text(), item.mark().line});
  }
  return ok();
}

// The key types other than age that have entries in `meta` (a metadata map or a key group).
void otherKeyTypes(const Node& meta, std::vector<std::string>& out) {
  static constexpr std::string_view kNotKeys[] = {
      "age", "key_groups", "lastmodified", "mac", "version", "shamir_threshold", "mac_only_encrypted",
      "unencrypted_suffix", "encrypted_suffix", "unencrypted_regex", "encrypted_regex",
      "unencrypted_comment_regex", "encrypted_comment_regex"};
  for (const doc::MapEntry& e : meta.entries()) {
    bool not_key = false;
    for (std::string_view k : kNotKeys) not_key = not_key || e.key == k;
    if (not_key || !e.value.isSeq() || e.value.items().empty()) continue;
    bool seen = false;
    for (const auto& t : out) seen = seen || t == e.key;
    if (!seen) out.push_back(e.key);
  }
}

Status readRules(const Node& meta, SopsFile& f) {
  struct Rule {
    std::string_view key;
    CryptRule rule;
  };
  static constexpr Rule kRules[] = {{"unencrypted_suffix", CryptRule::kUnencryptedSuffix},
                                    {"encrypted_suffix", CryptRule::kEncryptedSuffix},
                                    {"unencrypted_regex", CryptRule::kUnencryptedRegex},
                                    {"encrypted_regex", CryptRule::kEncryptedRegex}};
  int count = 0;
  for (const Rule& r : kRules) {
    const Node* v = meta.find(r.key);
    if (!v) continue;
    auto text = stringField(*v, r.key);
    if (!text) return std::move(text).error();
    if (text->empty()) continue;
    if (++count > 1) {
      return invalidAt(v->mark(), "sops allows only one of unencrypted_suffix, encrypted_suffix, "
                                  "unencrypted_regex and encrypted_regex in a file");
    }
    f.rule = r.rule;
    f.rule_value = *text;
  }
  // Which values these two leave in clear depends on the file's comments, which km's YAML
  // reader does not keep.
  for (std::string_view key : {"unencrypted_comment_regex", "encrypted_comment_regex"}) {
    const Node* v = meta.find(key);
    if (v && !v->isNull() && !v->text().empty()) {
      return invalidAt(v->mark(), "sops." + std::string(key) + " is not supported by km; re-encrypt the file "
                                  "with a key-based rule (unencrypted_suffix, encrypted_regex...)");
    }
  }
  if (const Node* v = meta.find("mac_only_encrypted")) {
    if (!v->isNull() && v->kind() != Node::Kind::kBool) {
      return invalidAt(v->mark(), "sops.mac_only_encrypted must be true or false");
    }
    f.mac_only_encrypted = !v->isNull() && v->asBool();
  }
  return ok();
}

Status readKeys(const Node& meta, SopsFile& f) {
  if (const Node* age = meta.find("age")) KM_TRY(readAgeEntries(*age, f.age));
  otherKeyTypes(meta, f.other_key_types);
  const Node* groups = meta.find("key_groups");
  if (!groups || groups->isNull()) return ok();
  if (!groups->isSeq()) return invalidAt(groups->mark(), "sops.key_groups must be a list");
  if (groups->items().size() > 1) {
    // Several groups split the data key with Shamir's secret sharing.
    return invalidAt(groups->mark(), "this file splits its data key between " +
                                         std::to_string(groups->items().size()) +
                                         " key groups (Shamir secret sharing), which km does not support; "
                                         "re-encrypt it with one group of age recipients");
  }
  for (const Node& group : groups->items()) {
    if (!group.isMap()) return invalidAt(group.mark(), "a key group must be a mapping");
    if (const Node* age = group.find("age")) KM_TRY(readAgeEntries(*age, f.age));
    otherKeyTypes(group, f.other_key_types);
  }
  return ok();
}

}  // namespace

Result<SopsFile> parseSopsFile(std::string_view text, const std::string& source) {
  constexpr size_t kMaxBytes = 1 << 20;
  if (text.size() > kMaxBytes) {
    return invalidArgument(source + ": is " + std::to_string(text.size()) +
                           " bytes; a sops secrets file may be at most 1 MiB");
  }
  Node root;
  doc::Diagnostics diags;
  if (!doc::parseYaml(text, source, root, diags)) {
    std::string first = "not valid YAML";
    size_t errors = 0;
    for (const auto& d : diags.all()) {
      if (!d.isError()) continue;
      if (errors++ == 0) first = d.format();
    }
    if (errors > 1) first += " (and " + std::to_string(errors - 1) + " more errors)";
    return invalidArgument(first + "; a sops file must be the YAML `sops encrypt` writes");
  }
  if (!root.isMap()) {
    return invalidAt(root.mark(), "is not a sops-encrypted YAML file: the document is not a mapping");
  }
  const Node* meta = root.find("sops");
  if (!meta) {
    return invalidArgument(source + ": has no `sops` metadata, so it is not a sops-encrypted file "
                                    "(encrypt it with `sops encrypt`)");
  }
  if (!meta->isMap()) return invalidAt(meta->mark(), "`sops` must be the mapping sops writes");

  SopsFile f;
  f.source = source;
  KM_TRY(readKeys(*meta, f));
  KM_TRY(readRules(*meta, f));
  const Node* modified = meta->find("lastmodified");
  if (!modified || !modified->isScalar() || modified->isNull()) {
    return invalidAt(meta->mark(), "sops.lastmodified is missing");
  }
  auto when = rfc3339ForMac(modified->text());
  if (!when) return invalidAt(modified->mark(), "sops.lastmodified is not an RFC 3339 time");
  f.last_modified = *when;
  if (const Node* mac = meta->find("mac")) {
    auto text_or = stringField(*mac, "mac");
    if (!text_or) return std::move(text_or).error();
    f.mac = *text_or;
    f.mac_line = mac->mark().line;
  }
  f.data = std::move(root);
  f.data.erase("sops");
  return f;
}

}  // namespace km::secrets
