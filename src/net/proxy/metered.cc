// Metered AI exchanges: admission (body read, budget checked, output limit clamped, cost
// reserved), the response read on a copy of its bytes, and the settlement.
#include "net/proxy/metered.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include "core/strings.h"
#include "net/host_rule.h"
#include "net/sigv4.h"
#include "net/proxy/budget_wait.h"
#include "net/proxy/server.h"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace km::net::proxy {
namespace {

constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
constexpr size_t kBodyStep = 64 << 10;

std::string jsonString(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u >= 0x7f) {
      static const char* kHex = "0123456789abcdef";
      out += "\\u00";
      out += kHex[u >> 4];
      out += kHex[u & 15];
    } else {
      out += c;
    }
  }
  return out + "\"";
}

// An error the provider's SDKs read as their own: Anthropic's and OpenAI's error objects,
// Bedrock's message with its x-amzn-ErrorType header.
struct ProviderError {
  std::string body;
  std::string headers;  // extra header lines, each ending in \r\n
};
ProviderError providerError(meter::Provider p, unsigned status, std::string_view message) {
  std::string msg = jsonString("km: " + std::string(message));
  switch (p) {
    case meter::Provider::kAnthropic: {
      std::string type = status == 400   ? "invalid_request_error"
                         : status == 413 ? "request_too_large"
                         : status == 503 ? "overloaded_error"
                                         : "permission_error";
      return {R"({"type":"error","error":{"type":")" + type + R"(","message":)" + msg + "}}", ""};
    }
    case meter::Provider::kOpenAi: {
      std::string type = status == 400 || status == 413 ? "invalid_request_error"
                         : status == 503                ? "server_error"
                                                        : "insufficient_quota";
      return {R"({"error":{"message":)" + msg + R"(,"type":")" + type + R"(","param":null,"code":"km_budget"}})", ""};
    }
    case meter::Provider::kBedrock: {
      std::string type = status == 400 || status == 413 ? "ValidationException"
                         : status == 503                ? "ServiceUnavailableException"
                                                        : "AccessDeniedException";
      return {R"({"message":)" + msg + "}", "x-amzn-ErrorType: " + type + "\r\n"};
    }
  }
  return {msg, ""};
}

template <class Stream>
asio::awaitable<void> answerError(Session& s, Stream& client, meter::Provider p, unsigned status,
                                  const std::string& reason, audit::HttpRecord& rec) {
  ProviderError e = providerError(p, status, reason);
  std::string_view type = "application/json";
  rec.status = static_cast<uint16_t>(status);
  rec.reason = reason;
  rec.decision = audit::Decision::kDeny;
  ++s.shared.denied;
  co_await refuseHttpOn(s, client, status, reason, type, e.body, e.headers);
}

struct Settled {};

// POSTs to a provider that cost nothing and km need not read (uploads, counting, telemetry).
bool freeWrite(meter::Provider p, std::string_view path) {
  size_t q = path.find('?');
  if (q != std::string_view::npos) path = path.substr(0, q);
  switch (p) {
    case meter::Provider::kAnthropic:
      return path == "/v1/files" || path.starts_with("/api/event_logging/");
    case meter::Provider::kOpenAi:
      return path == "/v1/files" || path == "/v1/moderations";
    case meter::Provider::kBedrock:
      return false;
  }
  return false;
}

// Reads the rest of the request's body into `body`, up to `max` bytes. 0 when read; else the
// status to answer with (413 too large; 422 trailer fields, with *why: refused, as they would
// reach the provider as headers km did not check; 400 unreadable, with *why, unanswered).
template <class Client>
asio::awaitable<unsigned> readBody(Session& s, Client& client, RequestParser& parser, MeteredCall& call, size_t max,
                                   std::string& body, std::string* why) {
  if (auto n = parser.content_length(); n && *n > max) co_return 413;
  const auto fields_before = std::distance(parser.get().begin(), parser.get().end());
  auto& in = beast::get_lowest_layer(client);
  while (!parser.is_done()) {
    size_t used = body.size();
    if (!call.count(kBodyStep, s.shared.options.metering->max_bodies_in_flight)) co_return 503;
    body.resize(used + kBodyStep);
    parser.get().body().data = body.data() + used;
    parser.get().body().size = kBodyStep;
    in.expires_after(s.shared.options.idle_timeout);
    auto [ec, n] = co_await http::async_read_some(client, s.buf, parser, kNoThrow);
    in.expires_never();
    if (ec == http::error::need_buffer) ec = {};
    call.uncount(parser.get().body().size);  // what the read did not fill is not held
    body.resize(used + kBodyStep - parser.get().body().size);
    if (ec) {
      *why = "reading the request body: " + ec.message();
      co_return 400;
    }
    if (body.size() > max) co_return 413;
  }
  if (std::distance(parser.get().begin(), parser.get().end()) != fields_before) {
    *why = "trailer fields after a metered request's body are refused (km would send them on as headers)";
    co_return 422;
  }
  co_return 0;
}

// Why a provider's server (or a gateway before it) could read the path as another one: dot
// segments (raw or percent-encoded, or with ;parameters), an encoded percent (decoded twice),
// a backslash (raw or encoded), an encoded slash (but in Bedrock's model ids, which are ARNs
// with their slashes encoded: their decoded parts are checked for dot segments too); "" when
// none. km matches the path as written, so /api/event_logging/../../v1/messages must not
// pass as telemetry.
std::string ambiguousPath(std::string_view target, bool encoded_slashes) {
  std::string_view path = target.substr(0, target.find('?'));
  std::string lower = toLower(path);
  if (lower.find("%5c") != std::string::npos || lower.find('\\') != std::string::npos) return "a backslash";
  if (lower.find("%25") != std::string::npos) return "an encoded percent sign";
  if (!encoded_slashes && lower.find("%2f") != std::string::npos) return "an encoded slash";
  std::string plain;  // dots and slashes decoded
  for (size_t i = 0; i < lower.size(); ++i) {
    if (lower.compare(i, 3, "%2e") == 0 || lower.compare(i, 3, "%2f") == 0) {
      plain += lower[i + 2] == 'e' ? '.' : '/';
      i += 2;
    } else {
      plain += lower[i];
    }
  }
  for (const std::string& seg : split(plain, '/')) {
    std::string_view name = std::string_view(seg).substr(0, seg.find(';'));
    if (name == "." || name == "..") return "a dot segment";
  }
  return "";
}

bool bedrockCall(meter::Api api) {
  return api == meter::Api::kBedrockInvoke || api == meter::Api::kBedrockInvokeStream ||
         api == meter::Api::kBedrockConverse || api == meter::Api::kBedrockConverseStream;
}

// How a Bedrock call is signed, and the operator's credentials km signs with (ai.bedrock).
struct Signing {
  bool client_signed = false;              // AWS SigV4 by the client: its body may not change
  bool presigned = false;                  // in the query (km does not sign those again)
  std::vector<std::string> signed_names;   // the client's SignedHeaders
  std::optional<net::AwsCredentials> creds;
  std::string region;
  // km replaces the client's signature with its own (so it may lower the output limit).
  bool resign() const { return client_signed && !presigned && creds.has_value(); }
  bool signs(std::string_view name) const {
    return std::find(signed_names.begin(), signed_names.end(), name) != signed_names.end();
  }
};

Signing bedrockSigning(const Metering& m, meter::Provider provider, const http::fields& msg, const CheckedRequest& req,
                       audit::HttpRecord& rec) {
  Signing sig;
  if (provider != meter::Provider::kBedrock) return sig;
  // Any AWS signature (SigV4, SigV4a) in any Authorization field the request carries.
  auto [from, to] = msg.equal_range(http::field::authorization);
  for (auto it = from; it != to; ++it) {
    std::string auth(it->value());
    if (!toLower(std::string_view(trim(auth)).substr(0, 5)).starts_with("aws4-")) continue;
    sig.client_signed = true;
    if (size_t at = auth.find("SignedHeaders="); at != std::string::npos) {
      std::string_view names = std::string_view(auth).substr(at + 14);
      names = names.substr(0, names.find_first_of(", "));
      for (const std::string& n : split(names, ';')) sig.signed_names.push_back(toLower(n));
    }
  }
  // Query authentication (presigned), its parameter names decoded.
  std::string query = toLower(req.path.substr(std::min(req.path.size(), req.path.find('?'))));
  std::string decoded;
  for (size_t i = 0; i < query.size(); ++i) {
    auto hexval = [](char c) { return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1; };
    if (query[i] == '%' && i + 2 < query.size() && hexval(query[i + 1]) >= 0 && hexval(query[i + 2]) >= 0) {
      decoded += static_cast<char>(hexval(query[i + 1]) * 16 + hexval(query[i + 2]));
      i += 2;
    } else {
      decoded += query[i];
    }
  }
  if (decoded.find("x-amz-signature") != std::string::npos || decoded.find("x-amz-credential") != std::string::npos) {
    sig.client_signed = sig.presigned = true;
  }
  sig.region = net::bedrockRegion(req.authority.host);
  if (!m.bedrock_credentials_file.empty() && !sig.region.empty()) {
    // Read for each call, so rotated keys are used.
    if (auto creds = net::readAwsCredentialsFile(m.bedrock_credentials_file, m.bedrock_profile, m.km_home)) {
      sig.creds = std::move(*creds);
    } else {
      rec.reason += "; ai.bedrock.credentialsFile not used: " + creds.error().message();
    }
  }
  return sig;
}

// Fields a signature must not cover: the proxy reframes the body, and the rest is hop-by-hop
// or left out by the AWS SDKs themselves.
bool unsignable(std::string_view lower) {
  static constexpr std::string_view kNames[] = {
      "authorization", "content-length", "transfer-encoding", "connection", "keep-alive", "te", "trailer",
      "upgrade", "expect", "proxy-authorization", "proxy-connection", "user-agent", "x-amzn-trace-id"};
  return std::find(std::begin(kNames), std::end(kNames), lower) != std::end(kNames);
}

// The call signed by km (its final body and fields) in place of the client's signature.
void resignBedrock(http::fields& msg, const CheckedRequest& req, std::string_view body, const Signing& sig) {
  msg.erase(http::field::authorization);
  for (std::string_view name : {"x-amz-date", "x-amz-security-token", "x-amz-content-sha256"}) msg.erase(name);
  net::SigV4Request r;
  // The Host the relay sends (the checked authority, whatever the client wrote).
  std::string host = req.authority.port == 443 ? req.authority.host : req.authority.toString();
  msg.set(http::field::host, host);
  for (const auto& f : msg) {
    std::string name = toLower(std::string_view(f.name_string().data(), f.name_string().size()));
    if (name == "host" || unsignable(name)) continue;
    r.headers.emplace_back(std::move(name), std::string(f.value()));
  }
  size_t q = req.path.find('?');
  r.method = "POST";
  r.host = host;
  r.path = std::string_view(req.path).substr(0, q);
  r.query = q == std::string::npos ? std::string_view() : std::string_view(req.path).substr(q + 1);
  r.body = body;
  r.region = sig.region;
  r.service = "bedrock";
  for (auto& [name, value] : net::sigV4Headers(r, *sig.creds, std::chrono::system_clock::now())) msg.set(name, value);
}

// Whether the input of an `api` call to `req`'s host can be counted by the provider for free.
bool countable(meter::Provider provider, meter::Api api, const Signing& sig) {
  if (provider == meter::Provider::kAnthropic) return api == meter::Api::kAnthropicMessages;
  return provider == meter::Provider::kBedrock && bedrockCall(api) && sig.creds.has_value();
}

// The count request for the call being admitted; an error says why none can be made.
Result<CountRequest> countRequest(const Signing& sig, meter::Provider provider, meter::Api api,
                                  const RequestParser& parser, const CheckedRequest& req, const std::string& model,
                                  std::string_view body) {
  CountRequest out;
  if (provider == meter::Provider::kAnthropic) {
    auto count_body = meter::anthropicCountBody(body);
    if (!count_body) return std::move(count_body).error();
    out.body = std::move(*count_body);
    out.path = "/v1/messages/count_tokens";
    const auto& asked = parser.get();
    out.host = std::string(asked[http::field::host]);
    // The caller's own credentials and API version, as the request it counts carries them.
    for (std::string_view name : {"x-api-key", "authorization", "anthropic-version", "anthropic-beta"}) {
      auto [from, to] = asked.equal_range(name);
      for (auto it = from; it != to; ++it) out.fields.emplace_back(name, std::string(it->value()));
    }
    return out;
  }
  // Bedrock: signed with the operator's credentials (the caller's SigV4 signature covers only
  // its own request).
  if (!sig.creds) return invalidArgument("no ai.bedrock credentials to sign the count with");
  auto count_body = meter::bedrockCountBody(api, body);
  if (!count_body) return std::move(count_body).error();
  out.body = std::move(*count_body);
  out.path = "/model/" + net::awsUriEncode(meter::bedrockFoundationModel(model), /*keep_slash=*/false) + "/count-tokens";
  out.host = req.authority.port == 443 ? req.authority.host : req.authority.toString();
  net::SigV4Request r;
  r.method = "POST";
  r.host = out.host;
  r.path = out.path;
  r.headers = {{"content-type", "application/json"}, {"accept", "application/json"}};
  r.body = out.body;
  r.region = sig.region;
  r.service = "bedrock";
  out.fields = net::sigV4Headers(r, *sig.creds, std::chrono::system_clock::now());
  out.fields.emplace_back("accept", "application/json");
  return out;
}

}  // namespace

std::optional<meter::Provider> aiProvider(const Metering& m, std::string_view host) {
  if (host == "api.anthropic.com") return meter::Provider::kAnthropic;
  if (host == "api.openai.com") return meter::Provider::kOpenAi;
  for (const auto& [name, provider] : m.endpoints) {
    if (name == host) return provider;
  }
  if (isAiProviderHost(host)) return meter::Provider::kBedrock;  // bedrock-runtime.<region>.amazonaws.com
  return std::nullopt;
}

MeteredCall::MeteredCall(const Metering& metering, meter::Provider provider, meter::Api api,
                         std::atomic<size_t>& in_flight)
    : m_(metering), provider_(provider), api_(api), in_flight_(in_flight) {}

MeteredCall::~MeteredCall() {
  if (hold_) {
    if (request_sent) {
      m_.budget->settle(*hold_, wholeCharge("the exchange ended before its usage was read"), nullptr);
    } else {
      m_.budget->release(*hold_);
    }
  }
  in_flight_ -= counted_;
}

bool MeteredCall::count(size_t n, size_t cap) {
  size_t now = in_flight_.load();
  do {
    if (now + n > cap) return false;
  } while (!in_flight_.compare_exchange_weak(now, now + n));
  counted_ += n;
  return true;
}

AiCall MeteredCall::wholeCharge(std::string why) const {
  AiCall call;
  call.provider = provider_;
  call.api = api_;
  auto priced = m_.prices.find(provider_, model_);
  call.model = priced ? priced->priced.model : model_;
  call.usage.input_tokens = admission_.input_bound_tokens;
  call.usage.output_tokens = admission_.maxOutput();
  call.cost = admission_.reserve;
  call.note = "charged as reserved: " + why;
  return call;
}

void MeteredCall::responseHead(unsigned status, http::fields& head) {
  status_ = status;
  if (admission_.clamped()) {
    head.set("X-Km-Max-Tokens-Clamped", std::to_string(admission_.asked) + "->" + std::to_string(*admission_.output_limit));
  }
  if (status < 200 || status > 299) return;  // errors are not billed
  if (auto ce = head.find(http::field::content_encoding); ce != head.end()) {
    // km asked for identity; a server that compressed anyway cannot be read.
    std::string enc = toLower(std::string_view(ce->value().data(), ce->value().size()));
    if (enc != "identity") encoded_ = true;
  }
  auto ct = head.find(http::field::content_type);
  std::string_view type = ct == head.end() ? std::string_view() : std::string_view(ct->value().data(), ct->value().size());
  meter_ = meter::ResponseMeter::create(api_, type, model_);
  for (const auto& f : head) {
    meter_->header(std::string_view(f.name_string().data(), f.name_string().size()),
                   std::string_view(f.value().data(), f.value().size()));
  }
}

void MeteredCall::responseBody(std::string_view piece) {
  if (meter_) meter_->feed(piece);
}

asio::awaitable<void> MeteredCall::end(audit::HttpRecord& rec) {
  if (!hold_) co_return;
  int64_t hold = *std::exchange(hold_, std::nullopt);
  if (admission_.clamped()) {
    rec.reason += "; max_tokens clamped " + std::to_string(admission_.asked) + "->" +
                  std::to_string(*admission_.output_limit) + " by the AI budget";
  }
  if (!meter_ && status_ != 0) {
    m_.budget->release(hold);
    rec.reason += "; not charged (status " + std::to_string(status_) + ")";
    co_return;
  }
  if (!meter_ && !request_sent) {
    m_.budget->release(hold);
    rec.reason += "; not charged (not sent)";
    co_return;
  }
  AiCall call;
  if (!meter_ || encoded_) {
    call = wholeCharge(!meter_ ? "no response after the request was sent" : "the response was compressed");
    rec.reason += "; ai " + call.model + " $" + formatDollars(call.cost) + " (" + call.note + ")";
  } else {
    meter_->finish();
    const meter::Metered& got = meter_->result();
    call.provider = provider_;
    call.api = api_;
    call.request_id = got.request_id;
    call.usage = got.usage;
    std::vector<std::string> notes;
    if (!got.complete || !response_complete || !got.error.empty()) {
      // The provider may have produced (and billed) more than km saw: the output is charged at
      // least as reserved.
      notes.push_back(got.error.empty() ? "cut short" : got.error);
      int64_t reserved_output = admission_.maxOutput();
      if (call.usage.output_tokens < reserved_output) {
        call.usage.output_tokens = reserved_output;
        notes.push_back("output charged as reserved");
      }
    }
    if (!got.input_reported) {
      // Never reported: charged at the request's upper bound, as it was reserved.
      call.usage.input_tokens = admission_.input_bound_tokens;
      notes.push_back("input estimated from the request's size");
    }
    std::string model = got.model.empty() ? model_ : got.model;
    auto priced = m_.prices.find(provider_, model);
    if (priced && priced->unknown && model != model_) {
      // A name the table does not know for the model the request named (and was held at).
      if (auto asked = m_.prices.find(provider_, model_); asked && !asked->unknown) {
        model = model_;
        priced = asked;
      }
    }
    call.model = priced ? priced->priced.model : model;
    if (priced && priced->unknown) {
      // The name came from the sandbox (or the server): printable ASCII, bounded, in the ledger and logs.
      std::string shown;
      for (char c : model.substr(0, 128)) shown.push_back(c >= 0x20 && c < 0x7f ? c : '?');
      notes.push_back("unknown model " + shown + " priced as " + priced->priced.model);
    }
    call.cost = priced ? meter::cost(call.usage, priced->priced.price, m_.prices.webSearchPrice(provider_)) : 0;
    for (const auto& n : notes) call.note += (call.note.empty() ? "" : "; ") + n;
    rec.reason += "; ai " + call.model + " in " + std::to_string(call.usage.input_tokens) + " out " +
                  std::to_string(call.usage.output_tokens) + " $" + formatDollars(call.cost) +
                  (call.note.empty() ? "" : " (" + call.note + ")");
  }
  // The connection's next request waits for this charge to be written, so it sees it.
  // (The awaited lambda holds only a reference to the frame's `call`: with GCC 12, a lambda
  // temporary owning strings in a co_await expression freed a string's inline buffer (ASan
  // bad-free in metering_test).)
  AiBudget* budget = m_.budget;
  co_await onBudget<Settled>([budget, hold, &call](std::function<void(Settled)> done) {
    budget->settle(hold, std::move(call), [done = std::move(done)] { done(Settled{}); });
  });
}

template <class Client>
asio::awaitable<std::unique_ptr<MeteredCall>> admitAiRequest(Session& s, Client& client, RequestParser& parser,
                                                             const CheckedRequest& req, meter::Provider provider,
                                                             audit::HttpRecord& rec, bool* plain, const InputCounter& count) {
  const Metering& m = *s.shared.options.metering;
  *plain = false;
  std::string method(parser.get().method_string());
  if (std::string why = ambiguousPath(req.path, provider == meter::Provider::kBedrock); !why.empty()) {
    std::string refused = "the path has " + why + ", which servers may resolve to another API than km meters";
    co_await answerError(s, client, provider, 400, refused, rec);
    co_return nullptr;
  }
  meter::Route route = meter::classify(provider, method, req.path);
  if (req.upgrade_websocket) {
    std::string refused = "WebSocket APIs (realtime) are not metered, and the sandbox has an AI budget";
    co_await answerError(s, client, provider, 403, refused, rec);
    co_return nullptr;
  }
  if (!meter::billable(route.api)) {
    bool reads = method == "GET" || method == "HEAD" || method == "OPTIONS";
    if (reads || route.api != meter::Api::kOther || freeWrite(provider, req.path)) {
      *plain = true;  // free: relayed as it is
      co_return nullptr;
    }
    std::string refused = method + " " + pathOnly(req.path) +
                          " is not an API km can meter, and the sandbox has an AI budget; use the metered APIs "
                          "(Messages, Chat Completions, Responses, Bedrock Invoke/Converse)";
    co_await answerError(s, client, provider, 403, refused, rec);
    co_return nullptr;
  }
  if (auto enc = parser.get().find(http::field::content_encoding); enc != parser.get().end()) {
    std::string refused = "compressed request bodies are not metered; send the JSON as it is";
    co_await answerError(s, client, provider, 400, refused, rec);
    co_return nullptr;
  }
  // Answered here, so the client sends its body now (a client that waits would wait on us).
  if (!co_await answerExpect(s, client, parser)) co_return nullptr;
  auto& msg = parser.get();
  // A Bedrock call signed by the client may not change unless km signs it again itself.
  Signing sig = bedrockSigning(m, provider, msg, req, rec);
  // The meter reads the response's bytes as they come: no compression. (Hop-by-hop fields go
  // first, as the relay would drop them: a Connection field cannot list this one away.) A
  // signed Accept-Encoding stays as signed: a compressed answer is then charged as reserved.
  stripHopByHop(msg, /*keep_upgrade=*/false);
  if (sig.resign() || !sig.signs("accept-encoding")) msg.set(http::field::accept_encoding, "identity");
  auto call = std::make_unique<MeteredCall>(m, provider, route.api, s.shared.metered_body_bytes);
  std::string why;
  unsigned failed = co_await readBody(s, client, parser, *call, m.max_request_body, call->body_, &why);
  if (failed == 503) {
    std::string refused = "km is holding too many large AI requests at once; retry shortly";
    co_await answerError(s, client, provider, 503, refused, rec);
    co_return nullptr;
  }
  if (failed == 422) {
    co_await answerError(s, client, provider, 400, why, rec);
    co_return nullptr;
  }
  if (failed == 413) {
    std::string refused = "the request body is over " + std::to_string(m.max_request_body >> 20) +
                          " MiB, more than km reads to meter it";
    co_await answerError(s, client, provider, 413, refused, rec);
    co_return nullptr;
  }
  if (failed) {
    rec.status = 400;
    rec.reason = why;
    co_return nullptr;  // the client went away or broke the framing: nothing to answer
  }
  auto facts = meter::readRequest(route.api, call->body_);
  if (facts && route.api == meter::Api::kOpenAiChat && facts->stream && !facts->usage_in_stream) {
    // Without it a streamed Chat response never says what it used.
    auto with = meter::requestStreamUsage(call->body_);
    if (with) {
      call->body_ = std::move(*with);
      facts = meter::readRequest(route.api, call->body_);
    }
  }
  if (!facts) {
    std::string refused = facts.error().message();
    co_await answerError(s, client, provider, 400, refused, rec);
    co_return nullptr;
  }
  call->model_ = route.model.empty() ? facts->model : route.model;
  if (provider == meter::Provider::kBedrock) {
    std::string_view model = call->model_;
    size_t slash = model.rfind('/');
    std::string_view resource = slash == std::string_view::npos ? model : model.substr(slash + 1);
    if (model.find(":prompt/") != std::string_view::npos) {
      facts->unsized_input = "a stored prompt";  // Bedrock Prompt management: its text is AWS's
    }
    bool invoke = route.api == meter::Api::kBedrockInvoke || route.api == meter::Api::kBedrockInvokeStream;
    if (invoke && !meter::bedrockFoundationModel(resource).starts_with("anthropic.")) {
      // Other families name their output limit differently (and some in several places).
      std::string refused = "km meters Bedrock InvokeModel for Anthropic models only (this path names " +
                            std::string(model.substr(0, 200)) + "); call other models through Converse";
      co_await answerError(s, client, provider, 400, refused, rec);
      co_return nullptr;
    }
  }
  auto priced = m.prices.find(provider, call->model_);
  if (!priced) {
    std::string refused = "km has no price for any " + std::string(meter::providerName(provider)) +
                          " model; add one to the operator config's pricing.file";
    co_await answerError(s, client, provider, 403, refused, rec);
    co_return nullptr;
  }
  // The pool is read, the call sized to it and the cost held in one step on the budget's side.
  MeteredCall* c = call.get();
  const meter::RequestFacts& f = *facts;
  const meter::Price& price = priced->priced.price;
  meter::AdmitOptions options = m.admit;
  options.fixed_body = sig.client_signed && !sig.resign();
  AiBudget* budget = m.budget;
  // A request whose input the body carries whole can be counted by the provider.
  bool may_count = count && f.unsized_input.empty() && countable(provider, route.api, sig);
  std::optional<int64_t> counted;
  auto reserve = [&](bool may_count) {
    return onBudget<Reservation>([&, may_count](std::function<void(Reservation)> done) {
      budget->reserve(
          [c, &f, &price, &options, &counted, may_count](Micros available) -> AiBudget::Size {
            c->admission_ = meter::admit(f, c->body_.size(), price, available, options, counted);
            c->want_count_ = may_count && available != INT64_MAX && (c->admission_.refused || c->admission_.clamped());
            if (c->want_count_) return {};  // nothing held: counted first, then sized again
            if (!c->admission_.refused) return {c->admission_.reserve, false};
            return {std::nullopt, available < meter::smallestCall(price, options)};
          },
          std::move(done));
    });
  };
  Reservation got = co_await reserve(may_count);
  if (!got.hold && got.refused.empty() && c->want_count_) {
    // Near the ceiling: the provider's own count of the input, instead of the size bound.
    auto asked = countRequest(sig, provider, route.api, parser, req, call->model_, call->body_);
    if (!asked) {
      rec.reason += "; input not counted: " + asked.error().message();
    } else if (auto answer = co_await count(*asked); !answer) {
      rec.reason += "; input not counted: the provider gave no count";
    } else if (auto n = meter::countedInputTokens(*answer, provider == meter::Provider::kBedrock ? "inputTokens"
                                                                                              : "input_tokens")) {
      counted = *n;
      rec.reason += "; input counted " + std::to_string(*n) + " tokens";
    } else {
      rec.reason += "; input not counted: " + n.error().message();
    }
    got = co_await reserve(false);
  }
  call->hold_ = got.hold;
  if (!call->hold_) {
    std::string refused = !got.refused.empty() ? got.refused : call->admission_.reason;
    co_await answerError(s, client, provider, 403, refused, rec);
    co_return nullptr;
  }
  const meter::Admission& a = call->admission_;
  if (a.thinking_budget) {
    call->body_ = meter::setInteger(call->body_, facts->thinking_budget, *a.thinking_budget);
    facts = meter::readRequest(route.api, call->body_);  // spans moved
    if (!facts) {
      std::string refused = facts.error().message();
      co_await answerError(s, client, provider, 400, refused, rec);
      co_return nullptr;
    }
  }
  if (a.output_limit && facts->output_limit.number != a.output_limit) {
    call->body_ = meter::setInteger(call->body_, facts->output_limit, *a.output_limit);
  }
  if (sig.resign()) {
    resignBedrock(msg, req, call->body_, sig);
    rec.reason += "; signed by km (ai.bedrock)";
  }
  call->body = &call->body_;
  co_return call;
}

template asio::awaitable<std::unique_ptr<MeteredCall>> admitAiRequest(Session&, TlsStream&, RequestParser&,
                                                                      const CheckedRequest&, meter::Provider,
                                                                      audit::HttpRecord&, bool*, const InputCounter&);

}  // namespace km::net::proxy
