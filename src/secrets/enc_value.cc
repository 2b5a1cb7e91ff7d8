#include "secrets/enc_value.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <memory>

#include "core/strings.h"

namespace km::secrets {
namespace {

constexpr std::string_view kPrefix = "ENC[AES256_GCM,";
constexpr size_t kTagBytes = 16;
constexpr size_t kMaxIvBytes = 64;

struct CipherCtxFree {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};

// Go's base64.StdEncoding, which sops writes and reads: the standard alphabet, padded to a
// multiple of 4. (core's decoder also takes base64url and missing padding; sops never does.)
bool decodeStdBase64(std::string_view text, std::string& out) {
  if (text.empty() || text.size() % 4 != 0) return false;
  size_t pad = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    bool alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
                 c == '/';
    if (c == '=') {
      if (i + 2 < text.size()) return false;  // padding only in the last two places
      ++pad;
    } else if (!alpha || pad > 0) {
      return false;
    }
  }
  auto decoded = base64Decode(text);
  if (!decoded) return false;
  out = std::move(*decoded);
  return true;
}

// Takes "<name>:<value>" up to `end` (',' or ']') from the front of `rest`.
bool takeField(std::string_view& rest, std::string_view name, char end, std::string_view& value) {
  if (rest.substr(0, name.size()) != name || rest.substr(name.size(), 1) != ":") return false;
  rest.remove_prefix(name.size() + 1);
  size_t stop = rest.find(end);
  if (stop == std::string_view::npos || stop == 0) return false;
  value = rest.substr(0, stop);
  rest.remove_prefix(stop + 1);
  return true;
}

}  // namespace

Result<EncValue> parseEncValue(std::string_view text) {
  const std::string form = "an ENC[AES256_GCM,data:…,iv:…,tag:…,type:…] value";
  if (text.substr(0, kPrefix.size()) != kPrefix) return invalidArgument("not " + form);
  std::string_view rest = text.substr(kPrefix.size());
  std::string_view data, iv, tag, type;
  if (!takeField(rest, "data", ',', data) || !takeField(rest, "iv", ',', iv) ||
      !takeField(rest, "tag", ',', tag) || !takeField(rest, "type", ']', type) || !rest.empty()) {
    return invalidArgument("malformed ENC[...] value: expected " + form);
  }
  EncValue v;
  if (!decodeStdBase64(data, v.data)) return invalidArgument("the data of this ENC[...] value is not base64");
  if (!decodeStdBase64(iv, v.iv)) return invalidArgument("the iv of this ENC[...] value is not base64");
  if (!decodeStdBase64(tag, v.tag)) return invalidArgument("the tag of this ENC[...] value is not base64");
  if (v.iv.empty() || v.iv.size() > kMaxIvBytes) {
    return invalidArgument("the iv of this ENC[...] value is " + std::to_string(v.iv.size()) +
                           " bytes (sops writes 32)");
  }
  if (v.tag.size() != kTagBytes) {
    return invalidArgument("the tag of this ENC[...] value is " + std::to_string(v.tag.size()) +
                           " bytes, not 16");
  }
  v.type = std::string(type);
  return v;
}

Result<std::string> openEncValue(const EncValue& v, std::string_view key, std::string_view additional_data) {
  if (key.size() != 32) return invalidArgument("the data key is " + std::to_string(key.size()) + " bytes, not 32");
  std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree> ctx(EVP_CIPHER_CTX_new());
  if (!ctx) return internalError("EVP_CIPHER_CTX_new failed");
  auto bytes = [](std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); };
  int len = 0;
  if (EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(v.iv.size()), nullptr) != 1 ||
      EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, bytes(key), bytes(v.iv)) != 1 ||
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, bytes(additional_data),
                        static_cast<int>(additional_data.size())) != 1) {
    return internalError("AES-256-GCM setup failed");
  }
  std::string out(v.data.size() + 16, '\0');
  int n = 0;
  if (EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &n, bytes(v.data),
                        static_cast<int>(v.data.size())) != 1) {
    return internalError("AES-256-GCM decryption failed");
  }
  // OpenSSL takes a tag it will not write to, through a non-const pointer.
  std::string tag = v.tag;
  int tail = 0;
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(tag.size()), tag.data()) != 1 ||
      EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(out.data()) + n, &tail) != 1) {
    OPENSSL_cleanse(out.data(), out.size());
    return invalidArgument("the value does not match its authentication tag (wrong data key, or the value "
                           "was edited or moved to another key)");
  }
  out.resize(static_cast<size_t>(n + tail));
  return out;
}

}  // namespace km::secrets
