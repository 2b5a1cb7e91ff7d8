// Implementation part of doc/describe.h: how each C++ type (string, bool, int64, Dollars,
// Ratio, Node, StringMap, StringOrList, optional, vector, described structs) maps to a Node,
// and the decode()/encode()/schemaOf() entry points. Include doc/describe.h, not this file.
#pragma once

#include "doc/describe.h"

namespace km::doc {

// ---- Codecs: how each C++ type maps to a Node ----------------------------------------


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
struct Codec<StringListMap> {
  static void decode(const Node& n, StringListMap& v, DecodeContext& c, const std::string& p,
                     const Rules& r);
  static std::optional<Node> encode(const StringListMap& v);
  static Node schema(const Rules&) { return schemaStringListMap(); }
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
