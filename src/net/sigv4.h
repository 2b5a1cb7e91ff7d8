// AWS Signature Version 4 for the few requests km makes to AWS itself with the operator's
// credentials (Bedrock's CountTokens near an AI budget's ceiling), and the AWS shared
// credentials file those come from. Pure: the time is passed in; the file is read by the caller.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"

namespace km::net {

struct AwsCredentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // "" for long-term keys
};

// The [profile] section of an AWS shared credentials file (INI: aws_access_key_id,
// aws_secret_access_key, optional aws_session_token; `#` and `;` comments). `origin` names
// the file in errors. InvalidArgument when the section or a key is missing or a value is
// not plain printable ASCII.
[[nodiscard]] Result<AwsCredentials> parseAwsCredentials(std::string_view text, std::string_view profile,
                                                         std::string_view origin);

// Reads `profile` of the credentials file at `path`, refusing one a sandbox could read: a
// sandbox sees the host's root filesystem except /root, /home and `km_home`, so the file (its
// real path, symlinks resolved) must be under one of those, a regular file not readable by
// group or others. Errors name the path and what to change; never a secret.
[[nodiscard]] Result<AwsCredentials> readAwsCredentialsFile(const std::string& path, std::string_view profile,
                                                            const std::string& km_home);

struct SigV4Request {
  std::string_view method;   // "POST"
  std::string_view host;     // the Host field's value, as sent
  std::string_view path;     // as sent: already percent-encoded, starting with '/'
  std::string_view query;    // as sent, without '?': "a=1&b=2" (already percent-encoded); may be ""
  // Header fields to sign besides host and the x-amz-* fields the signature adds (any case;
  // a name given twice is signed as one field with the values joined by commas).
  std::vector<std::pair<std::string, std::string>> headers;
  std::string_view body;
  std::string_view region;   // "us-east-1"
  std::string_view service;  // "bedrock"
};

// The header fields to add to `r` so AWS accepts it as signed by `c` at `now`: X-Amz-Date,
// X-Amz-Content-Sha256, X-Amz-Security-Token (with a session token) and Authorization.
// Signed: r.headers, host and those x-amz-* fields. The canonical path is the path as sent,
// percent-encoded once more (every service but S3 signs it that way).
std::vector<std::pair<std::string, std::string>> sigV4Headers(const SigV4Request& r, const AwsCredentials& c,
                                                               std::chrono::system_clock::time_point now);

// The region of a Bedrock Runtime host name: "bedrock-runtime.us-east-1.amazonaws.com" and
// "bedrock-runtime-fips.us-east-1.amazonaws.com" → "us-east-1"; "" for any other name.
std::string bedrockRegion(std::string_view host);

// RFC 3986 percent-encoding of everything but unreserved characters (and '/' when `keep_slash`).
std::string awsUriEncode(std::string_view s, bool keep_slash);

}  // namespace km::net
