#include "doc/node.h"

#include <charconv>

namespace km::doc {

const std::string& Mark::fileName() const {
  static const std::string kEmpty;
  return file ? *file : kEmpty;
}

Node scalarNode(Node::Kind kind, std::string text, Mark m) {
  Node n;
  n.kind_ = kind;
  n.text_ = std::move(text);
  n.mark_ = std::move(m);
  return n;
}

Node Node::null(Mark m) { return scalarNode(Kind::kNull, "", std::move(m)); }
Node Node::boolean(bool v, Mark m) { return scalarNode(Kind::kBool, v ? "true" : "false", std::move(m)); }
Node Node::integer(int64_t v, Mark m) { return scalarNode(Kind::kInt, std::to_string(v), std::move(m)); }
Node Node::number(std::string text, Mark m) { return scalarNode(Kind::kFloat, std::move(text), std::move(m)); }
Node Node::string(std::string v, Mark m) { return scalarNode(Kind::kString, std::move(v), std::move(m)); }
Node Node::seq(Mark m) { return scalarNode(Kind::kSeq, "", std::move(m)); }
Node Node::map(Mark m) { return scalarNode(Kind::kMap, "", std::move(m)); }

const MapEntry* Node::findEntry(std::string_view key) const {
  for (const auto& e : entries_)
    if (e.key == key) return &e;
  return nullptr;
}

const Node* Node::find(std::string_view key) const {
  const MapEntry* e = findEntry(key);
  return e ? &e->value : nullptr;
}

Node* Node::find(std::string_view key) {
  for (auto& e : entries_)
    if (e.key == key) return &e.value;
  return nullptr;
}

Node& Node::set(std::string key, Node value, Mark key_mark) {
  if (Node* existing = find(key)) {
    *existing = std::move(value);
    return *existing;
  }
  entries_.push_back(MapEntry{std::move(key), std::move(key_mark), std::move(value)});
  return entries_.back().value;
}

bool Node::erase(std::string_view key) {
  for (auto it = entries_.begin(); it != entries_.end(); ++it) {
    if (it->key == key) {
      entries_.erase(it);
      return true;
    }
  }
  return false;
}

bool Node::sameValue(const Node& other) const {
  if (kind_ != other.kind_) return false;
  switch (kind_) {
    case Kind::kNull: return true;
    case Kind::kBool: return asBool() == other.asBool();
    case Kind::kSeq:
      if (items_.size() != other.items_.size()) return false;
      for (size_t i = 0; i < items_.size(); ++i)
        if (!items_[i].sameValue(other.items_[i])) return false;
      return true;
    case Kind::kMap:
      if (entries_.size() != other.entries_.size()) return false;
      for (const auto& e : entries_) {
        const Node* o = other.find(e.key);
        if (!o || !e.value.sameValue(*o)) return false;
      }
      return true;
    default: return text_ == other.text_;
  }
}

std::string_view Node::kindName() const {
  switch (kind_) {
    case Kind::kNull: return "nothing (null)";
    case Kind::kBool: return "a boolean";
    case Kind::kInt: return "a whole number";
    case Kind::kFloat: return "a number";
    case Kind::kString: return "a string";
    case Kind::kSeq: return "a list";
    case Kind::kMap: return "a mapping";
  }
  return "a value";
}

namespace {

bool isDigit(char c) { return c >= '0' && c <= '9'; }

// Skips the run of characters at `i` that `in` accepts; says whether there was one.
template <class In>
bool run(std::string_view t, size_t& i, In in) {
  size_t from = i;
  while (i < t.size() && in(t[i])) ++i;
  return i > from;
}

// YAML 1.2 core schema integers: [-+]?[0-9]+ | 0o[0-7]+ | 0x[0-9a-fA-F]+
bool isCoreInt(std::string_view t) {
  size_t i = 0;
  if (t.size() > 2 && t[0] == '0' && (t[1] == 'o' || t[1] == 'x')) {
    i = 2;
    if (t[1] == 'o') return run(t, i, [](char c) { return c >= '0' && c <= '7'; }) && i == t.size();
    return run(t, i, [](char c) { return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }) &&
           i == t.size();
  }
  if (i < t.size() && (t[i] == '-' || t[i] == '+')) ++i;
  return run(t, i, isDigit) && i == t.size();
}

// YAML 1.2 core schema floats: [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
// | [-+]?\.(inf|Inf|INF) | \.(nan|NaN|NAN)
bool isCoreFloat(std::string_view t) {
  if (t == ".nan" || t == ".NaN" || t == ".NAN") return true;
  size_t i = 0;
  if (i < t.size() && (t[i] == '-' || t[i] == '+')) ++i;
  std::string_view rest = t.substr(i);
  if (rest == ".inf" || rest == ".Inf" || rest == ".INF") return true;
  if (i < t.size() && t[i] == '.') {
    ++i;
    if (!run(t, i, isDigit)) return false;
  } else {
    if (!run(t, i, isDigit)) return false;
    if (i < t.size() && t[i] == '.') {
      ++i;
      run(t, i, isDigit);
    }
  }
  if (i < t.size() && (t[i] == 'e' || t[i] == 'E')) {
    ++i;
    if (i < t.size() && (t[i] == '-' || t[i] == '+')) ++i;
    if (!run(t, i, isDigit)) return false;
  }
  return i == t.size();
}

}  // namespace

Node::Kind Node::classifyPlain(std::string_view t) {
  if (t.empty() || t == "~" || t == "null" || t == "Null" || t == "NULL") return Kind::kNull;
  if (t == "true" || t == "True" || t == "TRUE" || t == "false" || t == "False" || t == "FALSE")
    return Kind::kBool;
  // Cheap first-character screen: most scalars are words.
  char c = t[0];
  if (!(c == '-' || c == '+' || c == '.' || (c >= '0' && c <= '9'))) return Kind::kString;
  if (t.size() > 64) return Kind::kString;  // no number is this long
  if (isCoreInt(t)) return Kind::kInt;
  if (isCoreFloat(t)) return Kind::kFloat;
  return Kind::kString;
}

std::optional<int64_t> parseCoreInt(std::string_view t) {
  int base = 10;
  bool negative = false;
  if (t.size() > 2 && t[0] == '0' && (t[1] == 'x' || t[1] == 'o')) {
    base = t[1] == 'x' ? 16 : 8;
    t.remove_prefix(2);
  } else if (!t.empty() && (t[0] == '+' || t[0] == '-')) {
    negative = t[0] == '-';
    t.remove_prefix(1);
  }
  // Magnitude as unsigned so that INT64_MIN, whose magnitude int64_t cannot hold, parses.
  uint64_t magnitude = 0;
  if (t.empty() || t[0] == '+' || t[0] == '-') return std::nullopt;
  auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), magnitude, base);
  if (ec != std::errc() || end != t.data() + t.size()) return std::nullopt;
  constexpr uint64_t kMaxPositive = static_cast<uint64_t>(INT64_MAX);
  if (negative) {
    if (magnitude > kMaxPositive + 1) return std::nullopt;
    return magnitude == kMaxPositive + 1 ? INT64_MIN : -static_cast<int64_t>(magnitude);
  }
  if (magnitude > kMaxPositive) return std::nullopt;
  return static_cast<int64_t>(magnitude);
}

const Node* locate(const Node& root, std::string_view path) {
  const Node* cur = &root;
  size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '.') {
      ++i;
      continue;
    }
    if (path.substr(i, 2) == "[\"") {  // ["key.with.dots"]
      size_t close = path.find("\"]", i + 2);
      if (close == std::string_view::npos || !cur->isMap()) return cur;
      const Node* next = cur->find(path.substr(i + 2, close - i - 2));
      if (!next) return cur;
      cur = next;
      i = close + 2;
      continue;
    }
    if (path[i] == '[') {
      size_t close = path.find(']', i);
      if (close == std::string_view::npos || !cur->isSeq()) return cur;
      size_t idx = 0;
      for (size_t k = i + 1; k < close; ++k) idx = idx * 10 + static_cast<size_t>(path[k] - '0');
      if (idx >= cur->items().size()) return cur;
      cur = &cur->items()[idx];
      i = close + 1;
      continue;
    }
    size_t end = path.find_first_of(".[", i);
    std::string_view key = path.substr(i, end == std::string_view::npos ? path.size() - i : end - i);
    if (!cur->isMap()) return cur;
    const Node* next = cur->find(key);
    if (!next) return cur;
    cur = next;
    i = end == std::string_view::npos ? path.size() : end;
  }
  return cur;
}

}  // namespace km::doc
