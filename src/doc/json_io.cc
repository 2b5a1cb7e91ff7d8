#include "doc/json_io.h"

#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <utility>

namespace km::doc {
namespace {

using Json = nlohmann::ordered_json;

// Plain decimal digits that fit in uint64_t, else nullopt.
std::optional<uint64_t> parseUnsigned(const std::string& t) {
  if (t.empty() || t.size() > 20) return std::nullopt;
  for (char c : t)
    if (c < '0' || c > '9') return std::nullopt;
  errno = 0;
  unsigned long long v = std::strtoull(t.c_str(), nullptr, 10);
  if (errno == ERANGE) return std::nullopt;
  return static_cast<uint64_t>(v);
}

Json toValue(const Node& n) {
  switch (n.kind()) {
    case Node::Kind::kNull: return nullptr;
    case Node::Kind::kBool: return n.asBool();
    case Node::Kind::kInt: {
      if (auto v = parseCoreInt(n.text())) return *v;
      // Above INT64_MAX but within uint64_t (parseJson makes these from JSON input).
      if (auto u = parseUnsigned(n.text())) return *u;
      return n.text();  // too large for a JSON integer we can write exactly
    }
    case Node::Kind::kFloat: {
      const std::string& t = n.text();
      if (t.find("inf") != std::string::npos || t.find("Inf") != std::string::npos ||
          t.find("INF") != std::string::npos || t.find("nan") != std::string::npos ||
          t.find("NaN") != std::string::npos || t.find("NAN") != std::string::npos) {
        return t;  // JSON has no infinity or NaN
      }
      return std::strtod(t.c_str(), nullptr);
    }
    case Node::Kind::kString: return n.text();
    case Node::Kind::kSeq: {
      Json a = Json::array();
      for (const auto& i : n.items()) a.push_back(toValue(i));
      return a;
    }
    case Node::Kind::kMap: {
      Json o = Json::object();
      for (const auto& e : n.entries()) o[e.key] = toValue(e.value);
      return o;
    }
  }
  return nullptr;
}

bool withinDepth(const Json& j, int depth) {
  if (depth > kMaxJsonDepth) return false;
  if (!j.is_structured()) return true;
  for (const auto& item : j) {
    if (!withinDepth(item, depth + 1)) return false;
  }
  return true;
}

// Recursion bounded by withinDepth() having passed.
Node toNode(const Json& j) {
  switch (j.type()) {
    case Json::value_t::object: {
      Node m = Node::map();
      for (const auto& [k, v] : j.items()) m.set(k, toNode(v));
      return m;
    }
    case Json::value_t::array: {
      Node s = Node::seq();
      for (const auto& v : j) s.push(toNode(v));
      return s;
    }
    case Json::value_t::string: return Node::string(j.get_ref<const std::string&>());
    case Json::value_t::boolean: return Node::boolean(j.get<bool>());
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned: return scalarNode(Node::Kind::kInt, j.dump(), {});
    case Json::value_t::number_float: return Node::number(j.dump());
    default: return Node::null();
  }
}

}  // namespace

bool parseJson(std::string_view text, Node& out, std::string* error) {
  Json j;
  try {
    j = Json::parse(text.begin(), text.end());
  } catch (const Json::exception& e) {  // parse_error: its what() gives line, column and why
    if (error) *error = e.what();
    return false;
  }
  if (!withinDepth(j, 0)) {
    if (error) *error = "JSON nests deeper than " + std::to_string(kMaxJsonDepth) + " levels";
    return false;
  }
  out = toNode(j);
  return true;
}

std::string toJson(const Node& node, int indent) {
  return toValue(node).dump(indent, ' ', false, Json::error_handler_t::replace);
}

}  // namespace km::doc
