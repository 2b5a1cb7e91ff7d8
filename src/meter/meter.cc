#include "meter/meter.h"

#include <charconv>

#include "core/strings.h"
#include "doc/json_io.h"
#include "meter/event_stream.h"
#include "meter/sse.h"

namespace km::meter {

std::string_view providerName(Provider p) {
  switch (p) {
    case Provider::kAnthropic: return "anthropic";
    case Provider::kOpenAi: return "openai";
    case Provider::kBedrock: return "bedrock";
  }
  return "?";
}

std::optional<Provider> providerFromName(std::string_view name) {
  for (Provider p : {Provider::kAnthropic, Provider::kOpenAi, Provider::kBedrock}) {
    if (providerName(p) == name) return p;
  }
  return std::nullopt;
}

std::string_view apiName(Api api) {
  switch (api) {
    case Api::kOther: return "other";
    case Api::kAnthropicMessages: return "anthropic.messages";
    case Api::kAnthropicCountTokens: return "anthropic.count_tokens";
    case Api::kOpenAiChat: return "openai.chat";
    case Api::kOpenAiResponses: return "openai.responses";
    case Api::kBedrockInvoke: return "bedrock.invoke";
    case Api::kBedrockInvokeStream: return "bedrock.invoke_stream";
    case Api::kBedrockConverse: return "bedrock.converse";
    case Api::kBedrockConverseStream: return "bedrock.converse_stream";
    case Api::kBedrockCountTokens: return "bedrock.count_tokens";
  }
  return "?";
}

bool billable(Api api) {
  return api != Api::kOther && api != Api::kAnthropicCountTokens && api != Api::kBedrockCountTokens;
}

namespace {

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// %XX decoded; nullopt for a broken escape.
std::optional<std::string> percentDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    int hi = hexValue(s[i + 1]), lo = hexValue(s[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

}  // namespace

Route classify(Provider provider, std::string_view method, std::string_view path) {
  Route r;
  if (size_t q = path.find('?'); q != std::string_view::npos) path = path.substr(0, q);
  if (method != "POST") return r;
  switch (provider) {
    case Provider::kAnthropic:
      if (path == "/v1/messages") r.api = Api::kAnthropicMessages;
      else if (path == "/v1/messages/count_tokens") r.api = Api::kAnthropicCountTokens;
      break;
    case Provider::kOpenAi:
      if (path == "/v1/chat/completions") r.api = Api::kOpenAiChat;
      else if (path == "/v1/responses") r.api = Api::kOpenAiResponses;
      break;
    case Provider::kBedrock: {
      constexpr std::string_view kModel = "/model/";
      if (path.substr(0, kModel.size()) != kModel) break;
      std::string_view rest = path.substr(kModel.size());
      size_t slash = rest.rfind('/');
      if (slash == std::string_view::npos || slash == 0) break;
      std::string_view action = rest.substr(slash + 1);
      auto model = percentDecode(rest.substr(0, slash));
      // A model id, or an ARN (an inference profile's), which holds slashes once decoded.
      if (!model || model->empty() || (model->find('/') != std::string::npos && model->rfind("arn:", 0) != 0)) break;
      if (action == "invoke") r.api = Api::kBedrockInvoke;
      else if (action == "invoke-with-response-stream") r.api = Api::kBedrockInvokeStream;
      else if (action == "converse") r.api = Api::kBedrockConverse;
      else if (action == "converse-stream") r.api = Api::kBedrockConverseStream;
      else if (action == "count-tokens") r.api = Api::kBedrockCountTokens;
      if (r.api != Api::kOther) r.model = std::move(*model);
      break;
    }
  }
  return r;
}

namespace {

constexpr int64_t kMaxTokens = int64_t{1} << 40;  // anything larger is not a token count

// `text` as a token count: a non-negative decimal integer below kMaxTokens, nothing else.
std::optional<int64_t> tokenCount(std::string_view text) {
  int64_t out = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  if (ec != std::errc() || end != text.data() + text.size() || out < 0 || out > kMaxTokens) return std::nullopt;
  return out;
}

// A non-negative integer member of `n` (0 when missing or not one).
int64_t count(const doc::Node* n, std::string_view key) {
  if (n == nullptr || !n->isMap()) return 0;
  const doc::Node* v = n->find(key);
  if (v == nullptr || v->kind() != doc::Node::Kind::kInt) return 0;
  return tokenCount(v->text()).value_or(0);
}

bool has(const doc::Node* n, std::string_view key) {
  return n != nullptr && n->isMap() && n->find(key) != nullptr;
}

std::string text(const doc::Node* n, std::string_view key) {
  if (n == nullptr || !n->isMap()) return "";
  const doc::Node* v = n->find(key);
  return v != nullptr && v->kind() == doc::Node::Kind::kString ? v->text() : "";
}

const doc::Node* member(const doc::Node* n, std::string_view key) {
  return n != nullptr && n->isMap() ? n->find(key) : nullptr;
}

// Anthropic's usage object (also what Bedrock's Claude models return). Values present
// replace earlier ones: message_delta repeats them cumulatively.
void anthropicUsage(const doc::Node* u, Metered& m) {
  if (u == nullptr || !u->isMap()) return;
  if (has(u, "input_tokens")) {
    m.usage.input_tokens = count(u, "input_tokens");
    m.input_reported = true;
  }
  if (has(u, "output_tokens")) m.usage.output_tokens = count(u, "output_tokens");
  if (has(u, "cache_read_input_tokens")) m.usage.cache_read_tokens = count(u, "cache_read_input_tokens");
  const doc::Node* split = member(u, "cache_creation");
  if (split != nullptr && split->isMap()) {
    m.usage.cache_write_5m_tokens = count(split, "ephemeral_5m_input_tokens");
    m.usage.cache_write_1h_tokens = count(split, "ephemeral_1h_input_tokens");
  } else if (has(u, "cache_creation_input_tokens")) {
    m.usage.cache_write_5m_tokens = count(u, "cache_creation_input_tokens");  // 5-minute is the default
    m.usage.cache_write_1h_tokens = 0;
  }
  if (const doc::Node* tools = member(u, "server_tool_use")) {
    if (has(tools, "web_search_requests")) m.usage.web_search_requests = count(tools, "web_search_requests");
  }
}

// Bedrock's invocation metrics (the last chunk of an InvokeModel stream).
void bedrockMetrics(const doc::Node* x, Metered& m) {
  if (x == nullptr || !x->isMap()) return;
  m.usage.input_tokens = count(x, "inputTokenCount");
  m.usage.output_tokens = count(x, "outputTokenCount");
  if (has(x, "cacheReadInputTokenCount")) m.usage.cache_read_tokens = count(x, "cacheReadInputTokenCount");
  if (has(x, "cacheWriteInputTokenCount")) m.usage.cache_write_5m_tokens = count(x, "cacheWriteInputTokenCount");
  m.input_reported = true;
  m.complete = true;
}

// Bedrock Converse's usage object.
void converseUsage(const doc::Node* u, Metered& m) {
  if (u == nullptr || !u->isMap()) return;
  m.usage.input_tokens = count(u, "inputTokens");
  m.usage.output_tokens = count(u, "outputTokens");
  m.usage.cache_read_tokens = count(u, "cacheReadInputTokens");
  m.usage.cache_write_5m_tokens = count(u, "cacheWriteInputTokens");
  m.input_reported = true;
  m.complete = true;
}

// OpenAI's usage: chat (prompt/completion) or responses (input/output) naming.
void openAiUsage(const doc::Node* u, Metered& m) {
  if (u == nullptr || !u->isMap()) return;
  bool chat = has(u, "prompt_tokens");
  int64_t in = count(u, chat ? "prompt_tokens" : "input_tokens");
  int64_t out = count(u, chat ? "completion_tokens" : "output_tokens");
  int64_t cached = count(member(u, chat ? "prompt_tokens_details" : "input_tokens_details"), "cached_tokens");
  int64_t reasoning = count(member(u, chat ? "completion_tokens_details" : "output_tokens_details"), "reasoning_tokens");
  cached = std::min(cached, in);
  m.usage.input_tokens = in - cached;
  m.usage.cache_read_tokens = cached;
  m.usage.output_tokens = out;
  m.usage.reasoning_tokens = std::min(reasoning, out);
  m.input_reported = true;
  m.complete = true;
}

void setModelAndId(const doc::Node* n, std::string_view id_key, Metered& m) {
  if (std::string model = text(n, "model"); !model.empty()) m.model = model;
  if (std::string id = text(n, id_key); !id.empty()) m.request_id = id;
}

// One Anthropic message event (an SSE event's data, or a Bedrock stream chunk's).
void anthropicEvent(const doc::Node& e, Metered& m) {
  std::string type = text(&e, "type");
  if (type == "message_start") {
    const doc::Node* msg = member(&e, "message");
    setModelAndId(msg, "id", m);
    anthropicUsage(member(msg, "usage"), m);
  } else if (type == "message_delta") {
    anthropicUsage(member(&e, "usage"), m);
  } else if (type == "message_stop") {
    m.complete = true;
  }
  // Bedrock adds its own count to the last chunk.
  if (const doc::Node* x = member(&e, "amazon-bedrock-invocationMetrics")) bedrockMetrics(x, m);
}

// A whole JSON response body.
void jsonResponse(Api api, const doc::Node& body, Metered& m) {
  switch (api) {
    case Api::kAnthropicMessages:
    case Api::kBedrockInvoke:  // Claude on Bedrock answers in Anthropic's shape
      if (api == Api::kBedrockInvoke) {
        // Its "model" is Anthropic's name, not the Bedrock id the path named (and is priced by).
        if (std::string id = text(&body, "id"); !id.empty()) m.request_id = id;
      } else {
        setModelAndId(&body, "id", m);
      }
      anthropicUsage(member(&body, "usage"), m);
      if (has(&body, "usage")) m.complete = true;
      break;
    case Api::kOpenAiChat:
    case Api::kOpenAiResponses:
      setModelAndId(&body, "id", m);
      openAiUsage(member(&body, "usage"), m);
      break;
    case Api::kBedrockConverse:
      converseUsage(member(&body, "usage"), m);
      break;
    default:
      break;
  }
}

class JsonMeter final : public ResponseMeter {
 public:
  JsonMeter(Api api, std::string model) : ResponseMeter(std::move(model)), api_(api) {}
  void feed(std::string_view bytes) override {
    if (over_) return;
    if (body_.size() + bytes.size() > kMaxJsonBody) {
      over_ = true;
      body_.clear();
      m_.error = "the JSON body is larger than " + std::to_string(kMaxJsonBody >> 20) + " MiB";
      return;
    }
    body_.append(bytes);
  }
  void finish() override {
    if (!over_ && !body_.empty()) {
      doc::Node n;
      std::string err;
      if (doc::parseJson(body_, n, &err)) {
        jsonResponse(api_, n, m_);
      } else {
        m_.error = "the JSON body does not parse (cut short?): " + err;
      }
      body_.clear();
    }
    applyHeaders();
  }

 private:
  // Bedrock's token headers, when sent, are its own count: they win.
  void applyHeaders() {
    if (!header_input_ || !header_output_) return;
    m_.usage.input_tokens = *header_input_;
    m_.usage.output_tokens = *header_output_;
    m_.input_reported = true;
    m_.complete = true;
  }
  Api api_;
  std::string body_;
  bool over_ = false;
};

class SseMeter final : public ResponseMeter {
 public:
  SseMeter(Api api, std::string model) : ResponseMeter(std::move(model)), api_(api) {}
  void feed(std::string_view bytes) override {
    events_.clear();
    parser_.feed(bytes, events_);
    for (const SseEvent& e : events_) event(e);
    if (parser_.overflowed() && m_.error.empty()) m_.error = "an event is larger than the metering limit";
  }

 private:
  void event(const SseEvent& e) {
    if (e.data == "[DONE]") return;
    doc::Node n;
    if (!doc::parseJson(e.data, n, nullptr) || !n.isMap()) return;  // not ours to judge
    switch (api_) {
      case Api::kAnthropicMessages:
        anthropicEvent(n, m_);
        break;
      case Api::kOpenAiChat:
        // Each chunk names the model and id; the usage chunk (stream_options.include_usage)
        // comes last, with no choices.
        setModelAndId(&n, "id", m_);
        if (const doc::Node* u = member(&n, "usage"); u != nullptr && u->isMap()) openAiUsage(u, m_);
        break;
      case Api::kOpenAiResponses: {
        std::string type = text(&n, "type");
        const doc::Node* resp = member(&n, "response");
        if (resp != nullptr) setModelAndId(resp, "id", m_);
        if ((type == "response.completed" || type == "response.incomplete" || type == "response.failed") && resp) {
          if (const doc::Node* u = member(resp, "usage"); u != nullptr && u->isMap()) openAiUsage(u, m_);
        }
        break;
      }
      default:
        break;
    }
  }
  Api api_;
  SseParser parser_;
  std::vector<SseEvent> events_;
};

// Standard base64 (Bedrock chunks' "bytes"); nullopt on anything else.
std::optional<std::string> base64Decode(std::string_view in) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  while (!in.empty() && in.back() == '=') in.remove_suffix(1);
  std::string out;
  out.reserve(in.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v = value(c);
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  return out;
}

class EventStreamMeter final : public ResponseMeter {
 public:
  EventStreamMeter(Api api, std::string model) : ResponseMeter(std::move(model)), api_(api) {}
  void feed(std::string_view bytes) override {
    messages_.clear();
    parser_.feed(bytes, messages_);
    for (const EventStreamMessage& msg : messages_) message(msg);
    if (!parser_.error().empty() && m_.error.empty()) m_.error = parser_.error();
  }

 private:
  void message(const EventStreamMessage& msg) {
    if (msg.message_type != "event") return;  // exceptions carry no usage
    doc::Node n;
    if (!doc::parseJson(msg.payload, n, nullptr) || !n.isMap()) return;
    if (api_ == Api::kBedrockInvokeStream) {
      if (msg.event_type != "chunk") return;
      auto inner = base64Decode(text(&n, "bytes"));
      doc::Node e;
      if (!inner || !doc::parseJson(*inner, e, nullptr) || !e.isMap()) return;
      std::string keep = m_.model;
      anthropicEvent(e, m_);
      m_.model = keep;  // the path's model id is what Bedrock bills
    } else if (api_ == Api::kBedrockConverseStream) {
      if (msg.event_type == "metadata") converseUsage(member(&n, "usage"), m_);
    }
  }
  Api api_;
  EventStreamParser parser_;
  std::vector<EventStreamMessage> messages_;
};

// The media type alone, lower case ("text/event-stream").
std::string mediaType(std::string_view content_type) {
  std::string out;
  for (char c : content_type.substr(0, content_type.find(';'))) {
    if (c == ' ' || c == '\t') continue;
    out.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
  }
  return out;
}

bool iequals(std::string_view a, std::string_view b) { return equalsIgnoringAsciiCase(a, b); }

}  // namespace

void ResponseMeter::header(std::string_view name, std::string_view value) {
  if (iequals(name, "x-amzn-bedrock-input-token-count")) header_input_ = tokenCount(trim(value));
  else if (iequals(name, "x-amzn-bedrock-output-token-count")) header_output_ = tokenCount(trim(value));
  else if (iequals(name, "x-amzn-requestid") || iequals(name, "request-id") || iequals(name, "x-request-id")) {
    if (m_.request_id.empty() && value.size() <= 200) m_.request_id.assign(value);
  }
}

std::unique_ptr<ResponseMeter> ResponseMeter::create(Api api, std::string_view content_type, std::string model) {
  std::string type = mediaType(content_type);
  if (type == "text/event-stream") return std::make_unique<SseMeter>(api, std::move(model));
  if (type == "application/vnd.amazon.eventstream") return std::make_unique<EventStreamMeter>(api, std::move(model));
  return std::make_unique<JsonMeter>(api, std::move(model));
}

}  // namespace km::meter
