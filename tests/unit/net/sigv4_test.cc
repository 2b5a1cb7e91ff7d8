#include "net/sigv4.h"

#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>

namespace km::net {
namespace {

using std::chrono::system_clock;

system_clock::time_point at(std::time_t t) { return system_clock::from_time_t(t); }

std::map<std::string, std::string> fields(const std::vector<std::pair<std::string, std::string>>& v) {
  return {v.begin(), v.end()};
}

const AwsCredentials kExample{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ""};

// The expected values below were produced by the AWS SDK for JavaScript's own signer
// (@smithy/signature-v4 with uriEscapePath, as the Bedrock Runtime client uses it) for the
// same requests: an independent implementation.
TEST(SigV4, SignsABedrockCountTokensRequestAsTheAwsSdkDoes) {
  SigV4Request r;
  r.method = "POST";
  r.host = "bedrock-runtime.us-east-1.amazonaws.com";
  r.path = "/model/anthropic.claude-sonnet-4-5-20250929-v1%3A0/count-tokens";
  r.headers = {{"Content-Type", " application/json "}};
  r.body = R"({"input":{"invokeModel":{"body":"e30="}}})";
  r.region = "us-east-1";
  r.service = "bedrock";
  auto h = fields(sigV4Headers(r, kExample, at(1440938160)));  // 2015-08-30T12:36:00Z
  EXPECT_EQ(h["X-Amz-Date"], "20150830T123600Z");
  EXPECT_EQ(h["X-Amz-Content-Sha256"], "09f41c6f3cfd305d60fb4f424ce774930ab38a54543887a1f97716c350ab12da");
  EXPECT_EQ(h.count("X-Amz-Security-Token"), 0u);
  EXPECT_EQ(h["Authorization"],
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/bedrock/aws4_request, "
            "SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date, "
            "Signature=0439be9d45e432a69b799a80a70c878315868f1baa43c1aac127da302bea1afb");

  AwsCredentials session = kExample;
  session.session_token = "FwoGZXIvYXdzEXAMPLE";
  h = fields(sigV4Headers(r, session, at(1440938160)));
  EXPECT_EQ(h["X-Amz-Security-Token"], "FwoGZXIvYXdzEXAMPLE");
  EXPECT_EQ(h["Authorization"],
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/bedrock/aws4_request, "
            "SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date;x-amz-security-token, "
            "Signature=8361521551c8aa0517c32b63f2f66dae7b3118e59464a781c79943fdc601ce1f");
}

TEST(SigV4, SignsEveryHeaderGivenNormalisedAsTheAwsSdkDoes) {
  SigV4Request r;
  r.method = "POST";
  r.host = "bedrock-runtime.us-west-2.amazonaws.com";
  r.path = "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke";
  r.headers = {{"X-Fake-Output-Tokens", "  17   tokens\t x "},
               {"Content-Type", "application/json"},
               {"x-amz-user-agent", "aws-sdk-js/3.953.0"},
               {"Accept", "application/json"},
               {"Authorization", "AWS4-HMAC-SHA256 the client's, replaced"},
               {"X-Amz-Date", "20000101T000000Z"}};
  r.body = R"({"max_tokens":5})";
  r.region = "us-west-2";
  r.service = "bedrock";
  AwsCredentials op{"AKIAKMOPERATOR", "km/operator/secret", ""};
  auto h = fields(sigV4Headers(r, op, at(1796614200)));  // 2026-12-07T03:30:00Z
  EXPECT_EQ(h["X-Amz-Date"], "20261207T033000Z");
  EXPECT_EQ(h["Authorization"],
            "AWS4-HMAC-SHA256 Credential=AKIAKMOPERATOR/20261207/us-west-2/bedrock/aws4_request, "
            "SignedHeaders=accept;content-type;host;x-amz-content-sha256;x-amz-date;x-amz-user-agent;"
            "x-fake-output-tokens, Signature=68ce8324ed31ba010997a5d4bbf20e4757489aa721a5982d232c0d9fa576de27");
}

TEST(SigV4, SortsTheQueryAndEncodesThePathTwice) {
  SigV4Request r;
  r.method = "GET";
  r.host = "example.amazonaws.com";
  r.path = "/a%20b/c~d";
  r.query = "b=2&a=1%20x";
  r.region = "eu-west-3";
  r.service = "service";
  auto h = fields(sigV4Headers(r, kExample, at(1796612645)));  // 2026-12-07T03:04:05Z
  EXPECT_EQ(h["X-Amz-Date"], "20261207T030405Z");
  EXPECT_EQ(h["Authorization"],
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261207/eu-west-3/service/aws4_request, "
            "SignedHeaders=host;x-amz-content-sha256;x-amz-date, "
            "Signature=dd65735ab5d68240e627fa39c22b2bfd5edd1bd18bbbba3ad4a8fe8bc56e589e");
  // One byte of the body changes the signature.
  r.body = "x";
  EXPECT_NE(fields(sigV4Headers(r, kExample, at(1796612645)))["Authorization"], h["Authorization"]);
}

TEST(SigV4, UriEncodeKeepsOnlyUnreservedCharacters) {
  EXPECT_EQ(awsUriEncode("a-b_c.d~e", false), "a-b_c.d~e");
  EXPECT_EQ(awsUriEncode("us.anthropic.claude:0", false), "us.anthropic.claude%3A0");
  EXPECT_EQ(awsUriEncode("arn:aws:bedrock:us-east-1::foundation-model/x", false),
            "arn%3Aaws%3Abedrock%3Aus-east-1%3A%3Afoundation-model%2Fx");
  EXPECT_EQ(awsUriEncode("/a b/?#", true), "/a%20b/%3F%23");
  EXPECT_EQ(awsUriEncode("\xff", false), "%FF");
}

TEST(SigV4, RegionOfBedrockRuntimeHostsOnly) {
  EXPECT_EQ(bedrockRegion("bedrock-runtime.us-east-1.amazonaws.com"), "us-east-1");
  EXPECT_EQ(bedrockRegion("bedrock-runtime-fips.us-gov-west-1.amazonaws.com"), "us-gov-west-1");
  EXPECT_EQ(bedrockRegion("bedrock.us-east-1.amazonaws.com"), "");
  EXPECT_EQ(bedrockRegion("bedrock-runtime..amazonaws.com"), "");
  EXPECT_EQ(bedrockRegion("bedrock-runtime.us-east-1.amazonaws.com.evil.example"), "");
  EXPECT_EQ(bedrockRegion("bedrock-runtime.a/b.amazonaws.com"), "");
  EXPECT_EQ(bedrockRegion("llm.internal"), "");
}

TEST(AwsCredentialsFile, ReadsTheNamedProfile) {
  constexpr std::string_view kFile =
      "# written by aws configure\n"
      "[default]\n"
      "aws_access_key_id = AKIADEFAULT\n"
      "aws_secret_access_key = secretdefault\n"
      "\n"
      "[km]\r\n"
      "; comment\r\n"
      "AWS_ACCESS_KEY_ID=AKIAKM\r\n"
      "aws_secret_access_key=secret/km+\r\n"
      "aws_session_token = tok\r\n"
      "region = us-east-1\r\n";
  auto d = parseAwsCredentials(kFile, "default", "creds");
  ASSERT_TRUE(d) << d.error().message();
  EXPECT_EQ(d->access_key_id, "AKIADEFAULT");
  EXPECT_EQ(d->secret_access_key, "secretdefault");
  EXPECT_EQ(d->session_token, "");
  auto k = parseAwsCredentials(kFile, "km", "creds");
  ASSERT_TRUE(k) << k.error().message();
  EXPECT_EQ(k->access_key_id, "AKIAKM");
  EXPECT_EQ(k->secret_access_key, "secret/km+");
  EXPECT_EQ(k->session_token, "tok");
}

TEST(AwsCredentialsFile, SaysWhatIsMissingWithoutShowingSecrets) {
  auto none = parseAwsCredentials("[other]\naws_access_key_id=A\naws_secret_access_key=B\n", "default", "/x/creds");
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().message().find("/x/creds has no [default] section"), std::string::npos);
  auto half = parseAwsCredentials("[default]\naws_access_key_id=A\n", "default", "c");
  ASSERT_FALSE(half);
  EXPECT_NE(half.error().message().find("needs both"), std::string::npos);
  auto bad = parseAwsCredentials("[default]\naws_access_key_id=A\naws_secret_access_key=top secret\n", "default", "c");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("c:3: aws_secret_access_key is not one word"), std::string::npos);
  EXPECT_EQ(bad.error().message().find("top secret"), std::string::npos);
  auto header = parseAwsCredentials("[default\n", "default", "c");
  ASSERT_FALSE(header);
  EXPECT_NE(header.error().message().find("c:1:"), std::string::npos);
}

}  // namespace
}  // namespace km::net

namespace km::net {
namespace {

// Files a sandbox could read are refused: outside /root, /home and KM_HOME, or readable by
// others. (Run as root: a directory under /root is made for the test and removed.)
class AwsCredentialsFileOnDisk : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/km-sigv4-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    home_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(home_); }
  std::string write(const std::string& path, mode_t mode) {
    std::ofstream(path) << "[default]\naws_access_key_id=AKIA1\naws_secret_access_key=s1\n";
    ::chmod(path.c_str(), mode);
    return path;
  }
  std::string home_;
};

TEST_F(AwsCredentialsFileOnDisk, OnlyWhereSandboxesCannotReadIt) {
  std::string inside = write(home_ + "/creds", 0600);
  auto ok = readAwsCredentialsFile(inside, "default", home_);
  ASSERT_TRUE(ok) << ok.error().message();
  EXPECT_EQ(ok->access_key_id, "AKIA1");
  // The same file when KM_HOME is elsewhere (/tmp is private in a sandbox, but km does not
  // count on it for this).
  auto outside = readAwsCredentialsFile(inside, "default", "/nonexistent-km-home");
  ASSERT_FALSE(outside);
  EXPECT_NE(outside.error().message().find("move it under /root"), std::string::npos) << outside.error().message();
  // Group- or world-readable.
  write(inside, 0640);
  auto loose = readAwsCredentialsFile(inside, "default", home_);
  ASSERT_FALSE(loose);
  EXPECT_NE(loose.error().message().find("chmod 600"), std::string::npos);
  // A symlink under KM_HOME to a file elsewhere is judged by where the file is.
  std::string elsewhere = home_ + "-elsewhere";
  ASSERT_EQ(::mkdir(elsewhere.c_str(), 0700), 0);
  write(elsewhere + "/creds", 0600);
  ASSERT_EQ(::symlink((elsewhere + "/creds").c_str(), (home_ + "/link").c_str()), 0);
  auto linked = readAwsCredentialsFile(home_ + "/link", "default", home_);
  std::filesystem::remove_all(elsewhere);
  ASSERT_FALSE(linked);
  EXPECT_NE(linked.error().message().find("move it under"), std::string::npos);
  // Missing.
  auto missing = readAwsCredentialsFile(home_ + "/none", "default", home_);
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message().find(home_ + "/none"), std::string::npos);
  // A KM_HOME prefix that is not a directory boundary does not count.
  auto prefix = readAwsCredentialsFile(inside, "default", home_.substr(0, home_.size() - 2));
  EXPECT_FALSE(prefix);
}

}  // namespace
}  // namespace km::net
