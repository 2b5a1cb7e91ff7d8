// AI metering: what an AI request is (provider API, model, streamed or not), the tokens its
// response reports, and their price. Pure (no I/O, no clock): the proxy feeds a response's
// bytes to a ResponseMeter as they pass to the client, and reads the usage when it ends.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/money.h"
#include "core/result.h"

namespace km::meter {

enum class Provider { kAnthropic, kOpenAi, kBedrock };
std::string_view providerName(Provider p);                      // anthropic, openai, bedrock
std::optional<Provider> providerFromName(std::string_view name);
// A Bedrock model id as its foundation model: a system-defined cross-region inference profile
// ("us.anthropic.claude-…", "global.…") without its geographic prefix; anything else as it is.
// What Bedrock prices and counts tokens by.
std::string bedrockFoundationModel(std::string_view model);

enum class Api {
  kOther,                   // not metered (a models list, a file upload…)
  kAnthropicMessages,       // POST /v1/messages
  kAnthropicCountTokens,    // POST /v1/messages/count_tokens (free)
  kOpenAiChat,              // POST /v1/chat/completions
  kOpenAiResponses,         // POST /v1/responses
  kBedrockInvoke,           // POST /model/{id}/invoke
  kBedrockInvokeStream,     // POST /model/{id}/invoke-with-response-stream
  kBedrockConverse,         // POST /model/{id}/converse
  kBedrockConverseStream,   // POST /model/{id}/converse-stream
  kBedrockCountTokens,      // POST /model/{id}/count-tokens (free)
};
std::string_view apiName(Api api);

struct Route {
  Api api = Api::kOther;
  std::string model;  // Bedrock: the model id from the path (URL-decoded); else empty
};
// What a request to `provider` is, by method and path (the query string is ignored).
Route classify(Provider provider, std::string_view method, std::string_view path);
// Whether `api`'s calls cost money (the counting endpoints and kOther do not).
bool billable(Api api);

// Tokens by the kind they are priced at. Input excludes cached input (OpenAI's prompt_tokens
// includes it; km subtracts), output includes reasoning (shown apart as well).
struct Usage {
  int64_t input_tokens = 0;
  int64_t output_tokens = 0;
  int64_t cache_write_5m_tokens = 0;
  int64_t cache_write_1h_tokens = 0;
  int64_t cache_read_tokens = 0;
  int64_t reasoning_tokens = 0;  // part of output_tokens
  int64_t web_search_requests = 0;
  bool operator==(const Usage&) const = default;
};

struct Metered {
  std::string model;       // as the response names it; else the request's
  std::string request_id;  // the provider's id for the call (msg_…, chatcmpl-…, resp_…)
  Usage usage;
  bool input_reported = false;  // the response said how much input it read
  bool complete = false;        // its final usage arrived (else: cut short, counts so far)
  std::string error;            // why the response could not be read further, if it could not
};

// Reads one response's usage from its body as it streams by; never alters or holds up the
// bytes (it sees a copy), and keeps at most a bounded amount of them.
class ResponseMeter {
 public:
  // For a response of `api` with this Content-Type (JSON, text/event-stream, or
  // application/vnd.amazon.eventstream); `model` is the request's (the fallback name).
  static std::unique_ptr<ResponseMeter> create(Api api, std::string_view content_type, std::string model);
  virtual ~ResponseMeter() = default;

  // A response header (Bedrock InvokeModel reports tokens in x-amzn-bedrock-*-token-count).
  void header(std::string_view name, std::string_view value);
  virtual void feed(std::string_view bytes) = 0;
  // The body has ended (or was cut): settles what can be read.
  virtual void finish() {}
  const Metered& result() const { return m_; }

  // A JSON body is read whole, up to this much (an AI response is well under a megabyte;
  // every metered response in flight may hold this much).
  static constexpr size_t kMaxJsonBody = size_t{4} << 20;

 protected:
  explicit ResponseMeter(std::string model) { m_.model = std::move(model); }
  Metered m_;
  std::optional<int64_t> header_input_, header_output_;
};

// Prices in micro-dollars per million tokens (or per request, for web searches).
struct Price {
  Micros input = 0;
  Micros output = 0;
  Micros cache_write_5m = 0;
  Micros cache_write_1h = 0;
  Micros cache_read = 0;
  bool operator==(const Price&) const = default;
};

struct PricedModel {
  std::string model;  // the table's name for it
  Price price;
};

class PriceTable {
 public:
  // The table shipped with km (data/pricing.yaml, compiled in).
  static const PriceTable& builtin();
  // Parses a table in the shipped format; errors name the line and the key.
  [[nodiscard]] static Result<PriceTable> parse(std::string_view yaml, std::string_view origin);
  // This table with `overrides`' entries added or replacing this one's.
  PriceTable overriddenBy(const PriceTable& overrides) const;

  struct Lookup {
    PricedModel priced;
    bool unknown = false;  // not in the table: priced as the provider's most expensive model
  };
  // The price of `model` at `provider`: its entry, else the longest entry that is a prefix of
  // it at a '-', '.', ':' or '@' boundary (dated ids, Bedrock's regional and versioned ids);
  // else the provider's most expensive model, flagged. Empty only when the provider has no
  // entry at all.
  std::optional<Lookup> find(Provider provider, std::string_view model) const;
  Micros webSearchPrice(Provider provider) const;  // per request

  struct Entry {
    Provider provider;
    std::string model;
    Price price;
  };
  const std::vector<Entry>& entries() const { return entries_; }

  // Compute: an instance type's hourly rate, on-demand or spot (the `compute:` section).
  struct ComputeRate {
    Micros per_hour = 0;
    std::string basis;     // what it was priced as: "t3.medium spot", "default on-demand"
    bool unknown = false;  // the type is not in the table: priced at the table's default
  };
  // `instance_type`'s rate (exact name), else the table's `default` rate, flagged; an empty
  // type (a local profile without one) gets the default, unflagged.
  ComputeRate computeRate(std::string_view instance_type, bool spot) const;

 private:
  struct Hourly {
    Micros on_demand = 0;
    Micros spot = 0;
  };
  std::vector<Entry> entries_;
  std::vector<std::pair<Provider, Micros>> web_search_;
  std::vector<std::pair<std::string, Hourly>> instances_;
  std::optional<Hourly> default_rate_;
};

// What `usage` costs at `price`, in micro-dollars, rounded up (never undercharged).
Micros cost(const Usage& usage, const Price& price, Micros web_search_price);

}  // namespace km::meter
