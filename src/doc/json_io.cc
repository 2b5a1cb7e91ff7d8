#include "doc/json_io.h"

#include <nlohmann/json.hpp>

#include <cstdlib>

namespace km::doc {
namespace {

using Json = nlohmann::ordered_json;

Json toValue(const Node& n) {
  switch (n.kind()) {
    case Node::Kind::kNull: return nullptr;
    case Node::Kind::kBool: return n.asBool();
    case Node::Kind::kInt: {
      if (auto v = parseCoreInt(n.text())) return *v;
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

}  // namespace

std::string toJson(const Node& node, int indent) {
  return toValue(node).dump(indent, ' ', false, Json::error_handler_t::replace);
}

}  // namespace km::doc
