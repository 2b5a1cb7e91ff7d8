// The request side of metering: what an AI request asks for (model, output limit, extended
// thinking budget, streaming) read from its JSON body, and the body rewritten with a lower
// output limit. Pure (no I/O). The body is scanned, not rebuilt: an edit replaces one value's
// bytes and leaves every other byte as the client sent it.
//
// Reading is strict where the provider's reading and km's could differ: a key km reads that
// appears twice, a key written with escapes, or a limit that is not a plain non-negative
// integer is an error (the proxy refuses the request), never a guess.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "meter/meter.h"

namespace km::meter {

// A value's bytes in the body: [begin, end).
struct Span {
  size_t begin = 0;
  size_t end = 0;
};

struct Field {
  std::vector<std::string> path;  // keys from the top-level object down
  std::optional<Span> value;      // where it is; nullopt when the body does not have it
  std::optional<int64_t> number;  // its value, when it is a plain integer
};

struct RequestFacts {
  std::string model;            // the body's "model" (empty for Bedrock: the path names it)
  bool stream = false;          // "stream": true
  Field output_limit;           // max_tokens, max_completion_tokens, max_output_tokens, maxTokens
  Field thinking_budget;        // Anthropic extended thinking's budget_tokens (when enabled)
  bool usage_in_stream = true;  // OpenAI Chat streams: stream_options.include_usage is true
  int64_t choices = 1;          // OpenAI Chat's n: each choice has the output limit
  // Why the body's size does not bound the input (content the provider fetches or keeps:
  // files by id, URLs, earlier responses, server tools); "" when it does.
  std::string unsized_input;
};

// Reads `body` as a request of `api` (a billable one). InvalidArgument, saying what is wrong
// and where, for a body that is not a JSON object, a repeated or escaped key km reads (or one
// differing from it only in case), an output limit, thinking budget or n that is not a
// non-negative integer below 2^40, a background Responses request (its output is produced
// later, unseen), and a Bedrock InvokeModel body that is not Anthropic's (other families name
// their limit differently; Converse meters them).
[[nodiscard]] Result<RequestFacts> readRequest(Api api, std::string_view body);

// The body with `field` set to the integer `value` (replaced where it is, else added as the
// first member of its object, the objects on its path made when missing).
std::string setInteger(std::string_view body, const Field& field, int64_t value);
// The body with OpenAI's stream_options.include_usage set to true (so a streamed Chat
// response ends with its usage), other stream_options kept.
[[nodiscard]] Result<std::string> requestStreamUsage(std::string_view body);

// Whether and how a request goes out under a budget with `available` micro-dollars left
// (INT64_MAX: uncapped): the input's cost bounded from above by the body's size (a token is
// at least one byte of the JSON that carries it) plus a fixed allowance for what providers add
// (tool prompts, images by URL), priced at the dearest input rate (cache writes included);
// then the output limit lowered to what the rest pays for. The reservation is both.
struct AdmitOptions {
  int64_t min_output_tokens = 256;       // fewer affordable than this: refused
  int64_t input_allowance_tokens = 4096;  // added to the body's size
  int64_t default_output_tokens = 128000; // assumed when an OpenAI request sets no limit
  int64_t unsized_input_tokens = 1'000'000;  // the input bound when the body's size is none
  // The body must go out as the client wrote it (it is signed: AWS SigV4 covers the body):
  // a call whose output limit the budget cannot pay for whole is refused, not clamped.
  bool fixed_body = false;
};
struct Admission {
  bool refused = false;
  std::string reason;                 // why refused (names the budget and km budget add)
  int64_t input_bound_tokens = 0;
  int64_t asked = 0;                  // the output limit asked for (or assumed)
  std::optional<int64_t> output_limit;   // set the request's limit to this (nullopt: leave it)
  std::optional<int64_t> thinking_budget;  // set budget_tokens to this
  Micros reserve = 0;
  int64_t choices = 1;                // outputs the limit applies to (OpenAI Chat's n)
  // The most output the request can produce as sent.
  int64_t maxOutput() const { return output_limit.value_or(asked) * choices; }
  bool clamped() const { return output_limit && *output_limit < asked; }
};
// `counted_input`: the provider's own count of the request's input (its free token-counting
// endpoint), which replaces the bound from the body's size.
Admission admit(const RequestFacts& facts, size_t body_bytes, const Price& price, Micros available,
                const AdmitOptions& options = {}, std::optional<int64_t> counted_input = std::nullopt);
// The body for Anthropic's POST /v1/messages/count_tokens that counts what the Messages
// request `body` will be billed as input: every member as written but the sampling and
// delivery settings (max_tokens, stream, temperature, top_p, top_k, stop_sequences, metadata,
// service_tier). A member the endpoint does not take makes the count fail, never undercount.
[[nodiscard]] Result<std::string> anthropicCountBody(std::string_view body);
// The body for Bedrock's POST /model/{id}/count-tokens that counts the input of the `api`
// request `body`: InvokeModel's (streamed or not) body whole, base64 in input.invokeModel.body;
// Converse's messages, system, toolConfig and additionalModelRequestFields in input.converse
// (the members CountTokens takes), as written.
[[nodiscard]] Result<std::string> bedrockCountBody(Api api, std::string_view body);
// The input tokens of a token count's answer: Anthropic's `input_tokens`, Bedrock's
// `inputTokens` (`key`). InvalidArgument when it has none that is a plain integer from 0 to 2^40.
[[nodiscard]] Result<int64_t> countedInputTokens(std::string_view answer, std::string_view key = "input_tokens");
// What a provider's count is held to: the count plus a margin (2% and 64 tokens), as
// providers call their counts estimates that may differ slightly from what is billed.
int64_t countedWithMargin(int64_t counted);
// The least any call of a model at `price` may cost as admit() bounds it: the input
// allowance at the dearest input rate plus the minimum output. A budget with less left pays
// for no call of that model.
Micros smallestCall(const Price& price, const AdmitOptions& options = {});
// Anthropic's least extended thinking budget.
inline constexpr int64_t kMinThinkingBudget = 1024;

// Members of the JSON object whose text is `text` (leading and trailing space allowed): each
// key (unescaped) with its value's span, in order. InvalidArgument when `text` is not one
// well-formed JSON object (nesting at most 512 deep).
struct Member {
  std::string key;
  bool escaped = false;  // the key was written with backslash escapes
  Span value;
};
[[nodiscard]] Result<std::vector<Member>> objectMembers(std::string_view text);

}  // namespace km::meter
