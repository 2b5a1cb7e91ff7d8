// The audit records' JSON codec. Each record's fields are listed once (fields() below, in
// the order they are written); the Encoder and the Decoder both walk that list, so a field
// added to a record is written and read back by the same line.
#include <charconv>
#include <cstdio>
#include <ctime>
#include <limits>
#include <type_traits>

#include "audit/audit.h"
#include "doc/json_io.h"
#include "doc/node.h"

namespace km::audit {
namespace {

constexpr std::string_view kDnsLayer = "dns";
constexpr std::string_view kConnectLayer = "connect";
constexpr std::string_view kHttpLayer = "http";
constexpr std::string_view kExecLayer = "exec";
constexpr std::string_view kExitLayer = "exit";
constexpr std::string_view kGapLayer = "gap";

template <typename V, typename R>
  requires std::is_same_v<std::remove_const_t<R>, DnsRecord>
void fields(V& v, R& r) {
  v.time("time", r.time);
  v.layer(kDnsLayer);
  v.text("client", r.client);
  v.text("transport", r.transport);
  v.text("name", r.name);
  v.text("type", r.type);
  v.decision("decision", r.decision);
  v.text("reason", r.reason);
  v.text("rcode", r.rcode);
  v.boolean("cached", r.cached);
  v.list("addresses", r.addresses, /*omit_empty=*/false);
  v.list("withheld", r.withheld, /*omit_empty=*/true);
}

template <typename V, typename R>
  requires std::is_same_v<std::remove_const_t<R>, ConnectRecord>
void fields(V& v, R& r) {
  v.time("time", r.time);
  v.layer(kConnectLayer);
  v.number("pid", r.pid);
  v.text("comm", r.comm);
  v.optionalNumber("uid", r.uid);
  v.text("dest", r.dest);
  v.number("port", r.port);
  v.text("protocol", r.protocol);
  v.text("name", r.name);
  v.decision("decision", r.decision);
  v.text("reason", r.reason);
}

template <typename V, typename R>
  requires std::is_same_v<std::remove_const_t<R>, HttpRecord>
void fields(V& v, R& r) {
  v.time("time", r.time);
  v.layer(kHttpLayer);
  v.text("client", r.client);
  v.text("listener", r.listener);
  v.text("method", r.method);
  v.text("host", r.host);
  v.number("port", r.port);
  v.text("path", r.path);
  v.text("dest", r.dest);
  v.text("mode", r.mode);
  v.number("status", r.status);
  v.number("bytesUp", r.bytes_up);
  v.number("bytesDown", r.bytes_down);
  v.number("durationUs", r.duration_us);
  v.decision("decision", r.decision);
  v.text("reason", r.reason);
}

template <typename V, typename R>
  requires std::is_same_v<std::remove_const_t<R>, ExecRecord>
void fields(V& v, R& r) {
  v.time("time", r.time);
  v.layer(kExecLayer);
  v.number("pid", r.pid);
  v.number("ppid", r.ppid);
  v.number("hostPid", r.host_pid);
  v.number("uid", r.uid);
  v.text("path", r.path);
  v.text("exe", r.exe);
  v.list("argv", r.argv, /*omit_empty=*/false);
  v.text("cwd", r.cwd);
  v.boolean("truncated", r.truncated);
}

template <typename V, typename R>
  requires std::is_same_v<std::remove_const_t<R>, ExitRecord>
void fields(V& v, R& r) {
  v.time("time", r.time);
  v.layer(kExitLayer);
  v.number("pid", r.pid);
  v.number("hostPid", r.host_pid);
  v.optionalNumber("status", r.status);
  v.optionalNumber("signal", r.signal);
  v.boolean("core", r.core);
  v.number("durationUs", r.duration_us);
}

template <typename V, typename R>
  requires std::is_same_v<std::remove_const_t<R>, GapRecord>
void fields(V& v, R& r) {
  v.time("time", r.time);
  v.layer(kGapLayer);
  v.text("source", r.source);
  v.number("count", r.count);
}

// ---- encoding

void jsonString(std::string& out, std::string_view v) {
  out.push_back('"');
  for (char ch : v) {
    auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        // Controls, DEL, and bytes ≥ 0x80 (each written as the code point of its value, so
        // the line is ASCII whatever the bytes and decode gives the same bytes back).
        if (c < 0x20 || c >= 0x7F) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out.push_back(ch);
        }
    }
  }
  out.push_back('"');
}

class Encoder {
 public:
  explicit Encoder(std::string& out) : out_(out) { out_.push_back('{'); }
  void finish() { out_ += "}\n"; }

  void time(std::string_view key, WallTime t) { raw(key, '"' + formatTime(t) + '"'); }
  void layer(std::string_view name) { text("layer", name); }
  void text(std::string_view key, std::string_view value) {
    this->key(key);
    jsonString(out_, value);
  }
  void decision(std::string_view key, Decision d) { text(key, decisionName(d)); }
  void boolean(std::string_view key, bool b) { raw(key, b ? "true" : "false"); }
  template <typename N>
  void number(std::string_view key, N n) {
    raw(key, std::to_string(n));
  }
  template <typename N>
  void optionalNumber(std::string_view key, const std::optional<N>& n) {
    if (n) number(key, *n);
  }
  void list(std::string_view key, const std::vector<std::string>& items, bool omit_empty) {
    if (omit_empty && items.empty()) return;
    this->key(key);
    out_.push_back('[');
    for (size_t i = 0; i < items.size(); ++i) {
      if (i) out_.push_back(',');
      jsonString(out_, items[i]);
    }
    out_.push_back(']');
  }

 private:
  void key(std::string_view k) {
    if (!first_) out_.push_back(',');
    first_ = false;
    jsonString(out_, k);
    out_.push_back(':');
  }
  void raw(std::string_view k, std::string_view value) {
    key(k);
    out_ += value;
  }

  std::string& out_;
  bool first_ = true;
};

// ---- decoding

// The decoded text (UTF-8: parseJson checked it) with every code point U+0080..U+00FF
// turned back into the one byte it stands for, as the encoder writes each byte ≥ 0x80;
// other code points (a line km did not write) stay UTF-8.
std::string bytesOf(const std::string& utf8) {
  std::string out;
  out.reserve(utf8.size());
  for (size_t i = 0; i < utf8.size(); ++i) {
    auto c = static_cast<unsigned char>(utf8[i]);
    if ((c == 0xC2 || c == 0xC3) && i + 1 < utf8.size()) {
      auto next = static_cast<unsigned char>(utf8[i + 1]);
      out.push_back(static_cast<char>(((c & 0x03) << 6) | (next & 0x3F)));
      ++i;
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

std::optional<WallTime> parseTime(std::string_view s) {
  // YYYY-MM-DDTHH:MM:SS[.f…]Z
  if (s.size() < 20 || s.back() != 'Z' || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
      s[16] != ':') {
    return std::nullopt;
  }
  auto num = [&](size_t at, size_t len, int& out) {
    auto r = std::from_chars(s.data() + at, s.data() + at + len, out);
    return r.ec == std::errc() && r.ptr == s.data() + at + len;
  };
  tm t{};
  int year = 0, month = 0;
  if (!num(0, 4, year) || !num(5, 2, month) || !num(8, 2, t.tm_mday) || !num(11, 2, t.tm_hour) ||
      !num(14, 2, t.tm_min) || !num(17, 2, t.tm_sec)) {
    return std::nullopt;
  }
  // Years a clock of nanoseconds holds (to 2262) and strftime writes with four digits.
  if (year < 1970 || year > 2200 || month < 1 || month > 12 || t.tm_mday < 1 || t.tm_mday > 31 || t.tm_hour > 23 || t.tm_min > 59 ||
      t.tm_sec > 60) {
    return std::nullopt;
  }
  t.tm_year = year - 1900;
  t.tm_mon = month - 1;
  int64_t micros = 0;
  std::string_view frac = s.substr(19, s.size() - 20);
  if (!frac.empty()) {
    if (frac[0] != '.' || frac.size() < 2 || frac.size() > 10) return std::nullopt;
    int64_t scale = 100000;
    for (char c : frac.substr(1)) {
      if (c < '0' || c > '9') return std::nullopt;
      micros += (c - '0') * scale;
      scale /= 10;
    }
  }
  time_t secs = ::timegm(&t);
  return WallTime(std::chrono::duration_cast<WallTime::duration>(std::chrono::seconds(secs) +
                                                                  std::chrono::microseconds(micros)));
}

class Decoder {
 public:
  explicit Decoder(const doc::Node& n) : n_(n) {}
  const std::optional<std::string>& problem() const { return problem_; }

  void time(std::string_view key, WallTime& t) {
    const doc::Node* v = need(key);
    if (!v) return;
    auto parsed = v->kind() == doc::Node::Kind::kString ? parseTime(v->text()) : std::nullopt;
    if (!parsed) return fail(std::string(key) + " is not a time like 2026-01-02T03:04:05.678901Z");
    t = *parsed;
  }
  void layer(std::string_view) {}  // read before the fields, to choose them
  void text(std::string_view key, std::string& out) {
    const doc::Node* v = n_.find(key);
    if (!v) return;
    if (v->kind() != doc::Node::Kind::kString) return fail(std::string(key) + " is not a string");
    out = bytesOf(v->text());
  }
  void decision(std::string_view key, Decision& d) {
    const doc::Node* v = need(key);
    if (!v) return;
    if (v->text() == "allow") d = Decision::kAllow;
    else if (v->text() == "deny") d = Decision::kDeny;
    else if (v->text() == "redirect") d = Decision::kRedirect;
    else fail(std::string(key) + " is not allow, deny or redirect");
  }
  void boolean(std::string_view key, bool& b) {
    const doc::Node* v = n_.find(key);
    if (!v) return;
    if (v->kind() != doc::Node::Kind::kBool) return fail(std::string(key) + " is not true or false");
    b = v->text() == "true";
  }
  template <typename N>
  void number(std::string_view key, N& n) {
    const doc::Node* v = n_.find(key);
    if (!v) return;
    uint64_t value = 0;
    const std::string& t = v->text();
    auto r = std::from_chars(t.data(), t.data() + t.size(), value);
    if (v->kind() != doc::Node::Kind::kInt || r.ec != std::errc() || r.ptr != t.data() + t.size() ||
        value > std::numeric_limits<N>::max()) {
      return fail(std::string(key) + " is not a number from 0 to " + std::to_string(std::numeric_limits<N>::max()));
    }
    n = static_cast<N>(value);
  }
  template <typename N>
  void optionalNumber(std::string_view key, std::optional<N>& n) {
    if (!n_.find(key)) return;
    N value{};
    number(key, value);
    n = value;
  }
  void list(std::string_view key, std::vector<std::string>& items, bool) {
    const doc::Node* v = n_.find(key);
    if (!v) return;
    if (!v->isSeq()) return fail(std::string(key) + " is not a list");
    for (const auto& item : v->items()) {
      if (item.kind() != doc::Node::Kind::kString) return fail(std::string(key) + " has an item that is not a string");
      items.push_back(bytesOf(item.text()));
    }
  }

 private:
  const doc::Node* need(std::string_view key) {
    const doc::Node* v = n_.find(key);
    if (!v) fail("no " + std::string(key));
    return v;
  }
  void fail(std::string why) {
    if (!problem_) problem_ = std::move(why);
  }

  const doc::Node& n_;
  std::optional<std::string> problem_;
};

template <typename R>
Result<Record> decodeAs(const doc::Node& n) {
  R r;
  Decoder d(n);
  fields(d, r);
  if (d.problem()) return invalidArgument("not an audit record: " + *d.problem());
  return Record(std::move(r));
}

}  // namespace

std::string_view decisionName(Decision d) {
  switch (d) {
    case Decision::kAllow: return "allow";
    case Decision::kDeny: return "deny";
    case Decision::kRedirect: return "redirect";
  }
  return "deny";
}

std::string_view layerName(const Record& record) {
  static constexpr std::string_view kLayers[] = {kDnsLayer, kConnectLayer, kHttpLayer, kExecLayer, kExitLayer, kGapLayer};
  static_assert(std::size(kLayers) == std::variant_size_v<Record>);
  return kLayers[record.index()];
}

WallTime recordTime(const Record& record) {
  return std::visit([](const auto& r) { return r.time; }, record);
}

std::string formatTime(WallTime t) {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
  auto secs = static_cast<time_t>(us / 1000000);
  auto frac = us % 1000000;
  if (frac < 0) {  // before 1970: the fraction counts up from the second before
    frac += 1000000;
    --secs;
  }
  tm utc{};
  ::gmtime_r(&secs, &utc);
  char buf[64];
  size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &utc);
  std::snprintf(buf + n, sizeof buf - n, ".%06lldZ", static_cast<long long>(frac));
  return buf;
}

void encode(const Record& record, std::string& out) {
  std::visit(
      [&](const auto& r) {
        Encoder e(out);
        fields(e, r);
        e.finish();
      },
      record);
}

std::string encode(const Record& record) {
  std::string out;
  encode(record, out);
  return out;
}

Result<Record> decode(std::string_view line) {
  if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
  doc::Node n;
  std::string err;
  if (!doc::parseJson(line, n, &err)) return invalidArgument("not an audit record: " + err);
  if (!n.isMap()) return invalidArgument("not an audit record: not a JSON object");
  const doc::Node* layer = n.find("layer");
  if (!layer) return invalidArgument("not an audit record: no layer");
  if (layer->kind() == doc::Node::Kind::kString && layer->text() == kDnsLayer) return decodeAs<DnsRecord>(n);
  if (layer->kind() == doc::Node::Kind::kString && layer->text() == kConnectLayer) return decodeAs<ConnectRecord>(n);
  if (layer->kind() == doc::Node::Kind::kString && layer->text() == kHttpLayer) return decodeAs<HttpRecord>(n);
  if (layer->kind() == doc::Node::Kind::kString && layer->text() == kExecLayer) return decodeAs<ExecRecord>(n);
  if (layer->kind() == doc::Node::Kind::kString && layer->text() == kExitLayer) return decodeAs<ExitRecord>(n);
  if (layer->kind() == doc::Node::Kind::kString && layer->text() == kGapLayer) return decodeAs<GapRecord>(n);
  return invalidArgument("not an audit record: unknown layer '" + layer->text() + "'");
}

}  // namespace km::audit
