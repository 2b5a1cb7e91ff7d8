// The request side of metering: reading what an AI request asks for, rewriting its output
// limit byte-exactly, and the admission arithmetic under a budget.
#include <gtest/gtest.h>

#include <string>

#include "doc/json_io.h"
#include "meter/request.h"

namespace km::meter {
namespace {

RequestFacts read(Api api, std::string_view body) {
  auto r = readRequest(api, body);
  EXPECT_TRUE(r) << r.error().message();
  return r ? *r : RequestFacts{};
}

std::string refusal(Api api, std::string_view body) {
  auto r = readRequest(api, body);
  EXPECT_FALSE(r) << body;
  return r ? "" : r.error().message();
}

// `body` parses as JSON and has `key` (a dotted path) equal to `want` (JSON text).
void expectJsonAt(const std::string& body, std::vector<std::string> path, const std::string& want) {
  doc::Node n;
  std::string err;
  ASSERT_TRUE(doc::parseJson(body, n, &err)) << err << "\n" << body;
  const doc::Node* at = &n;
  for (const auto& k : path) {
    at = at->find(k);
    ASSERT_NE(at, nullptr) << k << " in " << body;
  }
  EXPECT_EQ(doc::toJson(*at, -1), want) << body;
}

TEST(ReadRequest, AnthropicMessagesModelLimitStreamAndThinking) {
  std::string body =
      R"({"model":"claude-opus-4-1","max_tokens":64000,"stream":true,)"
      R"("thinking":{"type":"enabled","budget_tokens":32000},"messages":[{"role":"user","content":"hi \"there\""}]})";
  RequestFacts f = read(Api::kAnthropicMessages, body);
  EXPECT_EQ(f.model, "claude-opus-4-1");
  EXPECT_TRUE(f.stream);
  ASSERT_TRUE(f.output_limit.number);
  EXPECT_EQ(*f.output_limit.number, 64000);
  EXPECT_EQ(body.substr(f.output_limit.value->begin, f.output_limit.value->end - f.output_limit.value->begin), "64000");
  ASSERT_TRUE(f.thinking_budget.number);
  EXPECT_EQ(*f.thinking_budget.number, 32000);
}

TEST(ReadRequest, ThinkingThatIsNotEnabledHasNoBudget) {
  RequestFacts f = read(Api::kAnthropicMessages, R"({"model":"m","max_tokens":10,"thinking":{"type":"disabled"}})");
  EXPECT_FALSE(f.thinking_budget.value);
  EXPECT_FALSE(f.stream);
}

TEST(ReadRequest, OpenAiChatPicksTheLimitFieldItUsesAndSeesStreamUsage) {
  RequestFacts f = read(Api::kOpenAiChat, R"({"model":"gpt-5","max_tokens":100,"stream":true})");
  EXPECT_EQ(f.output_limit.path, std::vector<std::string>{"max_tokens"});
  EXPECT_FALSE(f.usage_in_stream);
  f = read(Api::kOpenAiChat, R"({"model":"gpt-5","stream":true,"stream_options":{"include_usage":true}})");
  EXPECT_EQ(f.output_limit.path, std::vector<std::string>{"max_completion_tokens"});
  EXPECT_FALSE(f.output_limit.value);
  EXPECT_TRUE(f.usage_in_stream);
  EXPECT_NE(refusal(Api::kOpenAiChat, R"({"max_tokens":1,"max_completion_tokens":2})").find("send one"),
            std::string::npos);
}

TEST(ReadRequest, ResponsesAndConverseLimits) {
  RequestFacts f = read(Api::kOpenAiResponses, R"({"model":"gpt-5","max_output_tokens":7})");
  EXPECT_EQ(*f.output_limit.number, 7);
  f = read(Api::kBedrockConverse,
           R"({"messages":[],"inferenceConfig":{"maxTokens":900,"temperature":0.5},)"
           R"("additionalModelRequestFields":{"thinking":{"type":"enabled","budget_tokens":2048}}})");
  EXPECT_EQ(*f.output_limit.number, 900);
  EXPECT_EQ(*f.thinking_budget.number, 2048);
  EXPECT_TRUE(f.model.empty());
}

TEST(ReadRequest, RefusesWhatTheProviderCouldReadDifferently) {
  EXPECT_NE(refusal(Api::kAnthropicMessages, R"({"max_tokens":10,"max_tokens":64000})").find("twice"),
            std::string::npos);
  EXPECT_NE(refusal(Api::kAnthropicMessages, R"({"max\u005ftokens":64000})").find("escapes"), std::string::npos);
  EXPECT_NE(refusal(Api::kAnthropicMessages, R"({"model":"a","mod\u0065l":"b","max_tokens":1})").find("escapes"),
            std::string::npos);
  for (const char* v : {"64000.0", "6.4e4", "-1", "\"64000\"", "null", "1099511627776"}) {
    std::string body = std::string(R"({"max_tokens":)") + v + "}";
    EXPECT_NE(refusal(Api::kAnthropicMessages, body).find("whole number"), std::string::npos) << v;
  }
  EXPECT_NE(refusal(Api::kAnthropicMessages,
                    R"({"max_tokens":5000,"thinking":{"type":"enabled","budget_tokens":1.5}})")
                .find("thinking.budget_tokens"),
            std::string::npos);
  EXPECT_NE(refusal(Api::kAnthropicMessages,
                    R"({"max_tokens":5000,"thinking":{"type":"enabled","budget_tokens":1,"budget_tokens":2}})")
                .find("thinking.budget_tokens twice"),
            std::string::npos);
}

TEST(ReadRequest, RefusesLookAlikeKeysACaseFoldingParserWouldMatch) {
  EXPECT_NE(refusal(Api::kAnthropicMessages, R"({"max_tokens":1,"MAX_TOKENS":100000})").find("only in case"),
            std::string::npos);
  EXPECT_NE(refusal(Api::kAnthropicMessages, R"({"max_to\u212Aens":1})").find("only in case"), std::string::npos);
  // A raw Kelvin sign (U+212A) folds onto k in Go's encoding/json.
  EXPECT_NE(refusal(Api::kAnthropicMessages, "{\"max_to\xe2\x84\xaa" "ens\":100000,\"max_tokens\":1}").find("only in case"),
            std::string::npos);
  EXPECT_NE(refusal(Api::kOpenAiChat, "{\"max_completion_token\xc5\xbf\":9,\"max_completion_tokens\":1}").find("only in case"),
            std::string::npos);
}

TEST(ReadRequest, RefusesBackgroundResponsesAndNonAnthropicInvokeBodies) {
  EXPECT_NE(refusal(Api::kOpenAiResponses, R"({"model":"gpt-5","background":true})").find("background"),
            std::string::npos);
  EXPECT_TRUE(readRequest(Api::kOpenAiResponses, R"({"model":"gpt-5","background":false})"));
  EXPECT_NE(refusal(Api::kBedrockInvoke, R"({"prompt":"hi","max_gen_len":512})").find("Converse"), std::string::npos);
  EXPECT_TRUE(readRequest(Api::kBedrockInvoke, R"({"anthropic_version":"bedrock-2023-05-31","max_tokens":5})"));
}

TEST(ReadRequest, NamesInputTheBodyDoesNotCarry) {
  struct Case {
    Api api;
    const char* body;
    bool unsized;
  } cases[] = {
      {Api::kOpenAiResponses, R"({"previous_response_id":"resp_1","input":"go on"})", true},
      {Api::kOpenAiResponses, R"({"prompt":{"id":"pmpt_1"}})", true},
      // A tool's schema with an argument named prompt (Claude Code's Task tool) is no stored prompt.
      {Api::kAnthropicMessages,
       R"({"max_tokens":5,"tools":[{"name":"Task","input_schema":{"type":"object","properties":{"prompt":{"type":"string"}}}}]})",
       false},
      {Api::kOpenAiResponses, R"({"input":[{"type":"input_file","file_id":"file-1"}]})", true},
      {Api::kOpenAiResponses, R"({"input":[{"type":"input_image","image_url":"https://x/y.png"}]})", true},
      {Api::kOpenAiChat, R"({"messages":[{"content":[{"type":"image_url","image_url":{"url":"https://x/y.png"}}]}]})", true},
      {Api::kOpenAiChat, R"({"messages":[{"content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}}]}]})", false},
      {Api::kAnthropicMessages, R"({"max_tokens":5,"tools":[{"type":"web_search_20250305","name":"web_search"}]})", true},
      {Api::kAnthropicMessages, R"({"max_tokens":5,"messages":[{"content":[{"type":"image","source":{"type":"url","url":"https://x"}}]}]})", true},
      {Api::kAnthropicMessages, R"({"max_tokens":5,"mcp_servers":[]})", true},
      // A tool call's own argument named url is the agent's text, not something fetched.
      {Api::kAnthropicMessages, R"({"max_tokens":5,"messages":[{"content":[{"type":"tool_use","name":"WebFetch","input":{"url":"https://x"}}]}]})", false},
      {Api::kAnthropicMessages, R"({"max_tokens":5,"messages":[{"role":"user","content":"see https://x"}]})", false},
      // Stored items by reference, search the provider runs, objects Bedrock reads from S3.
      {Api::kOpenAiResponses, R"({"input":[{"type":"item_reference","id":"msg_1"}]})", true},
      {Api::kOpenAiResponses, R"({"input":[{"role":"user","content":"hi"},{"id":"msg_1"}]})", true},
      {Api::kOpenAiResponses, R"({"input":[{"type":"message","id":"msg_1","role":"user","content":"hi"}]})", false},
      {Api::kOpenAiResponses, R"({"input":[{"id":"msg_1","type":null}]})", true},
      // URL schemes in any case, after spaces, are fetched all the same.
      {Api::kOpenAiResponses, R"({"input":[{"type":"input_image","image_url":"HTTPS://x/y.png"}]})", true},
      {Api::kOpenAiChat, R"({"messages":[{"content":[{"type":"image_url","image_url":{"url":" hTTp://x/y.png"}}]}]})", true},
      {Api::kBedrockConverse, R"({"promptVariables":{"topic":{"text":"x"}}})", true},
      {Api::kOpenAiChat, R"({"model":"gpt-4o-search-preview","web_search_options":{},"messages":[]})", true},
      {Api::kBedrockConverse, R"({"messages":[{"role":"user","content":[{"video":{"format":"mp4","source":{"s3Location":{"uri":"s3://b/k"}}}}]}]})", true},
  };
  for (const auto& c : cases) {
    RequestFacts f = read(c.api, c.body);
    EXPECT_EQ(!f.unsized_input.empty(), c.unsized) << c.body << " -> " << f.unsized_input;
  }
}

TEST(ReadRequest, ConverseOutputLimitsOnlyInInferenceConfig) {
  for (const char* body : {R"({"additionalModelRequestFields":{"max_tokens":64000}})",
                           R"({"additionalModelRequestFields":{"max_new_tokens":5}})",
                           R"({"additionalModelRequestFields":{"maxTokens":5}})",
                           R"({"additionalModelRequestFields":{"max\u005ftokens":5}})"}) {
    auto f = readRequest(Api::kBedrockConverse, body);
    ASSERT_FALSE(f) << body;
    EXPECT_NE(f.error().message().find("set inferenceConfig.maxTokens"), std::string::npos) << f.error().message();
  }
  EXPECT_TRUE(readRequest(Api::kBedrockConverse, R"({"additionalModelRequestFields":{"top_k":5}})"));
}

TEST(ReadRequest, RefusesBodiesThatAreNotOneJsonObject) {
  for (const char* body : {"", "[]", "{", "{\"a\":1,}", "{\"a\":1}x", "{\"a\":[1,}", "{\"a\":tru}",
                           "{\"a\":\"\x01\"}", "{\"a\":01}", "{\"a\":NaN}", "{'a':1}", "{\"a\":1 \"b\":2}",
                           "{\"a\":\"\\x\"}", "{\"a\":[}]}"}) {
    auto r = readRequest(Api::kAnthropicMessages, body);
    EXPECT_FALSE(r) << body;
    if (!r) {
      EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
    }
  }
  std::string deep(600, '[');
  deep = "{\"a\":" + deep + std::string(600, ']') + "}";
  EXPECT_FALSE(readRequest(Api::kAnthropicMessages, deep));
  EXPECT_TRUE(readRequest(Api::kAnthropicMessages, " \n{\"a\":[1,-2.5e3,{\"b\":[true,false,null]}],\"c\":\"\\ud83d\\ude00\"}\t"));
}

TEST(SetInteger, ReplacesTheValueAndKeepsEveryOtherByte) {
  std::string body = R"({ "model" : "m",  "max_tokens" :  64000 , "temperature": 0.30000000000000004 })";
  RequestFacts f = read(Api::kAnthropicMessages, body);
  std::string out = setInteger(body, f.output_limit, 1234);
  EXPECT_EQ(out, R"({ "model" : "m",  "max_tokens" :  1234 , "temperature": 0.30000000000000004 })");
}

TEST(SetInteger, AddsMissingFieldsAndObjects) {
  std::string body = R"({"model":"gpt-5","messages":[]})";
  RequestFacts f = read(Api::kOpenAiChat, body);
  std::string out = setInteger(body, f.output_limit, 500);
  expectJsonAt(out, {"max_completion_tokens"}, "500");
  expectJsonAt(out, {"model"}, "\"gpt-5\"");
  EXPECT_EQ(*read(Api::kOpenAiChat, out).output_limit.number, 500);

  body = R"({"messages":[],"inferenceConfig":{"temperature":0.1}})";
  f = read(Api::kBedrockConverse, body);
  out = setInteger(body, f.output_limit, 77);
  expectJsonAt(out, {"inferenceConfig", "maxTokens"}, "77");
  expectJsonAt(out, {"inferenceConfig", "temperature"}, "0.1");

  body = R"({})";
  f = read(Api::kBedrockConverse, body);
  out = setInteger(body, f.output_limit, 9);
  expectJsonAt(out, {"inferenceConfig", "maxTokens"}, "9");
}

TEST(SetInteger, LowersANestedThinkingBudget) {
  std::string body = R"({"max_tokens":64000,"thinking":{"type":"enabled","budget_tokens":32000}})";
  RequestFacts f = read(Api::kAnthropicMessages, body);
  // The first edit moved bytes: the limit's span must be read again before a second edit.
  RequestFacts again = read(Api::kAnthropicMessages, setInteger(body, f.thinking_budget, 4000));
  std::string out = setInteger(setInteger(body, f.thinking_budget, 4000), again.output_limit, 5000);
  expectJsonAt(out, {"max_tokens"}, "5000");
  expectJsonAt(out, {"thinking", "budget_tokens"}, "4000");
}

TEST(RequestStreamUsage, AddsIncludeUsageKeepingOtherOptions) {
  auto out = requestStreamUsage(R"({"stream":true,"stream_options":{"x":1}})");
  ASSERT_TRUE(out);
  expectJsonAt(*out, {"stream_options", "include_usage"}, "true");
  expectJsonAt(*out, {"stream_options", "x"}, "1");
  out = requestStreamUsage(R"({"stream":true,"stream_options":{"include_usage":false}})");
  ASSERT_TRUE(out);
  expectJsonAt(*out, {"stream_options", "include_usage"}, "true");
  out = requestStreamUsage(R"({"stream":true})");
  ASSERT_TRUE(out);
  EXPECT_TRUE(read(Api::kOpenAiChat, *out).usage_in_stream);
}

// --- admission -----------------------------------------------------------------------------

// claude-opus-4-1 list prices: $15 in, $75 out, $18.75 5m write, $30 1h write, $1.50 read.
const Price kOpus{15'000'000, 75'000'000, 18'750'000, 30'000'000, 1'500'000};

TEST(Admit, UncappedLeavesTheRequestAlone) {
  RequestFacts f = read(Api::kAnthropicMessages, R"({"max_tokens":64000})");
  Admission a = admit(f, 1000, kOpus, INT64_MAX);
  EXPECT_FALSE(a.refused);
  EXPECT_FALSE(a.output_limit);
  EXPECT_EQ(a.reserve, 0);
}

TEST(Admit, ADollarBudgetClampsA64kRequestInsteadOfRefusingIt) {
  RequestFacts f = read(Api::kAnthropicMessages, R"({"max_tokens":64000})");
  Admission a = admit(f, 2'000, kOpus, 1'000'000);
  ASSERT_FALSE(a.refused) << a.reason;
  EXPECT_EQ(a.input_bound_tokens, 2'000 + 4096);
  // input bound: 6096 tokens at the dearest input rate ($30/M, 1h writes) = 182,880 µ$;
  // 817,120 µ$ left buys 10,894 output tokens at $75/M (817,050 µ$).
  EXPECT_TRUE(a.clamped());
  EXPECT_EQ(*a.output_limit, 10'894);
  EXPECT_EQ(a.asked, 64'000);
  EXPECT_EQ(a.reserve, 182'880 + 817'050);
  EXPECT_LE(a.reserve, 1'000'000);
}

TEST(Admit, APlentifulBudgetRewritesTheLimitToItself) {
  RequestFacts f = read(Api::kAnthropicMessages, R"({"max_tokens":100})");
  Admission a = admit(f, 100, kOpus, 50'000'000);
  EXPECT_FALSE(a.refused);
  EXPECT_FALSE(a.clamped());
  ASSERT_TRUE(a.output_limit);
  EXPECT_EQ(*a.output_limit, 100);
  EXPECT_EQ(a.reserve, (int64_t{4196} * 30'000'000 + 999'999) / 1'000'000 + (int64_t{100} * 75'000'000) / 1'000'000);
}

TEST(Admit, ASignedBodyIsNeverChangedOnlyPaidForWholeOrRefused) {
  RequestFacts f = read(Api::kBedrockInvoke, R"({"anthropic_version":"bedrock-2023-05-31","max_tokens":64000,"messages":[]})");
  AdmitOptions fixed;
  fixed.fixed_body = true;
  // $1 pays for 10,894 of the 64,000 output tokens: refused, saying why and what to do.
  Admission a = admit(f, 2'000, kOpus, 1'000'000, fixed);
  EXPECT_TRUE(a.refused);
  EXPECT_FALSE(a.output_limit);
  EXPECT_NE(a.reason.find("pays for 10894 of the 64000 output tokens"), std::string::npos) << a.reason;
  EXPECT_NE(a.reason.find("ai.bedrock.credentialsFile"), std::string::npos) << a.reason;
  // $10 pays for all of it: served as written, the whole limit reserved.
  a = admit(f, 2'000, kOpus, 10'000'000, fixed);
  ASSERT_FALSE(a.refused) << a.reason;
  EXPECT_FALSE(a.output_limit);
  EXPECT_FALSE(a.thinking_budget);
  EXPECT_EQ(a.reserve, 182'880 + 4'800'000);
}

TEST(Admit, AnOpenAiRequestWithoutALimitGetsOneOnlyWhenTheBudgetIsShort) {
  const Price gpt{1'250'000, 10'000'000, 0, 0, 125'000};
  RequestFacts f = read(Api::kOpenAiChat, R"({"model":"gpt-5"})");
  Admission plenty = admit(f, 100, gpt, 100'000'000);
  EXPECT_FALSE(plenty.output_limit) << "128k tokens are affordable: nothing to add";
  EXPECT_EQ(plenty.asked, 128'000);
  Admission short_budget = admit(f, 100, gpt, 100'000);
  ASSERT_TRUE(short_budget.output_limit);
  EXPECT_LT(*short_budget.output_limit, 128'000);
}

TEST(Admit, RefusesWhenTheInputAloneMayNotFitOrTooLittleOutputIsLeft) {
  RequestFacts f = read(Api::kAnthropicMessages, R"({"max_tokens":64000})");
  Admission a = admit(f, 100'000, kOpus, 1'000'000);  // ~$3.1 of input bound
  EXPECT_TRUE(a.refused);
  EXPECT_NE(a.reason.find("km budget add"), std::string::npos) << a.reason;
  EXPECT_EQ(a.reserve, 0);
  // 6,096-token bound = 182,880 µ$; 10,000 µ$ more buys 133 tokens < 256.
  a = admit(f, 2'000, kOpus, 192'880);
  EXPECT_TRUE(a.refused);
  // A request that asks for little output is not refused for the minimum.
  RequestFacts small = read(Api::kAnthropicMessages, R"({"max_tokens":100})");
  EXPECT_FALSE(admit(small, 2'000, kOpus, 192'880).refused);
}

TEST(Admit, UnsizedInputIsBoundedAtAMillionTokens) {
  RequestFacts f = read(Api::kAnthropicMessages,
                        R"({"max_tokens":1000,"tools":[{"type":"web_fetch_20250910","name":"web_fetch"}]})");
  Admission a = admit(f, 100, kOpus, 5'000'000);
  EXPECT_TRUE(a.refused) << "1M tokens of opus input is $30";
  EXPECT_NE(a.reason.find("web_fetch_20250910"), std::string::npos) << a.reason;
  a = admit(f, 100, kOpus, 40'000'000);
  ASSERT_FALSE(a.refused) << a.reason;
  EXPECT_EQ(a.input_bound_tokens, 1'000'000);
}

TEST(Admit, EveryChoiceOfAChatRequestIsPaidFor) {
  const Price gpt{1'250'000, 10'000'000, 0, 0, 125'000};
  RequestFacts f = read(Api::kOpenAiChat, R"({"model":"gpt-5","n":8,"max_completion_tokens":100000})");
  EXPECT_EQ(f.choices, 8);
  Admission a = admit(f, 100, gpt, 1'000'000);
  ASSERT_FALSE(a.refused) << a.reason;
  EXPECT_EQ(a.choices, 8);
  // 4,196-token bound = 5,245 µ$; 994,755 left pays 99,475 output tokens, 12,434 per choice.
  EXPECT_EQ(*a.output_limit, 12'434);
  EXPECT_EQ(a.maxOutput(), 12'434 * 8);
  EXPECT_LE(a.reserve, 1'000'000);
  EXPECT_EQ(a.reserve, 5'245 + 994'720);
}

TEST(Admit, TheThinkingBudgetFollowsTheClampOrTheRequestIsRefused) {
  RequestFacts f = read(Api::kAnthropicMessages,
                        R"({"max_tokens":64000,"thinking":{"type":"enabled","budget_tokens":32000}})");
  Admission a = admit(f, 2'000, kOpus, 1'000'000);
  ASSERT_FALSE(a.refused);
  EXPECT_EQ(*a.output_limit, 10'894);
  ASSERT_TRUE(a.thinking_budget);
  EXPECT_EQ(*a.thinking_budget, 10'893);
  a = admit(f, 2'000, kOpus, 182'880 + 75'000);  // 1,000 output tokens
  EXPECT_TRUE(a.refused);
  EXPECT_NE(a.reason.find("extended thinking"), std::string::npos) << a.reason;
  EXPECT_FALSE(a.output_limit);
}

}  // namespace
}  // namespace km::meter

// --- the provider's own input count, near the ceiling ---------------------------------------
namespace km::meter {
namespace {

TEST(CountTokens, ACountedInputReplacesTheSizeBound) {
  RequestFacts f = read(Api::kAnthropicMessages, R"({"max_tokens":64000})");
  // 50 KB of conversation whose real input is 900 tokens: with the size bound (54,096 tokens
  // at $30/M = $1.62) a $1 budget refuses it; counted, it buys output.
  Admission bound = admit(f, 50'000, kOpus, 1'000'000);
  EXPECT_TRUE(bound.refused);
  Admission counted = admit(f, 50'000, kOpus, 1'000'000, {}, 900);
  ASSERT_FALSE(counted.refused) << counted.reason;
  // Held to the count plus its margin: 900 + 2% + 64 = 982 tokens.
  EXPECT_EQ(counted.input_bound_tokens, 982);
  // 982 × $30/M = 29,460 µ$; 970,540 left buys 12,940 output tokens at $75/M.
  EXPECT_EQ(*counted.output_limit, 12'940);
  EXPECT_EQ(counted.reserve, 29'460 + 970'500);
}

TEST(CountTokens, TheMarginCoversACountThatIsAnEstimate) {
  EXPECT_EQ(countedWithMargin(0), 64);
  EXPECT_EQ(countedWithMargin(10'000), 10'264);
  EXPECT_EQ(countedWithMargin(-5), 64);
  EXPECT_EQ(countedWithMargin(int64_t{1} << 50), (int64_t{1} << 40) + ((int64_t{1} << 40) / 50) + 64);
}

TEST(CountTokens, BedrockCountBodies) {
  // InvokeModel (streamed or not): the body whole, base64.
  auto invoke = bedrockCountBody(Api::kBedrockInvoke, R"({"max_tokens":9,"messages":[]})");
  ASSERT_TRUE(invoke) << invoke.error().message();
  EXPECT_EQ(*invoke, R"({"input":{"invokeModel":{"body":"eyJtYXhfdG9rZW5zIjo5LCJtZXNzYWdlcyI6W119"}}})");
  EXPECT_EQ(*bedrockCountBody(Api::kBedrockInvokeStream, "{}"), R"({"input":{"invokeModel":{"body":"e30="}}})");
  EXPECT_EQ(*bedrockCountBody(Api::kBedrockInvoke, R"({"a":1})"), R"({"input":{"invokeModel":{"body":"eyJhIjoxfQ=="}}})");
  // Converse: the members CountTokens takes, as written.
  auto converse = bedrockCountBody(
      Api::kBedrockConverseStream,
      R"({"messages":[{"role":"user","content":[{"text":"hi"}]}],"inferenceConfig":{"maxTokens":5},)"
      R"("system":[{"text":"be brief"}],"toolConfig":{"tools":[]},"additionalModelRequestFields":{"k":1},"requestMetadata":{}})");
  ASSERT_TRUE(converse) << converse.error().message();
  EXPECT_EQ(*converse, R"({"input":{"converse":{"messages":[{"role":"user","content":[{"text":"hi"}]}],)"
                       R"("system":[{"text":"be brief"}],"toolConfig":{"tools":[]},"additionalModelRequestFields":{"k":1}}}})");
  EXPECT_FALSE(bedrockCountBody(Api::kBedrockConverse, "[1]"));
  EXPECT_FALSE(bedrockCountBody(Api::kAnthropicMessages, "{}"));
}

TEST(CountTokens, BedrockCountsAnInferenceProfileAsItsModel) {
  EXPECT_EQ(bedrockFoundationModel("us.anthropic.claude-sonnet-4-5-20250929-v1:0"), "anthropic.claude-sonnet-4-5-20250929-v1:0");
  EXPECT_EQ(bedrockFoundationModel("global.anthropic.claude-opus-4-1"), "anthropic.claude-opus-4-1");
  EXPECT_EQ(bedrockFoundationModel("anthropic.claude-sonnet-4-5-20250929-v1:0"), "anthropic.claude-sonnet-4-5-20250929-v1:0");
  EXPECT_EQ(bedrockFoundationModel("us."), "us.");
  EXPECT_EQ(bedrockFoundationModel("us.nodot"), "us.nodot");
  EXPECT_EQ(bedrockFoundationModel("arn:aws:bedrock:us-east-1::foundation-model/x"), "arn:aws:bedrock:us-east-1::foundation-model/x");
}

TEST(CountTokens, TheCountBodyKeepsWhatTheEndpointTakes) {
  auto body = anthropicCountBody(
      R"({"model":"claude-opus-4-1","max_tokens":64000,"stream":true,"system":"be brief","temperature":0.2,)"
      R"("messages":[{"role":"user","content":"hi"}],"tools":[{"name":"t","input_schema":{"type":"object"}}],)"
      R"("metadata":{"user_id":"u"},"thinking":{"type":"enabled","budget_tokens":2048},)"
      R"("output_format":{"type":"json_schema","schema":{"type":"object"}},"top_k":5,"service_tier":"auto"})");
  ASSERT_TRUE(body) << body.error().message();
  // Members that may add input (structured output schemas, context management…) stay.
  EXPECT_EQ(*body, R"({"model":"claude-opus-4-1","system":"be brief","messages":[{"role":"user","content":"hi"}],)"
                   R"("tools":[{"name":"t","input_schema":{"type":"object"}}],"thinking":{"type":"enabled","budget_tokens":2048},)"
                   R"("output_format":{"type":"json_schema","schema":{"type":"object"}}})");
  EXPECT_FALSE(anthropicCountBody("[1]"));
  // A key written with escapes could carry JSON of its own into the count: not counted.
  EXPECT_FALSE(anthropicCountBody(R"({"x\":0,\"model\":\"claude-3-haiku":0,"model":"claude-opus-4-1"})"));
  EXPECT_FALSE(bedrockCountBody(Api::kBedrockConverse, R"({"mess\u0061ges":[]})"));
}

TEST(CountTokens, TheAnswerMustCarryAPlainInteger) {
  EXPECT_EQ(*countedInputTokens(R"({"input_tokens": 1234})"), 1234);
  EXPECT_FALSE(countedInputTokens(R"({"input_tokens": -1})"));
  EXPECT_FALSE(countedInputTokens(R"({"input_tokens": 1.5})"));
  EXPECT_FALSE(countedInputTokens(R"({"input_tokens": "12"})"));
  EXPECT_FALSE(countedInputTokens(R"({"input_tokens": 99999999999999999999})"));
  EXPECT_FALSE(countedInputTokens(R"({"tokens": 12})"));
  EXPECT_FALSE(countedInputTokens("not json"));
  EXPECT_EQ(*countedInputTokens(R"({"inputTokens": 77})", "inputTokens"), 77);
  EXPECT_FALSE(countedInputTokens(R"({"input_tokens": 77})", "inputTokens"));
}

}  // namespace
}  // namespace km::meter
