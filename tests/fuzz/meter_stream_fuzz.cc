// libFuzzer target for what metering reads from a response: SSE, AWS event-stream and JSON
// bodies of every metered API. The first byte picks the API and framing; the rest is the
// body. Properties besides "no crash, no UB, no leak": the counts do not depend on where the
// stream was cut into chunks (whole vs. split at a point the input chooses), and never go
// negative.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "meter/meter.h"

using namespace km::meter;

namespace {
void require(bool ok) {
  if (!ok) std::abort();
}

struct Case {
  Api api;
  const char* type;
};
constexpr Case kCases[] = {
    {Api::kAnthropicMessages, "text/event-stream"},
    {Api::kAnthropicMessages, "application/json"},
    {Api::kOpenAiChat, "text/event-stream"},
    {Api::kOpenAiChat, "application/json"},
    {Api::kOpenAiResponses, "text/event-stream"},
    {Api::kOpenAiResponses, "application/json"},
    {Api::kBedrockInvokeStream, "application/vnd.amazon.eventstream"},
    {Api::kBedrockConverseStream, "application/vnd.amazon.eventstream"},
    {Api::kBedrockConverse, "application/json"},
    {Api::kBedrockInvoke, "application/json"},
};

Metered run(const Case& c, std::string_view body, size_t cut) {
  auto m = ResponseMeter::create(c.api, c.type, "model");
  m->feed(body.substr(0, cut));
  m->feed(body.substr(cut));
  m->finish();
  return m->result();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const Case& c = kCases[data[0] % (sizeof kCases / sizeof kCases[0])];
  std::string_view body(reinterpret_cast<const char*>(data + 2), size - 2);
  size_t cut = body.empty() ? 0 : data[1] * body.size() / 255;
  Metered whole = run(c, body, body.size());
  Metered split = run(c, body, cut);
  require(whole.usage == split.usage);
  require(whole.complete == split.complete);
  require(whole.model == split.model);
  const Usage& u = whole.usage;
  require(u.input_tokens >= 0 && u.output_tokens >= 0 && u.cache_read_tokens >= 0 && u.cache_write_5m_tokens >= 0 &&
          u.cache_write_1h_tokens >= 0 && u.reasoning_tokens >= 0 && u.web_search_requests >= 0);
  require(u.reasoning_tokens <= u.output_tokens);
  return 0;
}
