#include "net/proxy/credentials.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <algorithm>
#include <chrono>
#include <vector>

#include "core/strings.h"
#include "doc/json_io.h"
#include "github/github.h"
#include "net/proxy/budget_wait.h"
#include "net/proxy/github_access.h"
#include "net/proxy/sentinels.h"
#include "net/proxy/server.h"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace km::net::proxy {
namespace {

constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

// `s` inside a JSON string: quotes, backslashes and control bytes escaped.
std::string jsonEscaped(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

void noteSwapped(audit::HttpRecord& rec, const std::vector<std::string>& names) {
  for (const auto& n : names) {
    std::string note = "secret " + n + " put in";
    if (rec.reason.find(note) != std::string::npos) continue;
    rec.reason += rec.reason.empty() ? note : "; " + note;
  }
}

// Reads and drops the rest of the request's body (at most kMaxDrained bytes): git reads the
// answer to a push only once it has sent the whole pack, so a refusal sent earlier is lost in
// a reset connection and git prints "RPC failed" instead of km's reason.
constexpr uint64_t kMaxDrained = uint64_t{256} << 20;
template <class Stream>
asio::awaitable<void> drainBody(Session& s, Stream& client, RequestParser& parser) {
  uint64_t drained = 0;
  char* buf = s.relay.get();
  while (!parser.is_done() && drained < kMaxDrained) {
    parser.get().body().data = buf;
    parser.get().body().size = kRelayBuffer;
    s.client.expires_after(std::chrono::seconds(30));
    auto [ec, n] = co_await http::async_read_some(client, s.buf, parser, kNoThrow);
    s.client.expires_never();
    if (ec == http::error::need_buffer) ec = {};
    if (ec) break;
    drained += kRelayBuffer - parser.get().body().size;
  }
  parser.get().body().data = nullptr;
  parser.get().body().size = 0;
}

// The body of a refused push as git shows it (github.h, refusedPushResult), sent with 200
// once the rest of the push's body is read.
template <class Stream>
asio::awaitable<void> answerPushRefusal(Session& s, Stream& client, RequestParser& parser, const std::string& capabilities,
                                        const std::string& message, const std::vector<github::RefRefusal>& refs,
                                        audit::HttpRecord& rec) {
  co_await drainBody(s, client, parser);
  if (!github::wantsReportStatus(capabilities)) {
    rec.status = 403;
    co_await refuseHttpOn(s, client, 403, rec.reason);
    co_return;
  }
  std::string body = github::refusedPushResult(capabilities, message, refs);
  rec.status = 200;
  co_await refuseHttpOn(s, client, 200, rec.reason, "application/x-git-receive-pack-result", body,
                        "Cache-Control: no-cache\r\n");
}

// Refuses the request: `status` with `why`, counted and recorded. Always null (for co_return).
template <class Stream>
asio::awaitable<std::unique_ptr<GithubTap>> refuseWith(Session& s, Stream& client, audit::HttpRecord& rec,
                                                       unsigned status, const std::string& why) {
  ++s.shared.denied;
  rec.status = static_cast<uint16_t>(status);
  rec.reason = why;
  rec.decision = audit::Decision::kDeny;
  co_await refuseHttpOn(s, client, status, why);
  co_return nullptr;
}

// The rest of the request's body into `body`, at most `max` bytes. false when larger (`why`
// empty) or unreadable (`why` says why).
template <class Stream>
asio::awaitable<bool> readWhole(Session& s, Stream& client, RequestParser& parser, size_t max, std::string& body,
                                std::string& why) {
  constexpr size_t kStep = 64 << 10;
  while (!parser.is_done()) {
    size_t used = body.size();
    body.resize(used + kStep);
    parser.get().body().data = body.data() + used;
    parser.get().body().size = kStep;
    s.client.expires_after(s.shared.options.idle_timeout);
    auto [ec, n] = co_await http::async_read_some(client, s.buf, parser, kNoThrow);
    s.client.expires_never();
    if (ec == http::error::need_buffer) ec = {};
    body.resize(used + kStep - parser.get().body().size);
    if (ec) {
      why = "reading the request body: " + ec.message();
      co_return false;
    }
    if (body.size() > max) co_return false;
  }
  parser.get().body().data = nullptr;
  parser.get().body().size = 0;
  co_return true;
}

}  // namespace

std::string swapSentinels(const Shared& shared, http::request_header<>& msg, CheckedRequest& req, std::string_view host,
                          bool tls, audit::HttpRecord& rec) {
  if (shared.sentinels.empty()) return "";
  auto target = shared.sentinels.rewrite(host, tls, req.path, /*is_authorization=*/false);
  if (!target.refused.empty()) return target.refused;
  noteSwapped(rec, target.swapped);
  // Every field, in order; the names whose values changed are written back as a whole.
  std::vector<std::pair<std::string, std::string>> fields;
  std::vector<std::string> changed;
  for (const auto& f : msg) {
    std::string name(f.name_string());
    std::string value(f.value());
    auto out = shared.sentinels.rewrite(host, tls, value, equalsIgnoringAsciiCase(name, "authorization") ||
                                                             equalsIgnoringAsciiCase(name, "proxy-authorization"));
    if (!out.refused.empty()) return out.refused;
    if (out.changed) {
      noteSwapped(rec, out.swapped);
      std::string lower = toLower(name);
      if (std::find(changed.begin(), changed.end(), lower) == changed.end()) changed.push_back(lower);
    }
    fields.emplace_back(std::move(name), std::move(value));
  }
  for (const auto& name : changed) {
    msg.erase(name);
    for (const auto& [n, v] : fields) {
      if (toLower(n) == name) msg.insert(n, v);
    }
  }
  return "";
}

std::string plainHttpCredentials(Session& s, http::request_header<>& msg, CheckedRequest& req, audit::HttpRecord& rec) {
  std::string why = swapSentinels(s.shared, msg, req, req.authority.host, /*tls=*/false, rec);
  if (why.empty() && s.shared.github && github::isGithubHost(req.authority.host)) {
    why = "GitHub in clear text: km filters GitHub's repositories over HTTPS only (use https://)";
  }
  if (!why.empty()) ++s.shared.denied;
  return why;
}

void setGithubAuthorization(http::request_header<>& msg, const GithubTap& tap) {
  msg.erase(http::field::authorization);
  if (tap.token.empty()) return;
  msg.set(http::field::authorization,
          tap.basic ? "Basic " + base64Encode("x-access-token:" + tap.token) : "token " + tap.token);
}

asio::awaitable<std::unique_ptr<GithubTap>> githubStep(Session& s, TlsStream& client, RequestParser& parser,
                                                       const CheckedRequest& req, audit::HttpRecord& rec) {
  GithubAccess& gh = *s.shared.github;
  auto& msg = parser.get();
  auto judged = gh.judge(req.authority.host, req.path);
  std::string_view path = std::string_view(req.path).substr(0, req.path.find('?'));
  bool receive_pack = github::gitEndpoint(req.authority.host, req.path) == github::GitEndpoint::kReceivePack;
  if (judged.refused) {
    ++s.shared.denied;
    rec.status = static_cast<uint16_t>(judged.status);
    rec.reason = judged.reason;
    rec.decision = audit::Decision::kDeny;
    if (receive_pack && msg.method() == http::verb::post) {
      // git shows nothing of an HTTP error here: a report it prints instead. The body is not
      // read (its capabilities are unknown), so the message goes without side-band.
      if (!co_await answerExpect(s, client, parser)) co_return nullptr;
      const std::string caps = " report-status", message = "km: " + judged.reason;
      const std::vector<github::RefRefusal> none;
      co_await answerPushRefusal(s, client, parser, caps, message, none, rec);
    } else {
      co_await refuseHttpOn(s, client, judged.status, judged.reason);
    }
    co_return nullptr;
  }
  auto tap = std::make_unique<GithubTap>();
  // A GET or HEAD with a body: a server that ignores such a body would read it as a second
  // request, one km never judged (smuggled past the repository check with km's token).
  if ((msg.method() == http::verb::get || msg.method() == http::verb::head) &&
      (parser.chunked() || parser.content_length().value_or(0) > 0)) {
    const std::string why = "a " + std::string(msg.method_string()) + " with a body to GitHub";
    co_return co_await refuseWith(s, client, rec, 400, why);
  }
  if (receive_pack && msg.method() != http::verb::post) {
    const std::string why = "km reads a push's commands from its POST; " + std::string(msg.method_string()) +
                            " to git-receive-pack is refused";
    co_return co_await refuseWith(s, client, rec, 403, why);
  }
  if (receive_pack) {
    // The real git never compresses a push; a compressed one would hide its commands.
    auto coding = msg.find(http::field::content_encoding);
    if (coding != msg.end() && !equalsIgnoringAsciiCase(trim(std::string_view(coding->value())), "identity")) {
      const std::string why = "a push with Content-Encoding " + std::string(coding->value()) +
                              " (km reads a push's commands; git sends them uncompressed)";
      co_return co_await refuseWith(s, client, rec, 403, why);
    }
    if (!co_await answerExpect(s, client, parser)) co_return nullptr;
    github::ReceivePackCommands commands;
    char* buf = s.relay.get();
    while (commands.state() == github::ReceivePackCommands::State::kNeedMore && !parser.is_done()) {
      msg.body().data = buf;
      msg.body().size = kRelayBuffer;
      s.client.expires_after(s.shared.options.idle_timeout);
      auto [ec, n] = co_await http::async_read_some(client, s.buf, parser, kNoThrow);
      s.client.expires_never();
      if (ec == http::error::need_buffer) ec = {};
      if (ec) {
        rec.reason = "reading the push's commands: " + ec.message();
        co_return nullptr;
      }
      size_t got = kRelayBuffer - msg.body().size;
      tap->body_prefix.append(buf, got);
      commands.feed(std::string_view(buf, got));
    }
    msg.body().data = nullptr;
    msg.body().size = 0;
    if (commands.state() == github::ReceivePackCommands::State::kNeedMore) {
      const std::string why = "the push's body ended before its commands did";
      co_return co_await refuseWith(s, client, rec, 403, why);
    }
    if (commands.state() == github::ReceivePackCommands::State::kRefused) {
      ++s.shared.denied;
      rec.reason = commands.error();
      rec.decision = audit::Decision::kDeny;
      const std::vector<github::RefRefusal> none;
      co_await answerPushRefusal(s, client, parser, commands.capabilities(), commands.error(), none, rec);
      co_return nullptr;
    }
    std::vector<github::RefRefusal> refused;
    for (const auto& u : commands.updates()) {
      if (std::string why = gh.refuseUpdate(u); !why.empty()) refused.push_back({u.refname, why});
    }
    if (!refused.empty()) {
      // All or nothing: one refused ref refuses the push, the remote unchanged.
      ++s.shared.denied;
      rec.reason = "push refused: " + refused.front().reason +
                   (refused.size() > 1 ? " (and " + std::to_string(refused.size() - 1) + " more)" : "");
      rec.decision = audit::Decision::kDeny;
      std::string message = "km: push refused: ";
      for (size_t i = 0; i < refused.size(); ++i) message += (i ? "; " : "") + refused[i].reason;
      message += "; nothing was pushed";
      // Every ref of the push is reported, the allowed ones as not pushed either.
      std::vector<github::RefRefusal> report;
      for (const auto& u : commands.updates()) {
        auto it = std::find_if(refused.begin(), refused.end(), [&](const auto& r) { return r.refname == u.refname; });
        report.push_back({u.refname, it != refused.end() ? "refused by km: " + it->reason : "not pushed: another ref was refused"});
      }
      co_await answerPushRefusal(s, client, parser, commands.capabilities(), message, report, rec);
      co_return nullptr;
    }
  }
  std::string repo = judged.repo;
  std::vector<std::string> graphql_fields;
  if (req.authority.host == "api.github.com" && path == "/graphql" && msg.method() == http::verb::post) {
    // GraphQL names its repositories in the body: read whole (bounded), each one it makes
    // visible must be allowed; a token only when they all belong to one owner (an App's
    // token is scoped to the profile's repositories of that owner).
    const std::string too_big = "a GraphQL body over 1 MiB";
    if (auto n = parser.content_length(); n && *n > github::kMaxGraphqlBody) {
      co_return co_await refuseWith(s, client, rec, 413, too_big);
    }
    if (!co_await answerExpect(s, client, parser)) co_return nullptr;
    std::string why;
    if (!co_await readWhole(s, client, parser, github::kMaxGraphqlBody, tap->whole, why)) {
      if (why.empty()) why = too_big;
      co_return co_await refuseWith(s, client, rec, why == too_big ? 413 : 400, why);
    }
    auto g = github::inspectGraphql(tap->whole);
    if (!g) {
      why = "a GraphQL body km cannot read: " + g.error().message();
      co_return co_await refuseWith(s, client, rec, 400, why);
    }
    graphql_fields = g->mutation_fields;
    if (g->has_mutation && !g->mutation_fields_complete) {
      why = "a GraphQL mutation that selects its fields through fragments (km counts and judges mutations by field; "
            "write them out)";
      co_return co_await refuseWith(s, client, rec, 403, why);
    }
    for (const auto& field : g->mutation_fields) {
      if (github::mutationWritesRefs(field)) {
        why = "the GraphQL mutation " + field + " changes refs or repository settings km cannot judge from the body "
              "(push to an allowed branch instead)";
        co_return co_await refuseWith(s, client, rec, 403, why);
      }
    }
    std::string owner;
    bool one_owner = !g->repos.empty();
    for (const auto& r : g->repos) {
      auto judged_repo = gh.judge("api.github.com", "/repos/" + r);
      if (judged_repo.refused) {
        why = "GraphQL: " + judged_repo.reason;
        co_return co_await refuseWith(s, client, rec, 403, why);
      }
      std::string o = r.substr(0, r.find('/'));
      if (!owner.empty() && o != owner) one_owner = false;
      owner = o;
    }
    // The token of the one owner the body names; else, when every allowed repository has
    // one owner, that owner's (scoped to them: GitHub itself refuses the rest, e.g. a mutation
    // naming its target by node id).
    if (!gh.scopedTokens()) {
      repo = "";
    } else if (one_owner) {
      repo = g->repos.front();
    } else if (g->repos.empty() && g->owners.size() <= 1 && !gh.soleOwner().empty() &&
               (g->owners.empty() || g->owners.front() == gh.soleOwner())) {
      repo = gh.soleOwner() + "/";
    } else {
      repo = "";
    }
    tap->body = &tap->whole;
  }
  // REST calls that change refs outside a push: the ref judged like a pushed one.
  auto write = github::refWriteOf(std::string(msg.method_string()), req.authority.host, req.path);
  if (write.kind == github::RefWrite::Kind::kRefused) {
    const std::string why = write.why + " is refused under spec.sourceAccess";
    co_return co_await refuseWith(s, client, rec, 403, why);
  }
  if (write.kind == github::RefWrite::Kind::kRefInBody) {
    if (!co_await answerExpect(s, client, parser)) co_return nullptr;
    std::string why;
    if (!co_await readWhole(s, client, parser, github::kMaxGraphqlBody, tap->whole, why)) {
      if (why.empty()) why = "a body over 1 MiB on a call that names a ref";
      co_return co_await refuseWith(s, client, rec, 413, why);
    }
    doc::Node body;
    const doc::Node* value = nullptr;
    if (doc::parseJson(tap->whole, body, nullptr) && body.isMap()) value = body.find(write.body_key);
    if (value == nullptr || value->kind() != doc::Node::Kind::kString || value->text().empty()) {
      why = "this call changes a ref that km must see: name it in \"" + write.body_key + "\"";
      co_return co_await refuseWith(s, client, rec, 403, why);
    }
    write.ref = value->text().starts_with("refs/") && write.body_key == "ref" ? value->text()
                                                                               : write.body_prefix + value->text();
    write.kind = github::RefWrite::Kind::kRef;
    tap->body = &tap->whole;
  }
  if (write.kind == github::RefWrite::Kind::kRef) {
    github::RefUpdate u{std::string(40, '1'), std::string(40, write.deletes ? '0' : '2'), write.ref};
    std::string why = github::isValidRefName(u.refname) ? gh.refuseUpdate(u) : u.refname + " is not a valid ref name";
    if (!why.empty()) {
      why = "the API call is refused: " + why;
      co_return co_await refuseWith(s, client, rec, 403, why);
    }
  }
  // Actions spec.limits counts: a REST call, or each mutation field of a GraphQL body.
  std::vector<github::Action> actions;
  if (auto a = github::classifyAction(std::string(msg.method_string()), req.authority.host, req.path);
      a != github::Action::kNone) {
    actions.push_back(a);
  }
  for (const auto& field : graphql_fields) {
    if (auto a = github::classifyMutation(field); a != github::Action::kNone) actions.push_back(a);
  }
  if (s.shared.options.actions) {
    for (github::Action a : actions) {
      std::string name(github::actionName(a));
      ActionGate* gate = s.shared.options.actions;
      // The awaited lambda holds only references to the frame (a lambda temporary owning a
      // string in a co_await expression is freed twice by GCC 12; see metered.cc).
      auto v = co_await onBudget<ActionGate::Verdict>(
          [gate, &name](std::function<void(ActionGate::Verdict)> done) { gate->take(name, std::move(done)); });
      if (!v.allowed) {
        ++s.shared.denied;
        rec.status = 429;
        rec.reason = "km: " + v.note;
        rec.decision = audit::Decision::kDeny;
        const std::string body = "{\"message\":\"km: " + jsonEscaped(v.note) +
                                 "\",\"documentation_url\":\"https://docs.github.com/rest\"}";
        const std::string_view type = "application/json; charset=utf-8";
        co_await drainBody(s, client, parser);
        co_await refuseHttpOn(s, client, 429, rec.reason, type, body);
        co_return nullptr;
      }
      if (!v.note.empty()) rec.reason += (rec.reason.empty() ? "" : "; ") + ("warning: " + v.note);
    }
  }
  tap->can_retry = parser.is_done() && tap->body_prefix.empty() && tap->body == nullptr;
  if (!repo.empty() && gh.hasCredentials()) {
    tap->owner = repo.substr(0, repo.find('/'));
    tap->basic = req.authority.host == "github.com";
    const std::string no_stale;
    auto token = co_await gh.token(s, tap->owner, no_stale);
    if (token) {
      tap->token = std::move(*token);
      rec.reason += rec.reason.empty() ? "GitHub token put in" : "; GitHub token put in";
    } else {
      // The request goes on without one (a public repository still works); the log says why.
      rec.reason += (rec.reason.empty() ? "" : "; ") + std::string("no GitHub token: ") + token.error().message();
    }
    setGithubAuthorization(msg, *tap);
  }
  co_return tap;
}

}  // namespace km::net::proxy
