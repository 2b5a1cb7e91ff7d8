#include "meter/request.h"

#include <algorithm>
#include <charconv>
#include <climits>
#include <functional>
#include <iterator>
#include <utility>

#include "core/strings.h"

namespace km::meter {
namespace {

constexpr int kMaxDepth = 512;
constexpr int64_t kMaxCount = int64_t{1} << 40;

// A strict RFC 8259 reader over a byte range: it checks and skips values, and reads strings.
class Scanner {
 public:
  explicit Scanner(std::string_view text, size_t at = 0) : t_(text), i_(at) {}

  size_t at() const { return i_; }
  bool done() const { return i_ >= t_.size(); }
  char peek() const { return done() ? '\0' : t_[i_]; }
  const std::string& error() const { return error_; }

  void space() {
    while (!done() && (t_[i_] == ' ' || t_[i_] == '\t' || t_[i_] == '\n' || t_[i_] == '\r')) ++i_;
  }
  bool expect(char c) {
    if (peek() != c) return fail(std::string("expected '") + c + "'");
    ++i_;
    return true;
  }

  // A string at i_ (which must be '"'), unescaped into `out` when not null.
  bool string(std::string* out, bool* escaped) {
    if (!expect('"')) return false;
    for (;;) {
      if (done()) return fail("unterminated string");
      unsigned char c = static_cast<unsigned char>(t_[i_++]);
      if (c == '"') return true;
      if (c < 0x20) return fail("control character in a string");
      if (c != '\\') {
        if (out) out->push_back(static_cast<char>(c));
        continue;
      }
      if (escaped) *escaped = true;
      if (done()) return fail("unterminated escape");
      char e = t_[i_++];
      switch (e) {
        case '"': case '\\': case '/':
          if (out) out->push_back(e);
          break;
        case 'b': if (out) out->push_back('\b'); break;
        case 'f': if (out) out->push_back('\f'); break;
        case 'n': if (out) out->push_back('\n'); break;
        case 'r': if (out) out->push_back('\r'); break;
        case 't': if (out) out->push_back('\t'); break;
        case 'u': {
          uint32_t cp = 0;
          if (!hex4(cp)) return false;
          if (cp >= 0xd800 && cp <= 0xdbff && t_.substr(i_, 2) == "\\u") {
            size_t save = i_;
            i_ += 2;
            uint32_t lo = 0;
            if (!hex4(lo)) return false;
            if (lo >= 0xdc00 && lo <= 0xdfff) {
              cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            } else {
              i_ = save;  // a lone high surrogate; the next escape stands alone
            }
          }
          if (out) appendUtf8(*out, cp);
          break;
        }
        default:
          return fail("bad escape in a string");
      }
    }
  }

  // Any value at i_, skipped (checked).
  bool value(int depth) {
    if (depth > kMaxDepth) return fail("nested too deep");
    switch (peek()) {
      case '"':
        return string(nullptr, nullptr);
      case '{': {
        ++i_;
        space();
        if (peek() == '}') return ++i_, true;
        for (;;) {
          space();
          std::string key;
          if (!string(visit ? &key : nullptr, nullptr)) return false;
          space();
          if (!expect(':')) return false;
          space();
          size_t from = i_;
          if (!value(depth + 1)) return false;
          if (visit) visit(key, Span{from, i_}, depth);
          space();
          if (peek() == ',') {
            ++i_;
            continue;
          }
          return expect('}');
        }
      }
      case '[': {
        ++i_;
        space();
        if (peek() == ']') return ++i_, true;
        for (;;) {
          space();
          if (!value(depth + 1)) return false;
          space();
          if (peek() == ',') {
            ++i_;
            continue;
          }
          return expect(']');
        }
      }
      case 't': return literal("true");
      case 'f': return literal("false");
      case 'n': return literal("null");
      default:
        return number();
    }
  }

  // Called for every member of every object inside the value value() skips: its key
  // (unescaped) and its value's span.
  // Each member after its value, with the depth of the object it is in (0: the top one).
  std::function<void(const std::string& key, Span value, int depth)> visit;

  bool fail(std::string why) {
    if (error_.empty()) error_ = std::move(why) + " at byte " + std::to_string(i_);
    return false;
  }

 private:
  bool hex4(uint32_t& v) {
    if (t_.size() - i_ < 4) return fail("short \\u escape");
    for (int k = 0; k < 4; ++k) {
      char c = t_[i_++];
      v <<= 4;
      if (c >= '0' && c <= '9') v |= static_cast<uint32_t>(c - '0');
      else if (c >= 'a' && c <= 'f') v |= static_cast<uint32_t>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') v |= static_cast<uint32_t>(c - 'A' + 10);
      else return fail("bad \\u escape");
    }
    return true;
  }
  static void appendUtf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
      out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out.push_back(static_cast<char>(0xc0 | (cp >> 6)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    } else if (cp < 0x10000) {
      out.push_back(static_cast<char>(0xe0 | (cp >> 12)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    } else {
      out.push_back(static_cast<char>(0xf0 | (cp >> 18)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    }
  }
  bool literal(std::string_view word) {
    if (t_.substr(i_, word.size()) != word) return fail("unexpected character");
    i_ += word.size();
    return true;
  }
  bool digits() {
    size_t from = i_;
    while (!done() && t_[i_] >= '0' && t_[i_] <= '9') ++i_;
    return i_ > from;
  }
  bool number() {
    if (peek() == '-') ++i_;
    if (peek() == '0') {
      ++i_;
    } else if (!digits()) {
      return fail("unexpected character");
    }
    if (peek() == '.') {
      ++i_;
      if (!digits()) return fail("bad number");
    }
    if (peek() == 'e' || peek() == 'E') {
      ++i_;
      if (peek() == '+' || peek() == '-') ++i_;
      if (!digits()) return fail("bad number");
    }
    return true;
  }

  std::string_view t_;
  size_t i_;
  std::string error_;
};

std::string_view slice(std::string_view body, Span s) { return body.substr(s.begin, s.end - s.begin); }

// The one member named `key` of `members`, refusing a repeated or escaped one (the provider
// would read it differently from km: its JSON parser keeps the last, and decodes escapes).
// A key as a case-insensitive JSON decoder matches it (Go's encoding/json folds ASCII case,
// and the Kelvin sign and the long s onto k and s).
std::string folded(std::string_view key) {
  std::string out;
  for (size_t i = 0; i < key.size(); ++i) {
    if (key.substr(i, 3) == "\xe2\x84\xaa") {
      out += 'k';
      i += 2;
    } else if (key.substr(i, 2) == "\xc5\xbf") {
      out += 's';
      i += 1;
    } else {
      char c = key[i];
      out += c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
    }
  }
  return out;
}

Result<const Member*> only(const std::vector<Member>& members, std::string_view key, std::string_view where) {
  const Member* found = nullptr;
  const std::string want = folded(key);
  for (const auto& m : members) {
    if (m.key != key) {
      if (folded(m.key) == want) {
        return invalidArgument("the request body's " + std::string(where) + m.key + " differs from " +
                               std::string(key) + " only in case; km reads " + std::string(key) +
                               " and needs no look-alike beside it");
      }
      continue;
    }
    if (m.escaped) {
      return invalidArgument("the request body's " + std::string(where) + std::string(key) +
                             " is written with escapes; km reads it and needs it plain");
    }
    if (found) {
      return invalidArgument("the request body has " + std::string(where) + std::string(key) +
                             " twice; send it once");
    }
    found = &m;
  }
  return found;
}

// A plain non-negative integer below kMaxCount, else nullopt.
std::optional<int64_t> plainCount(std::string_view text) {
  if (text.empty() || text.size() > 13) return std::nullopt;
  int64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  if (text.size() > 1 && text[0] == '0') return std::nullopt;
  return v < kMaxCount ? std::optional<int64_t>(v) : std::nullopt;
}

std::string dotted(const std::vector<std::string>& path) {
  std::string out;
  for (const auto& p : path) out += (out.empty() ? "" : ".") + p;
  return out;
}

// Finds `path` in the object `body[obj]`: the value's span when every key on the way is there
// (and each but the last is an object), else nullopt.
Result<std::optional<Span>> find(std::string_view body, Span obj, const std::vector<std::string>& path,
                                 size_t from = 0) {
  auto members = objectMembers(slice(body, obj));
  if (!members) return std::move(members).error();
  std::string where;
  for (size_t k = 0; k < from; ++k) where += path[k] + ".";
  auto m = only(*members, path[from], where);
  if (!m) return std::move(m).error();
  if (!*m) return std::optional<Span>();
  Span at{obj.begin + (*m)->value.begin, obj.begin + (*m)->value.end};
  if (from + 1 == path.size()) return std::optional<Span>(at);
  if (body[at.begin] != '{') return std::optional<Span>();
  return find(body, at, path, from + 1);
}

Result<Field> countField(std::string_view body, std::vector<std::string> path, std::string_view what) {
  Field f;
  f.path = std::move(path);
  auto at = find(body, Span{0, body.size()}, f.path);
  if (!at) return std::move(at).error();
  f.value = *at;
  if (f.value) {
    f.number = plainCount(slice(body, *f.value));
    if (!f.number) {
      return invalidArgument("the request body's " + dotted(f.path) + " (" + std::string(what) +
                             ") must be a whole number of tokens, not " +
                             std::string(slice(body, *f.value).substr(0, 40)));
    }
  }
  return f;
}

// A JSON string value's text, or nullopt when the span is not a string.
std::optional<std::string> stringAt(std::string_view body, Span s) {
  if (body[s.begin] != '"') return std::nullopt;
  Scanner sc(body.substr(0, s.end), s.begin);
  std::string out;
  if (!sc.string(&out, nullptr)) return std::nullopt;
  return out;
}

// `text` (an object) with `path` set to `value` (JSON text).
std::string setMember(std::string_view text, const std::vector<std::string>& path, size_t from,
                      std::string_view value) {
  auto members = objectMembers(text);
  if (!members) return std::string(text);  // readRequest checked it: not reached
  const Member* m = nullptr;
  for (const auto& x : *members) {
    if (x.key == path[from]) m = &x;
  }
  std::string out(text);
  if (m) {
    std::string_view current = text.substr(m->value.begin, m->value.end - m->value.begin);
    std::string replacement;
    if (from + 1 == path.size()) {
      replacement = value;
    } else if (!current.empty() && current[0] == '{') {
      replacement = setMember(current, path, from + 1, value);
    } else {
      replacement = setMember("{}", path, from + 1, value);
    }
    out.replace(m->value.begin, m->value.end - m->value.begin, replacement);
    return out;
  }
  // Added as the object's first member: after its '{' (objectMembers checked there is one).
  std::string inner = from + 1 == path.size() ? std::string(value) : setMember("{}", path, from + 1, value);
  std::string member = "\"" + path[from] + "\":" + inner + (members->empty() ? "" : ",");
  size_t brace = text.find('{');
  out.insert(brace + 1, member);
  return out;
}

}  // namespace

Result<std::vector<Member>> objectMembers(std::string_view text) {
  Scanner s(text);
  std::vector<Member> out;
  s.space();
  auto bad = [&](std::string_view what) {
    return invalidArgument(std::string(what) + ": " + (s.error().empty() ? "not a JSON object" : s.error()));
  };
  if (!s.expect('{')) return bad("the request body is not a JSON object");
  s.space();
  if (s.peek() == '}') {
    s.expect('}');
  } else {
    for (;;) {
      s.space();
      Member m;
      if (!s.string(&m.key, &m.escaped)) return bad("the request body is not valid JSON");
      s.space();
      if (!s.expect(':')) return bad("the request body is not valid JSON");
      s.space();
      m.value.begin = s.at();
      if (!s.value(1)) return bad("the request body is not valid JSON");
      m.value.end = s.at();
      out.push_back(std::move(m));
      s.space();
      if (s.peek() == ',') {
        s.expect(',');
        continue;
      }
      if (!s.expect('}')) return bad("the request body is not valid JSON");
      break;
    }
  }
  s.space();
  if (!s.done()) {
    s.fail("more after the object");
    return bad("the request body is not valid JSON");
  }
  return out;
}

namespace {

std::string base64Encode(std::string_view in) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    uint32_t v = uint32_t(uint8_t(in[i])) << 16 | uint32_t(uint8_t(in[i + 1])) << 8 | uint8_t(in[i + 2]);
    for (int shift : {18, 12, 6, 0}) out += kAlphabet[(v >> shift) & 63];
  }
  if (size_t rest = in.size() - i; rest > 0) {
    uint32_t v = uint32_t(uint8_t(in[i])) << 16 | (rest == 2 ? uint32_t(uint8_t(in[i + 1])) << 8 : 0);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += rest == 2 ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

bool startsWithAny(std::string_view s, std::initializer_list<std::string_view> prefixes) {
  for (auto p : prefixes) {
    if (s.starts_with(p)) return true;
  }
  return false;
}

// A URL a provider would fetch: http(s) in any case, after any leading space (RFC 3986
// schemes are case-insensitive; fetchers trim).
bool webUrl(std::string_view url) {
  size_t i = 0;
  while (i < url.size() && static_cast<unsigned char>(url[i]) <= 0x20) ++i;
  return startsWithAny(toLower(url.substr(i, 8)), {"http://", "https://"});
}

// The first thing in `body` that makes the provider read input the body does not carry.
// The elements of the JSON array at `v` (none when it is not an array).
std::vector<Span> arrayElements(std::string_view body, Span v) {
  std::vector<Span> out;
  Scanner sc(body, v.begin);
  if (!sc.expect('[')) return {};
  sc.space();
  if (sc.peek() == ']') return out;
  for (;;) {
    sc.space();
    size_t from = sc.at();
    if (!sc.value(1)) return {};
    out.push_back(Span{from, sc.at()});
    sc.space();
    if (sc.peek() != ',') return out;
    sc.expect(',');
  }
}

// A Responses input item that is only a reference ({"id": "msg_…"} with no type, a null one
// or "item_reference"): the provider puts the stored item in its place.
bool referencesStoredItem(std::string_view body, const std::vector<Member>& top) {
  for (const Member& m : top) {
    if (m.key != "input" || body[m.value.begin] != '[') continue;
    for (Span item : arrayElements(body, m.value)) {
      if (body[item.begin] != '{') continue;
      std::string_view text = slice(body, item);
      auto members = objectMembers(text);  // spans relative to `text`
      if (!members) continue;
      // OpenAI's item reference: an id, its type "item_reference", null or left out.
      bool id = false, other_type = false;
      for (const Member& im : *members) {
        id = id || im.key == "id";
        if (im.key == "type") {
          std::string_view t = slice(text, im.value);
          other_type = t != "null" && t != "\"item_reference\"";
        }
      }
      if (id && !other_type) return true;
    }
  }
  return false;
}

std::string unsizedInput(std::string_view body) {
  std::string found;
  Scanner sc(body);
  sc.visit = [&](const std::string& key, Span v, int depth) {
    if (!found.empty()) return;
    if (key == "file_id" || key == "previous_response_id" || key == "conversation" || key == "mcp_servers" ||
        key == "container" || key == "web_search_options" || key == "s3Location" || key == "promptVariables") {
      found = "\"" + key + "\"";
      return;
    }
    if (key == "image_url" && body[v.begin] == '{') {
      // OpenAI Chat: {"image_url": {"url": ...}}; a data: URL is in the body, a web one is not.
      auto inner = objectMembers(slice(body, v));
      if (!inner) return;
      for (const auto& m : *inner) {
        auto url = stringAt(body, Span{v.begin + m.value.begin, v.begin + m.value.end});
        if (m.key == "url" && url && webUrl(*url)) found = "an image fetched from a URL";
      }
      return;
    }
    if (body[v.begin] != '"') {
      // OpenAI Responses' stored prompt is a member of the request itself; deeper, "prompt" is
      // an argument a tool's schema describes (Claude Code's Task and WebFetch tools).
      if (key == "prompt" && depth == 0 && body[v.begin] == '{') found = "a stored \"prompt\"";
      return;
    }
    auto text = stringAt(body, v);
    if (!text) return;
    // Only where a provider fetches it: a "url" key alone may be a tool call's own argument.
    if ((key == "image_url" || key == "file_url") && webUrl(*text)) {
      found = "content fetched from a URL";
    } else if (key == "type" && startsWithAny(*text, {"web_search", "web_fetch", "code_execution", "code_interpreter",
                                                       "file_search", "mcp", "image_generation", "url",
                                                       "item_reference"})) {
      found = "the " + *text + " tool or source";
    }
  };
  sc.space();
  (void)sc.value(0);  // readRequest checked the body already
  return found;
}

}  // namespace

Result<RequestFacts> readRequest(Api api, std::string_view body) {
  auto top = objectMembers(body);
  if (!top) return std::move(top).error();
  RequestFacts facts;
  auto model = only(*top, "model", "");
  if (!model) return std::move(model).error();
  if (*model) {
    auto text = stringAt(body, (*model)->value);
    if (!text) return invalidArgument("the request body's model must be a string");
    facts.model = std::move(*text);
  }
  auto stream = only(*top, "stream", "");
  if (!stream) return std::move(stream).error();
  facts.stream = *stream && slice(body, (*stream)->value) == "true";

  std::vector<std::string> limit_path;
  std::vector<std::string> thinking;  // the thinking object's path, when the API has one
  switch (api) {
    case Api::kAnthropicMessages:
    case Api::kBedrockInvoke:
    case Api::kBedrockInvokeStream:
      limit_path = {"max_tokens"};
      thinking = {"thinking"};
      break;
    case Api::kOpenAiChat: {
      auto legacy = only(*top, "max_tokens", "");
      if (!legacy) return std::move(legacy).error();
      auto current = only(*top, "max_completion_tokens", "");
      if (!current) return std::move(current).error();
      if (*legacy && *current) {
        return invalidArgument("the request body has both max_tokens and max_completion_tokens; send one");
      }
      limit_path = {*legacy ? "max_tokens" : "max_completion_tokens"};
      break;
    }
    case Api::kOpenAiResponses:
      limit_path = {"max_output_tokens"};
      break;
    case Api::kBedrockConverse:
    case Api::kBedrockConverseStream:
      limit_path = {"inferenceConfig", "maxTokens"};
      thinking = {"additionalModelRequestFields", "thinking"};
      break;
    default:
      return invalidArgument("km does not meter " + std::string(apiName(api)) + " requests");
  }
  auto limit = countField(body, limit_path, "the output limit");
  if (!limit) return std::move(limit).error();
  facts.output_limit = std::move(*limit);
  if (!thinking.empty()) {
    auto type_path = thinking;
    type_path.push_back("type");
    auto type = find(body, Span{0, body.size()}, type_path);
    if (!type) return std::move(type).error();
    std::optional<std::string> kind = *type ? stringAt(body, **type) : std::nullopt;
    if (kind && *kind == "enabled") {
      auto budget_path = thinking;
      budget_path.push_back("budget_tokens");
      auto budget = countField(body, budget_path, "the extended thinking budget");
      if (!budget) return std::move(budget).error();
      facts.thinking_budget = std::move(*budget);
    }
  }
  if (api == Api::kOpenAiChat) {
    auto n = countField(body, {"n"}, "the number of choices");
    if (!n) return std::move(n).error();
    if (n->number) facts.choices = std::max<int64_t>(*n->number, 1);
  }
  if (api == Api::kOpenAiResponses) {
    auto background = only(*top, "background", "");
    if (!background) return std::move(background).error();
    if (*background && slice(body, (*background)->value) != "false") {
      return invalidArgument("background responses are not metered (their output is produced later, unseen by km); "
                             "send the request without \"background\"");
    }
  }
  if (api == Api::kBedrockInvoke || api == Api::kBedrockInvokeStream) {
    auto version = only(*top, "anthropic_version", "");
    if (!version) return std::move(version).error();
    if (!*version) {
      return invalidArgument("km meters Bedrock InvokeModel for Anthropic models (bodies with anthropic_version); "
                             "call other models through Converse");
    }
  }
  if (api == Api::kBedrockConverse || api == Api::kBedrockConverseStream) {
    // A model's own output limit passed through beside inferenceConfig.maxTokens would not be
    // clamped: refused.
    for (const Member& m : *top) {
      if (m.key != "additionalModelRequestFields" || body[m.value.begin] != '{') continue;
      auto extra = objectMembers(slice(body, m.value));
      if (!extra) return std::move(extra).error();
      static constexpr std::string_view kLimits[] = {"max_tokens",        "max_new_tokens",  "max_gen_len",
                                                     "max_completion_tokens", "maxtokens",   "max_output_tokens",
                                                     "maxtokencount",     "max_tokens_to_sample"};
      for (const Member& e : *extra) {
        if (std::find(std::begin(kLimits), std::end(kLimits), toLower(e.key)) != std::end(kLimits)) {
          return invalidArgument("additionalModelRequestFields." + e.key +
                                 " would pass an output limit km does not clamp; set inferenceConfig.maxTokens instead");
        }
      }
    }
  }
  facts.unsized_input = unsizedInput(body);
  if (facts.unsized_input.empty() && api == Api::kOpenAiResponses && referencesStoredItem(body, *top)) {
    facts.unsized_input = "an input item given by its id";
  }
  if (api == Api::kOpenAiChat && facts.stream) {
    auto include = find(body, Span{0, body.size()}, {"stream_options", "include_usage"});
    if (!include) return std::move(include).error();
    facts.usage_in_stream = *include && slice(body, **include) == "true";
  }
  return facts;
}

std::string setInteger(std::string_view body, const Field& field, int64_t value) {
  if (field.value) {
    std::string out(body);
    out.replace(field.value->begin, field.value->end - field.value->begin, std::to_string(value));
    return out;
  }
  return setMember(body, field.path, 0, std::to_string(value));
}

Result<std::string> requestStreamUsage(std::string_view body) {
  auto top = objectMembers(body);
  if (!top) return std::move(top).error();
  return setMember(body, {"stream_options", "include_usage"}, 0, "true");
}

namespace {

// ceil(tokens × price per million / 1e6), in 128 bits, clamped.
Micros priceOf(int64_t tokens, Micros per_million) {
  __int128 v = (static_cast<__int128>(tokens) * per_million + 999'999) / 1'000'000;
  return v > INT64_MAX ? INT64_MAX : static_cast<Micros>(v);
}

}  // namespace

Admission admit(const RequestFacts& facts, size_t body_bytes, const Price& price, Micros available,
                const AdmitOptions& options, std::optional<int64_t> counted_input) {
  Admission a;
  a.input_bound_tokens = static_cast<int64_t>(std::min<size_t>(body_bytes, size_t{1} << 40)) +
                         options.input_allowance_tokens;
  if (!facts.unsized_input.empty()) a.input_bound_tokens = std::max(a.input_bound_tokens, options.unsized_input_tokens);
  if (counted_input) a.input_bound_tokens = countedWithMargin(*counted_input);
  const int64_t choices = std::max<int64_t>(facts.choices, 1);
  a.choices = choices;
  a.asked = facts.output_limit.number ? *facts.output_limit.number : options.default_output_tokens;
  if (available == INT64_MAX) return a;  // uncapped: nothing to hold back
  Micros input_rate = std::max({price.input, price.cache_write_5m, price.cache_write_1h});
  Micros input_cost = priceOf(a.input_bound_tokens, input_rate);
  int64_t affordable = a.asked;
  if (price.output > 0) {
    Micros left = available > input_cost ? available - input_cost : 0;
    __int128 tokens = static_cast<__int128>(left) * 1'000'000 / price.output / choices;
    affordable = tokens > a.asked ? a.asked : static_cast<int64_t>(tokens);
  }
  if (input_cost > available || affordable < std::min(options.min_output_tokens, a.asked)) {
    a.refused = true;
    a.reason = "the sandbox's AI budget has $" + formatDollars(available) +
               " left, and this request may cost up to $" + formatDollars(input_cost) + " of input (" +
               std::to_string(a.input_bound_tokens) + " tokens at most" +
               (facts.unsized_input.empty() ? std::string()
                                            : ": it uses " + facts.unsized_input + ", which km cannot size") +
               ") before any output; raise it with `km budget add`";
    return a;
  }
  if (options.fixed_body && affordable < a.asked) {
    a.refused = true;
    a.reason = "the sandbox's AI budget has $" + formatDollars(available) + " left, which pays for " +
               std::to_string(affordable) + " of the " + std::to_string(a.asked) +
               " output tokens this request asks for, and km cannot lower its limit: the client signed the "
               "body (AWS SigV4). Lower the request's max tokens, raise the budget with `km budget add`, or "
               "let km sign Bedrock calls (ai.bedrock.credentialsFile in the operator config)";
    return a;
  }
  if (options.fixed_body) {
    a.reserve = std::min(available, input_cost + priceOf(a.asked * choices, price.output));
    return a;  // nothing to change: the limit asked for is paid for
  }
  if (affordable < a.asked || facts.output_limit.value) a.output_limit = affordable;
  if (facts.thinking_budget.number && *facts.thinking_budget.number >= affordable) {
    int64_t lowered = affordable - 1;
    if (lowered < kMinThinkingBudget) {
      a.refused = true;
      a.output_limit.reset();
      a.reason = "the sandbox's AI budget pays for " + std::to_string(affordable) +
                 " more output tokens, too few for extended thinking (budget_tokens must be at least " +
                 std::to_string(kMinThinkingBudget) + " and below max_tokens); raise it with `km budget add`";
      return a;
    }
    a.thinking_budget = lowered;
  }
  // Rounding up can make the output's share exceed what was left by under a micro-dollar:
  // the reservation never asks for more than is available.
  a.reserve = std::min(available, input_cost + priceOf(affordable * choices, price.output));
  return a;
}

namespace {

// `"key":value` of each member of `body` that `keep` takes, comma-separated, values as
// written. A key written with escapes is refused: unescaped it could carry JSON of its own.
template <class Keep>
Result<std::string> membersAsWritten(std::string_view body, const std::vector<Member>& members, Keep keep) {
  std::string out;
  for (const Member& m : members) {
    if (m.escaped) return invalidArgument("a key written with escapes is not counted");
    if (!keep(m.key)) continue;
    if (!out.empty()) out += ',';
    out += '"' + m.key + "\":";
    out += body.substr(m.value.begin, m.value.end - m.value.begin);
  }
  return out;
}

}  // namespace

Result<std::string> anthropicCountBody(std::string_view body) {
  auto members = objectMembers(body);
  if (!members) return std::move(members).error();
  // Everything but the sampling and delivery settings, which are no input: a member the count
  // dropped could be billed uncounted, while one the endpoint does not take only fails the
  // count (the size bound then stands).
  static constexpr std::string_view kDropped[] = {"max_tokens", "stream", "temperature", "top_p", "top_k",
                                                  "stop_sequences", "metadata", "service_tier"};
  auto kept = membersAsWritten(body, *members, [](const std::string& key) {
    return std::find(std::begin(kDropped), std::end(kDropped), key) == std::end(kDropped);
  });
  if (!kept) return std::move(kept).error();
  return "{" + *kept + "}";
}

Result<std::string> bedrockCountBody(Api api, std::string_view body) {
  auto members = objectMembers(body);
  if (!members) return std::move(members).error();
  if (api == Api::kBedrockInvoke || api == Api::kBedrockInvokeStream) {
    return R"({"input":{"invokeModel":{"body":")" + base64Encode(body) + R"("}}})";
  }
  if (api != Api::kBedrockConverse && api != Api::kBedrockConverseStream) {
    return invalidArgument("not a Bedrock call whose input can be counted");
  }
  static constexpr std::string_view kTaken[] = {"messages", "system", "toolConfig", "additionalModelRequestFields"};
  auto kept = membersAsWritten(body, *members, [](const std::string& key) {
    return std::find(std::begin(kTaken), std::end(kTaken), key) != std::end(kTaken);
  });
  if (!kept) return std::move(kept).error();
  return R"({"input":{"converse":{)" + *kept + "}}}";
}

int64_t countedWithMargin(int64_t counted) {
  counted = std::clamp<int64_t>(counted, 0, int64_t{1} << 40);
  return counted + counted / 50 + 64;
}

Result<int64_t> countedInputTokens(std::string_view answer, std::string_view key) {
  auto members = objectMembers(answer);
  if (!members) return std::move(members).error();
  for (const Member& m : *members) {
    if (m.key != key) continue;
    std::string_view v = answer.substr(m.value.begin, m.value.end - m.value.begin);
    int64_t n = 0;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (ec != std::errc() || end != v.data() + v.size() || n < 0 || n > (int64_t{1} << 40)) break;
    return n;
  }
  return invalidArgument("the token count has no " + std::string(key) + " integer");
}

Micros smallestCall(const Price& price, const AdmitOptions& options) {
  Micros input_rate = std::max({price.input, price.cache_write_5m, price.cache_write_1h});
  return priceOf(options.input_allowance_tokens, input_rate) + priceOf(options.min_output_tokens, price.output);
}

}  // namespace km::meter
