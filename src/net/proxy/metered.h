// Metering one AI request inside intercepted TLS (private to the proxy): read its body, hold
// it to the budget (refused, or its output limit clamped to what the budget pays for, and the
// cost reserved), then read the response's usage on a copy of its bytes and settle the
// reservation to the real cost when the exchange ends.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "net/proxy/session.h"

namespace km::net::proxy {

class MeteredCall final : public ExchangeTap {
 public:
  MeteredCall(const Metering& metering, meter::Provider provider, meter::Api api, std::atomic<size_t>& in_flight);
  // A hold that end() did not settle is released when the request never went out, else
  // charged in full (the provider may have produced all it was allowed).
  ~MeteredCall() override;

  void responseHead(unsigned status, http::fields& head) override;
  void responseBody(std::string_view piece) override;
  // The exchange is over (whole or cut short): settles the hold to what the usage says, or
  // releases it when nothing was produced. Writes a summary into `rec`.
  // Waits for a settlement to be written (the connection's next request sees it).
  asio::awaitable<void> end(audit::HttpRecord& rec);

  // Set by admitAiRequest.
  const Metering& m_;
  meter::Provider provider_;
  meter::Api api_;
  std::string model_;  // the request's (Bedrock: the path's)
  std::string body_;
  meter::Admission admission_;
  bool want_count_ = false;  // the size bound clamps or refuses: the provider's count may do better
  std::optional<int64_t> hold_;
  unsigned status_ = 0;
  bool encoded_ = false;  // the response came with a Content-Encoding the meter cannot read
  std::unique_ptr<meter::ResponseMeter> meter_;
  std::atomic<size_t>& in_flight_;
  size_t counted_ = 0;  // this call's bytes in in_flight_
  // Counts `n` more body bytes against `cap`; false (nothing counted) when that passes it.
  bool count(size_t n, size_t cap);
  // Gives back `n` counted bytes that a read did not fill.
  void uncount(size_t n) {
    in_flight_ -= n;
    counted_ -= n;
  }
  // The whole reservation as a charge (the output km could not see), with `why` as the note.
  AiCall wholeCharge(std::string why) const;
};

// A request to the provider's free token counter (Anthropic's POST /v1/messages/count_tokens,
// Bedrock's POST /model/{id}/count-tokens) for the input of the request being admitted.
struct CountRequest {
  std::string host;  // the Host field
  std::string path;
  std::vector<std::pair<std::string, std::string>> fields;  // credentials, versions, signature
  std::string body;  // JSON
};
// Sends `CountRequest` over the connection the request will go out on: the answer's body, or
// nullopt when no count came (the size bound is used then).
// (By reference: a temporary in a co_await expression is destroyed twice by GCC 12.)
using InputCounter = std::function<asio::awaitable<std::optional<std::string>>(CountRequest&)>;

// Reads the request's body and decides (`rec` gets the decision when refused). Returns the
// call to pass to exchange() (its body set), or null when the request was answered here (a
// refusal in the provider's error shape, or a request that is not billable and goes out
// plainly: then *plain is set). Near the ceiling (the bound from the body's size would clamp
// or refuse the call) the input of an Anthropic Messages request (with the caller's
// credentials), or of a Bedrock Invoke/Converse call (signed with the operator's
// ai.bedrock credentials, when configured), is counted by `count` (may be null) and the call
// held to that count plus a margin instead. Closes nothing; the caller ends the connection
// after a refusal.
template <class Client>
asio::awaitable<std::unique_ptr<MeteredCall>> admitAiRequest(Session& s, Client& client, RequestParser& parser,
                                                             const CheckedRequest& req, meter::Provider provider,
                                                             audit::HttpRecord& rec, bool* plain, const InputCounter& count);

}  // namespace km::net::proxy
