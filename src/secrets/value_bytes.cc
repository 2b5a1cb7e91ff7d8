#include "secrets/value_bytes.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>

#include "core/strings.h"

namespace km::secrets {
namespace {

// Go's strconv.ParseBool.
std::optional<bool> goParseBool(std::string_view s) {
  for (std::string_view t : {"1", "t", "T", "TRUE", "true", "True"})
    if (s == t) return true;
  for (std::string_view f : {"0", "f", "F", "FALSE", "false", "False"})
    if (s == f) return false;
  return std::nullopt;
}

// Go's strconv.Atoi on a 64-bit machine: an optional sign, then decimal digits only.
std::optional<int64_t> goAtoi(std::string_view s) {
  bool plus = !s.empty() && s[0] == '+';
  if (plus) s.remove_prefix(1);
  if (s.empty() || s[0] == '+' || (plus && s[0] == '-')) return std::nullopt;
  int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v, 10);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

// Go's strconv.ParseFloat(s, 64) for the forms sops writes and people type: decimal with an
// optional sign and exponent, and Inf / Infinity / NaN in any case. (Go's hex floats and
// underscores are refused; sops never writes them.)
std::optional<double> goParseFloat(std::string_view s) {
  bool neg = false;
  std::string_view body = s;
  if (!body.empty() && (body[0] == '+' || body[0] == '-')) {
    neg = body[0] == '-';
    body.remove_prefix(1);
  }
  std::string lower = toLower(body);
  if (lower == "inf" || lower == "infinity") {
    return neg ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
  }
  if (lower == "nan") return std::numeric_limits<double>::quiet_NaN();
  if (body.empty() || !(std::isdigit(static_cast<unsigned char>(body[0])) || body[0] == '.')) return std::nullopt;
  double v = 0;
  auto [end, ec] = std::from_chars(body.data(), body.data() + body.size(), v, std::chars_format::general);
  if (ec != std::errc() || end != body.data() + body.size()) return std::nullopt;
  return neg ? -v : v;
}

// A YAML 1.2 float the way Go's YAML reader takes it (.inf, -.Inf, .nan as well).
std::optional<double> yamlFloat(std::string_view s) {
  std::string lower = toLower(s);
  if (lower == ".inf" || lower == "+.inf") return std::numeric_limits<double>::infinity();
  if (lower == "-.inf") return -std::numeric_limits<double>::infinity();
  if (lower == ".nan") return std::numeric_limits<double>::quiet_NaN();
  return goParseFloat(s);
}

}  // namespace

std::string goFormatFloat(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  // Shortest digits that read back as `v`, never an exponent: what Go's 'f' with precision -1
  // writes (1e21 is "1000000000000000000000" in both).
  char buf[400];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed);
  if (ec != std::errc()) return "NaN";  // cannot happen: 400 bytes hold any double in 'f' form
  return std::string(buf, end);
}

Result<TypedValue> typedValue(std::string_view type, std::string plain) {
  using Kind = doc::Node::Kind;
  TypedValue t{Kind::kString, {}, {}};
  if (type == "str" || type == "bytes" || type == "time") {
    // time: sops 3.9+ writes YAML timestamps as RFC 3339 text and hashes that same text.
    t.mac_bytes = plain;
    t.text = std::move(plain);
  } else if (type == "int" || type == "int64") {
    auto v = goAtoi(plain);
    if (!v) return invalidArgument("a value of type " + std::string(type) + " does not decrypt to an integer");
    t.kind = Kind::kInt;
    t.mac_bytes = std::to_string(*v);
    t.text = std::move(plain);
  } else if (type == "float") {
    auto v = goParseFloat(plain);
    if (!v) return invalidArgument("a value of type float does not decrypt to a number");
    t.kind = Kind::kFloat;
    t.mac_bytes = goFormatFloat(*v);
    t.text = std::move(plain);
  } else if (type == "bool") {
    auto v = goParseBool(plain);
    if (!v) return invalidArgument("a value of type bool does not decrypt to True or False");
    t.kind = Kind::kBool;
    t.mac_bytes = *v ? "True" : "False";
    t.text = *v ? "true" : "false";
  } else if (type == "comment") {
    return invalidArgument("a value has the type of a comment");
  } else {
    return invalidArgument("unknown ENC[...] value type " + quoted(type) +
                           " (sops writes str, int, float, bool, bytes)");
  }
  return t;
}

std::optional<std::string> plainMacBytes(const doc::Node& scalar) {
  using Kind = doc::Node::Kind;
  switch (scalar.kind()) {
    case Kind::kNull:
      return std::nullopt;
    case Kind::kBool:
      return scalar.asBool() ? "True" : "False";
    case Kind::kInt:
      if (auto v = doc::parseCoreInt(scalar.text())) return std::to_string(*v);
      return scalar.text();
    case Kind::kFloat:
      if (auto v = yamlFloat(scalar.text())) return goFormatFloat(*v);
      return scalar.text();
    default:
      return scalar.text();
  }
}

}  // namespace km::secrets
