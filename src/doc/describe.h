// Typed documents: describe a C++ struct's fields once, get decoding (with every error
// located and explained), encoding back to a Node, and a JSON Schema — all from that one
// description. Used by the profile and operator-config modules; the Describe<T>
// specializations live in the .cc that instantiates these templates.
//
//   template <> struct Describe<Lifecycle> {
//     static constexpr std::string_view kDoc = "When the sandbox ends.";
//     static void build(Fields<Lifecycle>& f) {
//       f.add("ttl", &Lifecycle::ttl, "Time to live").required().pattern(kTtl, "0 or 4h");
//     }
//   };
//
// Descriptions are built once (function-local statics) and are immutable afterwards, so
// decoding is thread-safe.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/money.h"
#include "doc/diagnostic.h"
#include "doc/node.h"

namespace km::doc {

// Longest string a pattern is checked against (see DecodeContext::decodeString).
inline constexpr size_t kMaxPatternInput = 1024;

// Constraints on a value. For lists, the scalar constraints apply to each item.
struct Rules {
  std::vector<std::string_view> one_of;  // allowed values (enum)
  std::string_view pattern;              // ECMAScript regex, searched like JSON Schema
  std::string_view hint;                 // the pattern in words: "a duration like 4h"
  bool enum_or_pattern = false;          // valid when in one_of OR matching pattern
  std::optional<int64_t> min;            // integers: the value; money and ratios: millionths
  std::optional<int64_t> max;
  size_t min_length = 0;                 // strings
  size_t min_items = 0;                  // lists
  std::string_view format;               // JSON Schema annotation only (e.g. "email")
};

// An ordered string→string mapping (env, labels, configFiles): document order is kept.
using StringMap = std::vector<std::pair<std::string, std::string>>;

// A dollar amount in micro-dollars / a ratio in parts per million, read exactly from text.
struct Dollars {
  Micros micros = 0;
  bool operator==(const Dollars&) const = default;
};
struct Ratio {
  Ppm ppm = 0;
  bool operator==(const Ratio&) const = default;
};

// A value that may be written as one string or a list of strings (profile `extends`).
struct StringOrList {
  std::vector<std::string> values;
  bool was_list = false;
};

class DecodeContext {
 public:
  explicit DecodeContext(Diagnostics& diags, bool check_required = true)
      : diags_(diags), check_required_(check_required) {}
  Diagnostics& diags() { return diags_; }
  // false when the document is known to be incomplete (a parent could not be merged), so
  // "required field missing" would only be noise; every other check still runs.
  bool checkRequired() const { return check_required_; }

  void error(const Node& at, const std::string& path, std::string message) {
    diags_.error(at.mark(), path, std::move(message));
  }
  // "expected a string, got a number (42)" with the fix that fits.
  void typeError(const Node& at, const std::string& path, std::string_view expected);

  bool decodeString(const Node& n, std::string& out, const std::string& path, const Rules& r);
  bool decodeBool(const Node& n, bool& out, const std::string& path);
  bool decodeInt(const Node& n, int64_t& out, const std::string& path, const Rules& r);
  bool decodeDollars(const Node& n, Dollars& out, const std::string& path, const Rules& r);
  bool decodeRatio(const Node& n, Ratio& out, const std::string& path, const Rules& r);
  void unknownField(const MapEntry& e, const std::string& path,
                    const std::vector<std::string_view>& allowed);
  void missingField(const Node& map, const std::string& path, std::string_view name,
                    std::string_view example);

 private:
  Diagnostics& diags_;
  bool check_required_;
};

// JSON Schema fragments for the scalar kinds (as Nodes, written out by json_io).
Node schemaString(const Rules& r);
Node schemaBool();
Node schemaInt(const Rules& r);
Node schemaMillionths(const Rules& r, bool dollars);
Node schemaArray(Node items, const Rules& r);
Node schemaStringMap();
Node schemaAny();

template <class T>
struct Describe;  // specialized per struct: kDoc and build(Fields<T>&)

template <class T>
struct Field {
  std::string_view name;
  std::string_view doc;
  std::string_view example;  // shown when the field is missing
  std::string_view default_text;
  bool is_required = false;
  Rules rules;
  std::function<void(const Node&, T&, DecodeContext&, const std::string&, const Rules&)> decode;
  std::function<std::optional<Node>(const T&, bool required)> encode;
  std::function<Node(const Rules&)> schema;

  Field& required() { is_required = true; return *this; }
  Field& oneOf(std::initializer_list<std::string_view> v) { rules.one_of = v; return *this; }
  Field& pattern(std::string_view re, std::string_view hint) {
    rules.pattern = re;
    rules.hint = hint;
    return *this;
  }
  Field& enumOrPattern() { rules.enum_or_pattern = true; return *this; }
  Field& min(int64_t v) { rules.min = v; return *this; }
  Field& max(int64_t v) { rules.max = v; return *this; }
  Field& minLength(size_t v) { rules.min_length = v; return *this; }
  Field& minItems(size_t v) { rules.min_items = v; return *this; }
  Field& format(std::string_view f) { rules.format = f; return *this; }
  Field& exampleValue(std::string_view e) { example = e; return *this; }
  Field& defaultValue(std::string_view d) { default_text = d; return *this; }
};

template <class T>
class Fields {
 public:
  template <class M>
  Field<T>& add(std::string_view name, M T::*member, std::string_view doc);

  const std::vector<Field<T>>& all() const { return fields_; }
  const Field<T>* find(std::string_view name) const {
    for (const auto& f : fields_)
      if (f.name == name) return &f;
    return nullptr;
  }
  std::vector<std::string_view> names() const {
    std::vector<std::string_view> out;
    for (const auto& f : fields_) out.push_back(f.name);
    return out;
  }

 private:
  std::vector<Field<T>> fields_;
};

template <class T>
const Fields<T>& fieldsOf() {
  static const Fields<T> fields = [] {
    Fields<T> f;
    Describe<T>::build(f);
    return f;
  }();
  return fields;
}

// ---- Codecs: how each C++ type maps to a Node ----------------------------------------

template <class T, class = void>
struct Codec;

template <>
struct Codec<std::string> {
  static void decode(const Node& n, std::string& v, DecodeContext& c, const std::string& p,
                     const Rules& r) { c.decodeString(n, v, p, r); }
  static std::optional<Node> encode(const std::string& v) { return Node::string(v); }
  static Node schema(const Rules& r) { return schemaString(r); }
};

template <>
struct Codec<bool> {
  static void decode(const Node& n, bool& v, DecodeContext& c, const std::string& p, const Rules&) {
    c.decodeBool(n, v, p);
  }
  static std::optional<Node> encode(bool v) { return Node::boolean(v); }
  static Node schema(const Rules&) { return schemaBool(); }
};

template <>
struct Codec<int64_t> {
  static void decode(const Node& n, int64_t& v, DecodeContext& c, const std::string& p,
                     const Rules& r) { c.decodeInt(n, v, p, r); }
  static std::optional<Node> encode(int64_t v) { return Node::integer(v); }
  static Node schema(const Rules& r) { return schemaInt(r); }
};

template <>
struct Codec<Dollars> {
  static void decode(const Node& n, Dollars& v, DecodeContext& c, const std::string& p,
                     const Rules& r) { c.decodeDollars(n, v, p, r); }
  static std::optional<Node> encode(Dollars v) { return Node::number(formatDollars(v.micros)); }
  static Node schema(const Rules& r) { return schemaMillionths(r, true); }
};

template <>
struct Codec<Ratio> {
  static void decode(const Node& n, Ratio& v, DecodeContext& c, const std::string& p,
                     const Rules& r) { c.decodeRatio(n, v, p, r); }
  static std::optional<Node> encode(Ratio v) { return Node::number(formatRatio(v.ppm)); }
  static Node schema(const Rules& r) { return schemaMillionths(r, false); }
};

template <>
struct Codec<Node> {  // free-form: kept as written
  static void decode(const Node& n, Node& v, DecodeContext& c, const std::string& p, const Rules&) {
    if (!n.isMap()) return c.typeError(n, p, "a mapping");
    v = n;
  }
  static std::optional<Node> encode(const Node& v) { return v; }
  static Node schema(const Rules&) { return schemaAny(); }
};

template <>
struct Codec<StringMap> {
  static void decode(const Node& n, StringMap& v, DecodeContext& c, const std::string& p,
                     const Rules& r);
  static std::optional<Node> encode(const StringMap& v);
  static Node schema(const Rules&) { return schemaStringMap(); }
};

template <>
struct Codec<StringOrList> {
  static void decode(const Node& n, StringOrList& v, DecodeContext& c, const std::string& p,
                     const Rules& r);
  static std::optional<Node> encode(const StringOrList& v);
  static Node schema(const Rules& r);
};

template <class X>
struct Codec<std::optional<X>> {
  static void decode(const Node& n, std::optional<X>& v, DecodeContext& c, const std::string& p,
                     const Rules& r) {
    v.emplace();
    Codec<X>::decode(n, *v, c, p, r);
  }
  static std::optional<Node> encode(const std::optional<X>& v) {
    if (!v) return std::nullopt;
    return Codec<X>::encode(*v);
  }
  static Node schema(const Rules& r) { return Codec<X>::schema(r); }
};

template <class X>
struct Codec<std::vector<X>> {
  static void decode(const Node& n, std::vector<X>& v, DecodeContext& c, const std::string& p,
                     const Rules& r) {
    if (!n.isSeq()) return c.typeError(n, p, "a list");
    v.clear();
    for (size_t i = 0; i < n.items().size(); ++i) {
      v.emplace_back();
      Codec<X>::decode(n.items()[i], v.back(), c, indexPath(p, i), r);
    }
    if (v.size() < r.min_items) {
      c.error(n, p, "needs at least " + std::to_string(r.min_items) + " item" +
                        (r.min_items == 1 ? "" : "s"));
    }
  }
  static std::optional<Node> encode(const std::vector<X>& v) {
    Node s = Node::seq();
    for (const auto& x : v)
      if (auto n = Codec<X>::encode(x)) s.push(std::move(*n));
    return s;
  }
  static Node schema(const Rules& r) { return schemaArray(Codec<X>::schema(r), r); }
};

template <class T>
struct Codec<T, std::void_t<decltype(&Describe<T>::build)>> {
  static void decode(const Node& n, T& v, DecodeContext& c, const std::string& p, const Rules&) {
    if (!n.isMap()) return c.typeError(n, p, "a mapping");
    const Fields<T>& fields = fieldsOf<T>();
    for (const MapEntry& e : n.entries()) {
      const Field<T>* f = fields.find(e.key);
      if (!f) {
        c.unknownField(e, p, fields.names());
        continue;
      }
      f->decode(e.value, v, c, childPath(p, e.key), f->rules);
    }
    for (const auto& f : fields.all()) {
      if (f.is_required && c.checkRequired() && !n.find(f.name)) c.missingField(n, childPath(p, f.name), f.name, f.example);
    }
  }
  static std::optional<Node> encode(const T& v) {
    Node m = Node::map();
    for (const auto& f : fieldsOf<T>().all()) {
      if (auto n = f.encode(v, f.is_required)) m.set(std::string(f.name), std::move(*n));
    }
    return m;
  }
  static Node schema(const Rules&) {
    Node s = Node::map();
    s.set("type", Node::string("object"));
    if (!Describe<T>::kDoc.empty()) s.set("description", Node::string(std::string(Describe<T>::kDoc)));
    Node props = Node::map();
    Node required = Node::seq();
    for (const auto& f : fieldsOf<T>().all()) {
      Node fs = f.schema(f.rules);
      if (!f.doc.empty()) fs.set("description", Node::string(std::string(f.doc)));
      if (!f.default_text.empty()) {
        // Typed like a plain YAML scalar, so editors offer `true`, not the string "true".
        std::string d(f.default_text);
        fs.set("default", scalarNode(Node::classifyPlain(d), d, Mark{}));
      }
      props.set(std::string(f.name), std::move(fs));
      if (f.is_required) required.push(Node::string(std::string(f.name)));
    }
    if (!required.items().empty()) s.set("required", std::move(required));
    s.set("properties", std::move(props));
    s.set("additionalProperties", Node::boolean(false));
    return s;
  }
};

template <class M>
inline constexpr bool kIsVector = false;
template <class X>
inline constexpr bool kIsVector<std::vector<X>> = true;

template <class T>
template <class M>
Field<T>& Fields<T>::add(std::string_view name, M T::*member, std::string_view doc) {
  Field<T> f;
  f.name = name;
  f.doc = doc;
  f.decode = [member](const Node& n, T& obj, DecodeContext& c, const std::string& p, const Rules& r) {
    Codec<M>::decode(n, obj.*member, c, p, r);
  };
  f.encode = [member](const T& obj, bool required) -> std::optional<Node> {
    auto n = Codec<M>::encode(obj.*member);
    // Empty optional lists and maps are left out, so a resolved profile stays readable.
    if constexpr (kIsVector<M>) {  // any list, and StringMap (a vector of pairs)
      if (!required && n && ((n->isSeq() && n->items().empty()) || (n->isMap() && n->entries().empty())))
        return std::nullopt;
    }
    return n;
  };
  f.schema = [](const Rules& r) { return Codec<M>::schema(r); };
  fields_.push_back(std::move(f));
  return fields_.back();
}

// Decodes `node` into a T, adding every problem to `diags` (nothing is thrown; what could be
// read is filled in even when other fields are wrong).
template <class T>
T decode(const Node& node, Diagnostics& diags, const std::string& path = "",
         bool check_required = true) {
  T out{};
  DecodeContext c(diags, check_required);
  Codec<T>::decode(node, out, c, path, Rules{});
  return out;
}

template <class T>
Node encode(const T& value) {
  return *Codec<T>::encode(value);
}

template <class T>
Node schemaOf() {
  return Codec<T>::schema(Rules{});
}

}  // namespace km::doc
