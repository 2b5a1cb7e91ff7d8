#include "doc/describe.h"

#include "core/strings.h"
#include "doc/pattern.h"

namespace km::doc {
namespace {

std::string shown(const Node& n) {
  if (n.isNull()) return "nothing";
  if (n.isSeq()) return "a list";
  if (n.isMap()) return "a mapping";
  std::string t = n.text();
  if (t.size() > 40) t = t.substr(0, 37) + "...";
  return std::string(n.kindName()) + " (" + t + ")";
}

std::string listValues(const std::vector<std::string_view>& v) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) out += ", ";
    out += v[i].empty() ? "\"\"" : std::string(v[i]);
  }
  return out;
}

}  // namespace

void DecodeContext::typeError(const Node& at, const std::string& path, std::string_view expected) {
  std::string msg = "expected " + std::string(expected) + ", got " + shown(at);
  if (at.isNull()) {
    msg += "; give it a value";
    if (expected == "a list") msg += " (write [] for an empty list)";
    else if (expected == "a mapping") msg += " or remove the key";
  } else if (expected == "a string" && at.isScalar()) {
    msg += "; put it in quotes: \"" + at.text() + "\"";
  } else if (expected == "true or false" && at.kind() == Node::Kind::kString) {
    std::string low = toLower(at.text());
    if (low == "yes" || low == "on" || low == "y") msg += "; write true";
    else if (low == "no" || low == "off" || low == "n") msg += "; write false";
    else msg += "; write true or false without quotes";
  } else if (expected == "a list" && at.isScalar()) {
    msg += "; write it as a list: [" + at.text() + "]";
  }
  error(at, path, std::move(msg));
}

bool DecodeContext::decodeString(const Node& n, std::string& out, const std::string& path,
                                 const Rules& r) {
  // No value a pattern describes (hosts, refs, durations, ids) comes near this length; the
  // bound keeps each match's work small.
  if (!r.pattern.empty() && n.isScalar() && n.text().size() > kMaxPatternInput) {
    error(n, path, "is " + std::to_string(n.text().size()) + " characters long; at most " +
                       std::to_string(kMaxPatternInput) + " are allowed here");
    return false;
  }
  if (n.kind() != Node::Kind::kString) {
    // Quoting only helps when the quoted text would be valid; otherwise say what is.
    if (n.isScalar() && !n.isNull() && !r.pattern.empty() && !r.enum_or_pattern &&
        !patternSearch(r.pattern, n.text())) {
      error(n, path, "expected a string, got " + std::string(n.kindName()) + " (" + n.text() +
                         "); write " + std::string(r.hint.empty() ? r.pattern : r.hint));
      return false;
    }
    typeError(n, path, "a string");
    return false;
  }
  out = n.text();
  bool in_enum = false;
  if (!r.one_of.empty()) {
    for (auto v : r.one_of)
      if (v == out) in_enum = true;
  }
  bool matches = !r.pattern.empty() && patternSearch(r.pattern, out);
  if (r.enum_or_pattern) {
    if (!in_enum && !matches) {
      error(n, path, "\"" + out + "\" is not valid; use one of " + listValues(r.one_of) +
                         ", or " + std::string(r.hint));
      return false;
    }
    return true;
  }
  if (!r.one_of.empty() && !in_enum) {
    std::string msg = "\"" + out + "\" is not allowed; use one of: " + listValues(r.one_of);
    if (auto guess = closestMatch(out, r.one_of)) msg += " (did you mean \"" + *guess + "\"?)";
    error(n, path, std::move(msg));
    return false;
  }
  if (out.size() < r.min_length) {
    error(n, path, out.empty() ? "must not be empty" : "is too short");
    return false;
  }
  if (!r.pattern.empty() && !matches) {
    std::string shown = out.size() > 80 ? out.substr(0, 77) + "..." : out;
    std::string msg = "\"" + shown + "\" is not " + std::string(r.hint.empty() ? r.pattern : r.hint) +
                      " (must match " + std::string(r.pattern) + ")";
    // "*.example.com" is the commonest way to try to say "a domain and its subdomains".
    if (startsWith(out, "*.") && patternSearch(r.pattern, std::string_view(out).substr(1))) {
      msg += "; did you mean \"" + out.substr(1) + "\"?";
    }
    error(n, path, std::move(msg));
    return false;
  }
  return true;
}

bool DecodeContext::decodeBool(const Node& n, bool& out, const std::string& path) {
  if (n.kind() != Node::Kind::kBool) {
    typeError(n, path, "true or false");
    return false;
  }
  out = n.asBool();
  return true;
}

bool DecodeContext::decodeInt(const Node& n, int64_t& out, const std::string& path, const Rules& r) {
  if (n.kind() == Node::Kind::kFloat) {
    error(n, path, "expected a whole number, got " + n.text());
    return false;
  }
  if (n.kind() != Node::Kind::kInt) {
    typeError(n, path, "a whole number");
    return false;
  }
  std::optional<int64_t> v = parseCoreInt(n.text());
  if (!v) {
    error(n, path, n.text() + " is out of range");
    return false;
  }
  out = *v;
  if (r.min && out < *r.min) {
    error(n, path, "must be at least " + std::to_string(*r.min) + ", got " + n.text());
    return false;
  }
  if (r.max && out > *r.max) {
    error(n, path, "must be at most " + std::to_string(*r.max) + ", got " + n.text());
    return false;
  }
  return true;
}

namespace {

bool decodeMillionths(DecodeContext& c, const Node& n, int64_t& out, const std::string& path,
                      const Rules& r, bool dollars) {
  if (n.kind() != Node::Kind::kInt && n.kind() != Node::Kind::kFloat) {
    c.typeError(n, path, "a number");
    return false;
  }
  auto parsed = dollars ? parseDollars(n.text()) : parseRatio(n.text());
  if (!parsed) {
    c.error(n, path, parsed.error().message());
    return false;
  }
  out = *parsed;
  auto show = [&](int64_t v) { return dollars ? formatDollars(v) : formatRatio(v); };
  if (r.min && out < *r.min) {
    c.error(n, path, "must be at least " + show(*r.min) + ", got " + n.text());
    return false;
  }
  if (r.max && out > *r.max) {
    c.error(n, path, "must be at most " + show(*r.max) + ", got " + n.text());
    return false;
  }
  return true;
}

}  // namespace

bool DecodeContext::decodeDollars(const Node& n, Dollars& out, const std::string& path, const Rules& r) {
  return decodeMillionths(*this, n, out.micros, path, r, true);
}

bool DecodeContext::decodeRatio(const Node& n, Ratio& out, const std::string& path, const Rules& r) {
  return decodeMillionths(*this, n, out.ppm, path, r, false);
}

void DecodeContext::unknownField(const MapEntry& e, const std::string& path,
                                 const std::vector<std::string_view>& allowed) {
  std::string msg = "unknown field \"" + e.key + "\"";
  if (auto guess = closestMatch(e.key, allowed)) {
    msg += "; did you mean \"" + *guess + "\"?";
  } else {
    msg += "; fields allowed here: " + listValues(allowed);
  }
  diags_.error(e.key_mark, childPath(path, e.key), std::move(msg));
}

void DecodeContext::missingField(const Node& map, const std::string& path, std::string_view name,
                                 std::string_view example) {
  std::string msg = "required field \"" + std::string(name) + "\" is missing";
  if (!example.empty()) msg += "; add it, e.g. " + std::string(name) + ": " + std::string(example);
  diags_.error(map.mark(), path, std::move(msg));
}

void Codec<StringMap>::decode(const Node& n, StringMap& v, DecodeContext& c, const std::string& p,
                              const Rules&) {
  if (!n.isMap()) return c.typeError(n, p, "a mapping");
  v.clear();
  for (const auto& e : n.entries()) {
    std::string value;
    if (c.decodeString(e.value, value, childPath(p, e.key), Rules{})) v.emplace_back(e.key, value);
  }
}

std::optional<Node> Codec<StringMap>::encode(const StringMap& v) {
  Node m = Node::map();
  for (const auto& [k, val] : v) m.set(k, Node::string(val));
  return m;
}

void Codec<StringListMap>::decode(const Node& n, StringListMap& v, DecodeContext& c, const std::string& p,
                                  const Rules& r) {
  if (!n.isMap()) return c.typeError(n, p, "a mapping of names to lists");
  v.clear();
  for (const auto& e : n.entries()) {
    std::string path = childPath(p, e.key);
    if (!e.value.isSeq()) {
      c.typeError(e.value, path, "a list");
      continue;
    }
    std::vector<std::string> items;
    for (size_t i = 0; i < e.value.items().size(); ++i) {
      std::string s;
      if (c.decodeString(e.value.items()[i], s, indexPath(path, i), r)) items.push_back(std::move(s));
    }
    v.emplace_back(e.key, std::move(items));
  }
}

std::optional<Node> Codec<StringListMap>::encode(const StringListMap& v) {
  Node m = Node::map();
  for (const auto& [k, items] : v) {
    Node s = Node::seq();
    for (const auto& x : items) s.push(Node::string(x));
    m.set(k, std::move(s));
  }
  return m;
}

void Codec<StringOrList>::decode(const Node& n, StringOrList& v, DecodeContext& c,
                                 const std::string& p, const Rules& r) {
  v.values.clear();
  if (n.kind() == Node::Kind::kString) {
    v.was_list = false;
    v.values.push_back(n.text());
    if (n.text().empty()) c.error(n, p, "must not be empty");
    return;
  }
  if (!n.isSeq()) return c.typeError(n, p, "a name or a list of names");
  v.was_list = true;
  for (size_t i = 0; i < n.items().size(); ++i) {
    std::string s;
    if (c.decodeString(n.items()[i], s, indexPath(p, i), r)) v.values.push_back(s);
  }
}

std::optional<Node> Codec<StringOrList>::encode(const StringOrList& v) {
  if (!v.was_list && v.values.size() == 1) return Node::string(v.values[0]);
  Node s = Node::seq();
  for (const auto& x : v.values) s.push(Node::string(x));
  return s;
}

Node Codec<StringOrList>::schema(const Rules&) {
  Node any = Node::seq();
  any.push(schemaString(Rules{}));
  any.push(schemaArray(schemaString(Rules{}), Rules{}));
  Node s = Node::map();
  s.set("oneOf", std::move(any));
  return s;
}

Node schemaString(const Rules& r) {
  Node s = Node::map();
  s.set("type", Node::string("string"));
  auto enumNode = [&] {
    Node e = Node::seq();
    for (auto v : r.one_of) e.push(Node::string(std::string(v)));
    return e;
  };
  if (r.enum_or_pattern) {
    Node a = Node::map();
    a.set("enum", enumNode());
    Node b = Node::map();
    b.set("pattern", Node::string(std::string(r.pattern)));
    Node any = Node::seq();
    any.push(std::move(a));
    any.push(std::move(b));
    s.set("anyOf", std::move(any));
    return s;
  }
  if (!r.one_of.empty()) s.set("enum", enumNode());
  if (!r.pattern.empty()) s.set("pattern", Node::string(std::string(r.pattern)));
  if (r.min_length) s.set("minLength", Node::integer(static_cast<int64_t>(r.min_length)));
  if (!r.format.empty()) s.set("format", Node::string(std::string(r.format)));
  return s;
}

Node schemaBool() {
  Node s = Node::map();
  s.set("type", Node::string("boolean"));
  return s;
}

Node schemaInt(const Rules& r) {
  Node s = Node::map();
  s.set("type", Node::string("integer"));
  if (r.min) s.set("minimum", Node::integer(*r.min));
  if (r.max) s.set("maximum", Node::integer(*r.max));
  return s;
}

Node schemaMillionths(const Rules& r, bool dollars) {
  auto show = [&](int64_t v) { return dollars ? formatDollars(v) : formatRatio(v); };
  Node s = Node::map();
  s.set("type", Node::string("number"));
  if (r.min) s.set("minimum", Node::number(show(*r.min)));
  if (r.max) s.set("maximum", Node::number(show(*r.max)));
  return s;
}

Node schemaArray(Node items, const Rules& r) {
  Node s = Node::map();
  s.set("type", Node::string("array"));
  s.set("items", std::move(items));
  if (r.min_items) s.set("minItems", Node::integer(static_cast<int64_t>(r.min_items)));
  return s;
}

Node schemaStringMap() {
  Node s = Node::map();
  s.set("type", Node::string("object"));
  s.set("additionalProperties", schemaString(Rules{}));
  return s;
}

Node schemaStringListMap() {
  Node s = Node::map();
  s.set("type", Node::string("object"));
  s.set("additionalProperties", schemaArray(schemaString(Rules{}), Rules{}));
  return s;
}

Node schemaAny() {
  Node s = Node::map();
  s.set("type", Node::string("object"));
  s.set("additionalProperties", Node::boolean(true));
  return s;
}

}  // namespace km::doc
