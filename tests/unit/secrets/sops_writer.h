// SopsWriter: writes sops YAML files for tests the way sops does (AES-256-GCM values bound to
// their key path, a SHA-512 MAC over the values in order, encrypted with lastmodified), with
// its own OpenSSL calls so that it does not share code with what it tests. The conformance of
// both to real sops output is checked by sops_conformance_test.cc.
#pragma once

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <memory>
#include <string>
#include <string_view>

#include "core/strings.h"

namespace km::secrets::test {

// A fixed test data key (32 bytes).
inline std::string testDataKey() { return std::string("0123456789abcdef0123456789ABCDEF"); }

class SopsWriter {
 public:
  explicit SopsWriter(std::string key = testDataKey()) : key_(std::move(key)), md_(EVP_MD_CTX_new(), EVP_MD_CTX_free) {
    EVP_DigestInit_ex(md_.get(), EVP_sha512(), nullptr);
  }

  // An ENC[...] of `plain` bound to `additional` ("a:b:"), added to the MAC as `mac_bytes`
  // (defaults to `plain`: right for sops's own str/int/float text).
  std::string value(std::string_view plain, std::string_view additional, std::string_view type = "str",
                    std::string_view mac_bytes = {}, bool hash = true) {
    if (hash) hashBytes(mac_bytes.empty() ? plain : mac_bytes);
    return enc(plain, additional, type);
  }

  // Adds the bytes of a value left in clear to the MAC.
  void hashBytes(std::string_view bytes) { EVP_DigestUpdate(md_.get(), bytes.data(), bytes.size()); }

  std::string enc(std::string_view plain, std::string_view additional, std::string_view type) {
    std::string iv(32, '\0');
    for (size_t i = 0; i < iv.size(); ++i) iv[i] = static_cast<char>(counter_ * 31 + i);
    ++counter_;
    std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> c(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
    auto u = [](std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); };
    int n = 0;
    std::string out(plain.size() + 16, '\0');
    unsigned char tag[16];
    if (EVP_EncryptInit_ex(c.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
        EVP_CIPHER_CTX_ctrl(c.get(), EVP_CTRL_GCM_SET_IVLEN, 32, nullptr) != 1 ||
        EVP_EncryptInit_ex(c.get(), nullptr, nullptr, u(key_), u(iv)) != 1 ||
        EVP_EncryptUpdate(c.get(), nullptr, &n, u(additional), static_cast<int>(additional.size())) != 1 ||
        EVP_EncryptUpdate(c.get(), reinterpret_cast<unsigned char*>(out.data()), &n, u(plain),
                          static_cast<int>(plain.size())) != 1) {
      ADD_FAILURE() << "AES-GCM failed in the test writer";
      return "";
    }
    int tail = 0;
    EVP_EncryptFinal_ex(c.get(), reinterpret_cast<unsigned char*>(out.data()) + n, &tail);
    EVP_CIPHER_CTX_ctrl(c.get(), EVP_CTRL_GCM_GET_TAG, 16, tag);
    out.resize(static_cast<size_t>(n + tail));
    return "ENC[AES256_GCM,data:" + base64Encode(out) + ",iv:" + base64Encode(iv) +
           ",tag:" + base64Encode(std::string_view(reinterpret_cast<char*>(tag), 16)) + ",type:" + std::string(type) +
           "]";
  }

  // The uppercase hex SHA-512 of what was hashed so far (ends the hash).
  std::string macHex() {
    unsigned char d[64];
    unsigned int n = 0;
    EVP_DigestFinal_ex(md_.get(), d, &n);
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string hex;
    for (unsigned i = 0; i < n; ++i) {
      hex += kHex[d[i] >> 4];
      hex += kHex[d[i] & 15];
    }
    return hex;
  }

  // `body` followed by sops metadata: `extra` lines (indented 4, e.g. an age list or a rule),
  // lastmodified and the MAC over everything hashed.
  // `mac_time` is the additional data of the MAC: lastmodified as Go formats it.
  std::string file(const std::string& body, const std::string& extra = "",
                   const std::string& lastmodified = "2024-01-02T03:04:05Z", std::string mac_time = "") {
    std::string mac = enc(macHex(), mac_time.empty() ? lastmodified : mac_time, "str");
    return body + "sops:\n" + extra + "    lastmodified: \"" + lastmodified + "\"\n    mac: " + mac +
           "\n    version: 3.9.0\n";
  }

 private:
  std::string key_;
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> md_;
  int counter_ = 1;
};

}  // namespace km::secrets::test
