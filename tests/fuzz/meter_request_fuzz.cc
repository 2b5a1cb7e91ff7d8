// libFuzzer target for the request side of metering (meter/request.h): the first byte picks
// the API, the rest is the body. Properties: reading never crashes or hangs; a body read once
// reads again after any edit km makes (the output limit, the thinking budget, OpenAI's
// stream usage), with the edited value in place and the model unchanged.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "meter/request.h"

using namespace km::meter;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  static constexpr Api kApis[] = {Api::kAnthropicMessages, Api::kOpenAiChat,      Api::kOpenAiResponses,
                                  Api::kBedrockInvoke,     Api::kBedrockConverse, Api::kBedrockConverseStream};
  Api api = kApis[data[0] % std::size(kApis)];
  std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
  // A count body made from the request is one JSON object of the request's own members (a key
  // written with escapes must not smuggle members of its own into it), without the settings
  // it leaves out.
  if (api == Api::kAnthropicMessages) {
    if (auto count = anthropicCountBody(body)) {
      auto members = objectMembers(*count);
      if (!members) std::abort();
      for (const auto& m : *members) {
        if (m.key == "max_tokens" || m.key == "stream" || m.escaped) std::abort();
      }
    }
  }
  if (api == Api::kBedrockConverse || api == Api::kBedrockConverseStream || api == Api::kBedrockInvoke) {
    if (auto count = bedrockCountBody(api, body); count && !objectMembers(*count)) std::abort();
  }
  auto facts = readRequest(api, body);
  if (!facts) return 0;
  std::string edited = setInteger(body, facts->output_limit, 4242);
  auto again = readRequest(api, edited);
  if (!again || !again->output_limit.number || *again->output_limit.number != 4242 || again->model != facts->model) {
    std::abort();
  }
  if (again->thinking_budget.value) {
    std::string lowered = setInteger(edited, again->thinking_budget, 1024);
    auto third = readRequest(api, lowered);
    if (!third || !third->thinking_budget.number || *third->thinking_budget.number != 1024 ||
        *third->output_limit.number != 4242) {
      std::abort();
    }
  }
  if (api == Api::kOpenAiChat) {
    auto usage = requestStreamUsage(edited);
    if (!usage) std::abort();
    auto read = readRequest(api, *usage);
    if (!read || (read->stream && !read->usage_in_stream)) std::abort();
  }
  return 0;
}
