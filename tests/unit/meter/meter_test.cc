// Usage read from each provider API's responses, written from the providers' public API
// references: the JSON bodies, the SSE events and the Bedrock event-stream chunks they
// document. Every streamed fixture is also fed split at every byte boundary: the counts must
// not depend on how the network cut the stream.
#include <gtest/gtest.h>

#include <string>

#include "meter/event_stream.h"
#include "meter/meter.h"
#include "unit/meter/frames.h"

namespace km::meter {
namespace {

Metered meter(Api api, std::string_view content_type, std::string_view body, std::string model = "",
              std::vector<std::pair<std::string, std::string>> headers = {}) {
  auto m = ResponseMeter::create(api, content_type, std::move(model));
  for (const auto& [k, v] : headers) m->header(k, v);
  m->feed(body);
  m->finish();
  return m->result();
}

// The same result for every two-piece split and byte by byte.
void expectSplitsAgree(Api api, std::string_view type, std::string_view body, const Metered& whole) {
  auto same = [&](const Metered& got, const std::string& how) {
    EXPECT_EQ(got.usage, whole.usage) << how;
    EXPECT_EQ(got.model, whole.model) << how;
    EXPECT_EQ(got.complete, whole.complete) << how;
  };
  for (size_t cut = 0; cut <= body.size(); ++cut) {
    auto m = ResponseMeter::create(api, type, "");
    m->feed(body.substr(0, cut));
    m->feed(body.substr(cut));
    m->finish();
    same(m->result(), "split at " + std::to_string(cut));
  }
  auto m = ResponseMeter::create(api, type, "");
  for (char c : body) m->feed(std::string_view(&c, 1));
  m->finish();
  same(m->result(), "byte by byte");
}

constexpr std::string_view kAnthropicSse =
    "event: message_start\n"
    "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_01XFDUDYJgAACzvnptvVoYEL\",\"type\":\"message\","
    "\"role\":\"assistant\",\"content\":[],\"model\":\"claude-sonnet-4-5-20250929\",\"stop_reason\":null,"
    "\"usage\":{\"input_tokens\":472,\"cache_creation_input_tokens\":2051,\"cache_read_input_tokens\":8000,"
    "\"cache_creation\":{\"ephemeral_5m_input_tokens\":51,\"ephemeral_1h_input_tokens\":2000},\"output_tokens\":2}}}\n"
    "\n"
    "event: content_block_start\n"
    "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n"
    "\n"
    "event: ping\n"
    "data: {\"type\": \"ping\"}\n"
    "\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hello\"}}\n"
    "\n"
    "event: content_block_stop\n"
    "data: {\"type\":\"content_block_stop\",\"index\":0}\n"
    "\n"
    "event: message_delta\n"
    "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},"
    "\"usage\":{\"output_tokens\":15,\"server_tool_use\":{\"web_search_requests\":2}}}\n"
    "\n"
    "event: message_stop\n"
    "data: {\"type\":\"message_stop\"}\n"
    "\n";

TEST(AnthropicMessages, StreamedUsageWithBothCacheWritesAndWebSearches) {
  Metered m = meter(Api::kAnthropicMessages, "text/event-stream; charset=utf-8", kAnthropicSse, "claude-x");
  EXPECT_EQ(m.model, "claude-sonnet-4-5-20250929");
  EXPECT_EQ(m.request_id, "msg_01XFDUDYJgAACzvnptvVoYEL");
  EXPECT_EQ(m.usage.input_tokens, 472);
  EXPECT_EQ(m.usage.cache_write_5m_tokens, 51);
  EXPECT_EQ(m.usage.cache_write_1h_tokens, 2000);
  EXPECT_EQ(m.usage.cache_read_tokens, 8000);
  EXPECT_EQ(m.usage.output_tokens, 15) << "message_delta's count is cumulative and replaces message_start's";
  EXPECT_EQ(m.usage.web_search_requests, 2);
  EXPECT_TRUE(m.complete);
  EXPECT_TRUE(m.input_reported);
  expectSplitsAgree(Api::kAnthropicMessages, "text/event-stream", kAnthropicSse, m);
}

TEST(AnthropicMessages, AStreamCutShortCountsWhatWasDelivered) {
  std::string_view cut = kAnthropicSse.substr(0, kAnthropicSse.find("event: message_delta"));
  Metered m = meter(Api::kAnthropicMessages, "text/event-stream", cut);
  EXPECT_FALSE(m.complete);
  EXPECT_TRUE(m.input_reported);
  EXPECT_EQ(m.usage.input_tokens, 472);
  EXPECT_EQ(m.usage.output_tokens, 2) << "the last count the stream gave";
  // Cut before message_start: nothing reported; the caller charges its request estimate.
  Metered none = meter(Api::kAnthropicMessages, "text/event-stream", "event: message_start\ndata: {\"type\":\"mess");
  EXPECT_FALSE(none.input_reported);
  EXPECT_EQ(none.usage, Usage{});
}

TEST(AnthropicMessages, JsonBodyWithoutTheCacheSplitCountsWritesAsFiveMinute) {
  Metered m = meter(Api::kAnthropicMessages, "application/json",
                    R"({"id":"msg_013Zva2CMHLNnXjNJJKqJ2EF","type":"message","role":"assistant","model":"claude-opus-4-1-20250805",
                        "content":[{"type":"text","text":"Hi"}],"stop_reason":"end_turn",
                        "usage":{"input_tokens":2095,"output_tokens":503,"cache_creation_input_tokens":100,"cache_read_input_tokens":0}})");
  EXPECT_EQ(m.model, "claude-opus-4-1-20250805");
  EXPECT_EQ(m.usage.input_tokens, 2095);
  EXPECT_EQ(m.usage.output_tokens, 503);
  EXPECT_EQ(m.usage.cache_write_5m_tokens, 100);
  EXPECT_EQ(m.usage.cache_write_1h_tokens, 0);
  EXPECT_TRUE(m.complete);
  // A body cut short does not parse: no usage, and the reason.
  Metered cut = meter(Api::kAnthropicMessages, "application/json", R"({"id":"msg_1","usage":{"input_tokens":20)");
  EXPECT_FALSE(cut.complete);
  EXPECT_FALSE(cut.input_reported);
  EXPECT_NE(cut.error.find("does not parse"), std::string::npos);
}

TEST(AnthropicMessages, AJsonBodyOverTheCapIsDroppedNotHeld) {
  auto m = ResponseMeter::create(Api::kAnthropicMessages, "application/json", "m");
  std::string chunk(1 << 20, ' ');
  for (int i = 0; i < 5; ++i) m->feed(chunk);
  m->feed(R"({"usage":{"input_tokens":1,"output_tokens":2}})");
  m->finish();
  EXPECT_EQ(m->result().error, "the JSON body is larger than 4 MiB");
  EXPECT_FALSE(m->result().input_reported);
}

TEST(AnthropicMessages, HostileNumbersCountAsNothing) {
  Metered m = meter(Api::kAnthropicMessages, "application/json",
                    R"({"usage":{"input_tokens":-5,"output_tokens":1.5,"cache_read_input_tokens":"9","cache_creation_input_tokens":99999999999999999999}})");
  EXPECT_EQ(m.usage, Usage{});
}

constexpr std::string_view kOpenAiChatSse =
    "data: {\"id\":\"chatcmpl-123\",\"object\":\"chat.completion.chunk\",\"created\":1694268190,\"model\":\"gpt-4o-2024-08-06\","
    "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}],\"usage\":null}\n\n"
    "data: {\"id\":\"chatcmpl-123\",\"object\":\"chat.completion.chunk\",\"created\":1694268190,\"model\":\"gpt-4o-2024-08-06\","
    "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hello\"},\"finish_reason\":null}],\"usage\":null}\n\n"
    "data: {\"id\":\"chatcmpl-123\",\"object\":\"chat.completion.chunk\",\"created\":1694268190,\"model\":\"gpt-4o-2024-08-06\","
    "\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":null}\n\n"
    "data: {\"id\":\"chatcmpl-123\",\"object\":\"chat.completion.chunk\",\"created\":1694268190,\"model\":\"gpt-4o-2024-08-06\","
    "\"choices\":[],\"usage\":{\"prompt_tokens\":1200,\"completion_tokens\":300,\"total_tokens\":1500,"
    "\"prompt_tokens_details\":{\"cached_tokens\":1024},\"completion_tokens_details\":{\"reasoning_tokens\":0}}}\n\n"
    "data: [DONE]\n\n";

TEST(OpenAiChat, StreamedUsageChunkWithCachedInput) {
  Metered m = meter(Api::kOpenAiChat, "text/event-stream", kOpenAiChatSse);
  EXPECT_EQ(m.model, "gpt-4o-2024-08-06");
  EXPECT_EQ(m.request_id, "chatcmpl-123");
  EXPECT_EQ(m.usage.input_tokens, 176) << "prompt_tokens include the cached ones";
  EXPECT_EQ(m.usage.cache_read_tokens, 1024);
  EXPECT_EQ(m.usage.output_tokens, 300);
  EXPECT_TRUE(m.complete);
  expectSplitsAgree(Api::kOpenAiChat, "text/event-stream", kOpenAiChatSse, m);
  // Without the usage chunk (the client did not ask for it) nothing is reported.
  std::string_view no_usage = kOpenAiChatSse.substr(0, kOpenAiChatSse.find("data: {\"id\":\"chatcmpl-123\",\"object\":\"chat.completion.chunk\",\"created\":1694268190,\"model\":\"gpt-4o-2024-08-06\",\"choices\":[],"));
  Metered partial = meter(Api::kOpenAiChat, "text/event-stream", no_usage);
  EXPECT_FALSE(partial.complete);
  EXPECT_FALSE(partial.input_reported);
}

TEST(OpenAiChat, JsonWithReasoningTokens) {
  Metered m = meter(Api::kOpenAiChat, "application/json",
                    R"({"id":"chatcmpl-abc","object":"chat.completion","model":"o3-2025-04-16","choices":[],
                        "usage":{"prompt_tokens":50,"completion_tokens":900,"total_tokens":950,
                                 "prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},
                                 "completion_tokens_details":{"reasoning_tokens":640,"audio_tokens":0}}})");
  EXPECT_EQ(m.usage.input_tokens, 50);
  EXPECT_EQ(m.usage.output_tokens, 900) << "reasoning is billed as output";
  EXPECT_EQ(m.usage.reasoning_tokens, 640);
  EXPECT_EQ(m.model, "o3-2025-04-16");
}

constexpr std::string_view kResponsesSse =
    "event: response.created\n"
    "data: {\"type\":\"response.created\",\"sequence_number\":0,\"response\":{\"id\":\"resp_67c9fdcecf488190\",\"object\":\"response\","
    "\"status\":\"in_progress\",\"model\":\"gpt-5-2025-08-07\",\"output\":[],\"usage\":null}}\n\n"
    "event: response.output_text.delta\n"
    "data: {\"type\":\"response.output_text.delta\",\"sequence_number\":4,\"item_id\":\"msg_1\",\"output_index\":0,"
    "\"content_index\":0,\"delta\":\"Hi\"}\n\n"
    "event: response.completed\n"
    "data: {\"type\":\"response.completed\",\"sequence_number\":9,\"response\":{\"id\":\"resp_67c9fdcecf488190\","
    "\"object\":\"response\",\"status\":\"completed\",\"model\":\"gpt-5-2025-08-07\",\"output\":[],"
    "\"usage\":{\"input_tokens\":3000,\"input_tokens_details\":{\"cached_tokens\":2048},\"output_tokens\":700,"
    "\"output_tokens_details\":{\"reasoning_tokens\":512},\"total_tokens\":3700}}}\n\n";

TEST(OpenAiResponses, StreamedCompletedEvent) {
  Metered m = meter(Api::kOpenAiResponses, "text/event-stream", kResponsesSse);
  EXPECT_EQ(m.model, "gpt-5-2025-08-07");
  EXPECT_EQ(m.request_id, "resp_67c9fdcecf488190");
  EXPECT_EQ(m.usage.input_tokens, 952);
  EXPECT_EQ(m.usage.cache_read_tokens, 2048);
  EXPECT_EQ(m.usage.output_tokens, 700);
  EXPECT_EQ(m.usage.reasoning_tokens, 512);
  EXPECT_TRUE(m.complete);
  expectSplitsAgree(Api::kOpenAiResponses, "text/event-stream", kResponsesSse, m);
}

TEST(OpenAiResponses, Json) {
  Metered m = meter(Api::kOpenAiResponses, "application/json",
                    R"({"id":"resp_1","object":"response","model":"gpt-4.1-mini","status":"completed",
                        "usage":{"input_tokens":36,"input_tokens_details":{"cached_tokens":0},"output_tokens":87,
                                 "output_tokens_details":{"reasoning_tokens":0},"total_tokens":123}})");
  EXPECT_EQ(m.usage.input_tokens, 36);
  EXPECT_EQ(m.usage.output_tokens, 87);
  EXPECT_TRUE(m.complete);
}

using testing::frame;

std::string base64(std::string_view in) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = static_cast<unsigned char>(in[i]) << 16 | static_cast<unsigned char>(in[i + 1]) << 8 | static_cast<unsigned char>(in[i + 2]);
    for (int k = 18; k >= 0; k -= 6) out.push_back(kAlphabet[(v >> k) & 63]);
  }
  if (size_t rest = in.size() - i; rest > 0) {
    uint32_t v = static_cast<unsigned char>(in[i]) << 16 | (rest == 2 ? static_cast<unsigned char>(in[i + 1]) << 8 : 0);
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out += rest == 2 ? std::string(1, kAlphabet[(v >> 6) & 63]) : "=";
    out += "=";
  }
  return out;
}

std::string chunk(std::string_view inner) { return frame("chunk", "{\"bytes\":\"" + base64(inner) + "\",\"p\":\"abcd\"}"); }

TEST(BedrockInvokeStream, ClaudeChunksAndInvocationMetrics) {
  std::string stream =
      chunk(R"({"type":"message_start","message":{"id":"msg_bdrk_01","model":"claude-3-5-sonnet-20241022","usage":{"input_tokens":1400,"output_tokens":1}}})") +
      chunk(R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}})") +
      chunk(R"({"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":42}})") +
      chunk(R"({"type":"message_stop","amazon-bedrock-invocationMetrics":{"inputTokenCount":1400,"outputTokenCount":42,"invocationLatency":812,"firstByteLatency":301}})");
  const std::string model = "us.anthropic.claude-3-5-sonnet-20241022-v2:0";
  Metered m = meter(Api::kBedrockInvokeStream, "application/vnd.amazon.eventstream", stream, model);
  EXPECT_EQ(m.model, model) << "Bedrock bills the model id of the path";
  EXPECT_EQ(m.usage.input_tokens, 1400);
  EXPECT_EQ(m.usage.output_tokens, 42);
  EXPECT_TRUE(m.complete);
  EXPECT_TRUE(m.error.empty());
  for (size_t cut = 0; cut <= stream.size(); cut += 7) {
    auto r = ResponseMeter::create(Api::kBedrockInvokeStream, "application/vnd.amazon.eventstream", model);
    r->feed(std::string_view(stream).substr(0, cut));
    r->feed(std::string_view(stream).substr(cut));
    EXPECT_EQ(r->result().usage, m.usage) << cut;
  }
  // A corrupted message ends metering there (what came before still counts) and says why.
  std::string bad = stream;
  bad[bad.size() - 10] ^= 0x20;
  Metered b = meter(Api::kBedrockInvokeStream, "application/vnd.amazon.eventstream", bad, model);
  EXPECT_EQ(b.error, "event-stream message CRC mismatch");
  EXPECT_EQ(b.usage.output_tokens, 42) << "the message_delta before the corrupt chunk counted";
  EXPECT_FALSE(b.complete);
}

TEST(BedrockConverseStream, MetadataEvent) {
  std::string stream = frame("messageStart", R"({"role":"assistant","p":"ab"})") +
                       frame("contentBlockDelta", R"({"contentBlockIndex":0,"delta":{"text":"Hi"},"p":"abc"})") +
                       frame("messageStop", R"({"stopReason":"end_turn","p":"a"})") +
                       frame("metadata", R"({"usage":{"inputTokens":25,"outputTokens":310,"totalTokens":335,"cacheReadInputTokens":1000,"cacheWriteInputTokens":64},"metrics":{"latencyMs":1500},"p":"ab"})");
  Metered m = meter(Api::kBedrockConverseStream, "application/vnd.amazon.eventstream", stream, "amazon.nova-pro-v1:0");
  EXPECT_EQ(m.usage.input_tokens, 25);
  EXPECT_EQ(m.usage.output_tokens, 310);
  EXPECT_EQ(m.usage.cache_read_tokens, 1000);
  EXPECT_EQ(m.usage.cache_write_5m_tokens, 64);
  EXPECT_TRUE(m.complete);
  // An exception message carries no usage.
  Metered e = meter(Api::kBedrockConverseStream, "application/vnd.amazon.eventstream",
                    frame("throttlingException", R"({"message":"Too many requests"})", "exception"), "m");
  EXPECT_FALSE(e.complete);
}

TEST(BedrockConverse, Json) {
  Metered m = meter(Api::kBedrockConverse, "application/json",
                    R"({"output":{"message":{"role":"assistant","content":[{"text":"Hi"}]}},"stopReason":"end_turn",
                        "usage":{"inputTokens":125,"outputTokens":60,"totalTokens":185},"metrics":{"latencyMs":900}})",
                    "anthropic.claude-3-haiku-20240307-v1:0");
  EXPECT_EQ(m.usage.input_tokens, 125);
  EXPECT_EQ(m.usage.output_tokens, 60);
  EXPECT_EQ(m.model, "anthropic.claude-3-haiku-20240307-v1:0");
}

TEST(BedrockInvoke, TokenHeadersWin) {
  Metered m = meter(Api::kBedrockInvoke, "application/json",
                    R"({"id":"msg_1","type":"message","model":"claude-3-haiku-20240307","usage":{"input_tokens":10,"output_tokens":20}})",
                    "anthropic.claude-3-haiku-20240307-v1:0",
                    {{"X-Amzn-Bedrock-Input-Token-Count", "11"}, {"X-Amzn-Bedrock-Output-Token-Count", " 21 "},
                     {"x-amzn-RequestId", "7f1c-req"}});
  EXPECT_EQ(m.usage.input_tokens, 11);
  EXPECT_EQ(m.usage.output_tokens, 21);
  EXPECT_EQ(m.request_id, "msg_1");
  EXPECT_TRUE(m.complete);
  // The body names Anthropic's model; the price is the path's Bedrock id's.
  EXPECT_EQ(m.model, "anthropic.claude-3-haiku-20240307-v1:0");
  // A model that is not Claude (its body has no usage): the headers alone.
  Metered titan = meter(Api::kBedrockInvoke, "application/json", R"({"results":[{"outputText":"x"}]})", "amazon.titan-text-express-v1",
                        {{"x-amzn-bedrock-input-token-count", "7"}, {"x-amzn-bedrock-output-token-count", "3"}});
  EXPECT_EQ(titan.usage.input_tokens, 7);
  EXPECT_EQ(titan.usage.output_tokens, 3);
}

TEST(Classify, ByProviderMethodAndPath) {
  EXPECT_EQ(classify(Provider::kAnthropic, "POST", "/v1/messages").api, Api::kAnthropicMessages);
  EXPECT_EQ(classify(Provider::kAnthropic, "POST", "/v1/messages?beta=true").api, Api::kAnthropicMessages);
  EXPECT_EQ(classify(Provider::kAnthropic, "POST", "/v1/messages/count_tokens").api, Api::kAnthropicCountTokens);
  EXPECT_FALSE(billable(Api::kAnthropicCountTokens));
  EXPECT_EQ(classify(Provider::kAnthropic, "GET", "/v1/messages").api, Api::kOther);
  EXPECT_EQ(classify(Provider::kAnthropic, "POST", "/v1/models").api, Api::kOther);
  EXPECT_EQ(classify(Provider::kOpenAi, "POST", "/v1/chat/completions").api, Api::kOpenAiChat);
  EXPECT_EQ(classify(Provider::kOpenAi, "POST", "/v1/responses").api, Api::kOpenAiResponses);
  Route r = classify(Provider::kBedrock, "POST", "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke-with-response-stream");
  EXPECT_EQ(r.api, Api::kBedrockInvokeStream);
  EXPECT_EQ(r.model, "us.anthropic.claude-sonnet-4-5-20250929-v1:0");
  EXPECT_EQ(classify(Provider::kBedrock, "POST", "/model/amazon.nova-pro-v1:0/converse").api, Api::kBedrockConverse);
  EXPECT_EQ(classify(Provider::kBedrock, "POST", "/model/m/converse-stream").api, Api::kBedrockConverseStream);
  EXPECT_EQ(classify(Provider::kBedrock, "POST", "/model/m/invoke").api, Api::kBedrockInvoke);
  EXPECT_EQ(classify(Provider::kBedrock, "POST", "/model/m/count-tokens").api, Api::kBedrockCountTokens);
  Route arn = classify(Provider::kBedrock, "POST",
                       "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2Fus.anthropic.claude-3-haiku-20240307-v1%3A0/converse");
  EXPECT_EQ(arn.api, Api::kBedrockConverse);
  EXPECT_EQ(arn.model, "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-haiku-20240307-v1:0");
  EXPECT_EQ(classify(Provider::kBedrock, "POST", "/model/a%2Fb/invoke").api, Api::kOther) << "a slash smuggled into a plain id";
  EXPECT_EQ(classify(Provider::kBedrock, "POST", "/model/bad%2/invoke").api, Api::kOther);
  EXPECT_EQ(classify(Provider::kBedrock, "POST", "/model//invoke").api, Api::kOther);
}

}  // namespace
}  // namespace km::meter
