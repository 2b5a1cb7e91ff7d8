#include "secrets/secrets.h"

#include <openssl/crypto.h>

#include <cctype>

#include "core/strings.h"
#include "secrets/located.h"

namespace km::secrets {
namespace {

bool isEnvName(std::string_view name) {
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0]))) return false;
  for (char c : name) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) return false;
  }
  return true;
}

// The data key, wiped when it goes out of scope.
class DataKey {
 public:
  explicit DataKey(std::string key) : key_(std::move(key)) {}
  DataKey(const DataKey&) = delete;
  DataKey& operator=(const DataKey&) = delete;
  ~DataKey() { OPENSSL_cleanse(key_.data(), key_.size()); }
  std::string_view get() const { return key_; }

 private:
  std::string key_;
};

}  // namespace

Result<std::vector<Secret>> secretsFromTree(const doc::Node& plain, const std::string& source) {
  if (!plain.isMap()) return invalidArgument(source + ": the decrypted document is not a mapping of variables");
  std::vector<Secret> out;
  for (const doc::MapEntry& e : plain.entries()) {
    if (!isEnvName(e.key)) {
      return invalidAt(e.key_mark, quoted(escapeForTerminal(e.key, false)) +
                                       " is not an environment variable name ([A-Za-z_][A-Za-z0-9_]*); "
                                       "a secrets bundle holds one variable per top-level key");
    }
    const doc::Node& v = e.value;
    if (v.isMap() || v.isSeq()) {
      return invalidAt(e.key_mark, e.key + " holds " + std::string(v.kindName()) +
                                     ", not a value: a secrets bundle is flat, one variable per top-level key");
    }
    if (v.isNull()) return invalidAt(e.key_mark, e.key + " has no value (null); give it one or remove it");
    out.push_back({e.key, v.text()});
  }
  return out;
}

Result<std::vector<Secret>> decryptSopsYaml(std::string_view text, const std::string& source,
                                            const SopsKeys& keys) {
  auto file = parseSopsFile(text, source);
  if (!file) return std::move(file).error();
  auto unwrapped = decryptDataKey(*file, keys);
  if (!unwrapped) return std::move(unwrapped).error();
  DataKey key(std::move(*unwrapped));
  auto tree = decryptSopsTree(*file, key.get());
  if (!tree) return std::move(tree).error();
  return secretsFromTree(*tree, source);
}

}  // namespace km::secrets
