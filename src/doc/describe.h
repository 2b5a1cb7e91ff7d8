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

// A size in bytes: a number, or one with a 1024-based (Ki…Ti) or 1000-based (K…T) suffix.
// The digit counts are bounded per suffix so every match fits in int64 (< ~1.2e18 bytes);
// plan::parseMemoryBytes reads the same grammar. Profiles' memory and disk and the operator
// config's sizes use it.
inline constexpr std::string_view kSizePattern =
    R"(^[1-9]([0-9]{0,17}|[0-9]{0,14}Ki?|[0-9]{0,11}Mi?|[0-9]{0,8}Gi?|[0-9]{0,5}Ti?)$)";

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
// An ordered string→list-of-strings mapping (spec.secrets.hosts): document order is kept.
using StringListMap = std::vector<std::pair<std::string, std::vector<std::string>>>;

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
Node schemaStringListMap();
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

// How each C++ type maps to a Node: doc/codecs.h (included below).
template <class T, class = void>
struct Codec;

}  // namespace km::doc

// The codec templates and decode()/encode()/schemaOf() entry points.
#include "doc/codecs.h"
