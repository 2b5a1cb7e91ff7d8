// km::doc::Node — a YAML/JSON document tree that remembers where every value came from.
// Profiles and the operator config are loaded into Nodes, merged (extends) as Nodes, and
// decoded into typed structs; each Node keeps its file, line and column so an error in a
// merged document still points at the file that wrote the value. Plain value type.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace km::doc {

struct Mark {
  std::shared_ptr<const std::string> file;  // shared by every node of one file
  uint32_t line = 0;                        // 1-based; 0 = unknown (made in code)
  uint32_t column = 0;                      // 1-based

  const std::string& fileName() const;
};

struct MapEntry;

class Node {
 public:
  // Scalars keep their text as written; the kind is the YAML 1.2 core-schema type of a
  // plain scalar (a quoted scalar is always kString).
  enum class Kind : uint8_t { kNull, kBool, kInt, kFloat, kString, kSeq, kMap };

  // Special members are defaulted below MapEntry, which must be complete by then.
  Node();
  ~Node();
  Node(const Node&);
  Node(Node&&) noexcept;
  Node& operator=(const Node&);
  Node& operator=(Node&&) noexcept;

  static Node null(Mark m = {});
  static Node boolean(bool v, Mark m = {});
  static Node integer(int64_t v, Mark m = {});
  static Node number(std::string text, Mark m = {});  // already-valid decimal text
  static Node string(std::string v, Mark m = {});
  static Node seq(Mark m = {});
  static Node map(Mark m = {});

  Kind kind() const { return kind_; }
  bool isNull() const { return kind_ == Kind::kNull; }
  bool isScalar() const { return kind_ != Kind::kSeq && kind_ != Kind::kMap; }
  bool isSeq() const { return kind_ == Kind::kSeq; }
  bool isMap() const { return kind_ == Kind::kMap; }
  const Mark& mark() const { return mark_; }
  void setMark(Mark m) { mark_ = std::move(m); }

  // Scalar text ("true", "42", "0.50", "hello"). Empty for null, seq and map.
  const std::string& text() const { return text_; }
  bool asBool() const { return text_ == "true" || text_ == "True" || text_ == "TRUE"; }

  // Sequence items.
  const std::vector<Node>& items() const { return items_; }
  std::vector<Node>& items() { return items_; }
  void push(Node n) { items_.push_back(std::move(n)); }

  // Map entries in document order. Keys are unique (the loader rejects duplicates).
  const std::vector<MapEntry>& entries() const { return entries_; }
  std::vector<MapEntry>& entries() { return entries_; }
  const Node* find(std::string_view key) const;
  Node* find(std::string_view key);
  const MapEntry* findEntry(std::string_view key) const;
  // Replaces the value of `key` or appends a new entry; returns the stored value.
  Node& set(std::string key, Node value, Mark key_mark = {});
  bool erase(std::string_view key);

  // Deep equality of values, ignoring marks and scalar style (used to dedup merged lists).
  bool sameValue(const Node& other) const;

  // Human name of the kind for messages: "a string", "a list", "a mapping"...
  std::string_view kindName() const;

  // Classifies a plain (unquoted) YAML scalar by the YAML 1.2 core schema.
  static Kind classifyPlain(std::string_view text);

 private:
  Kind kind_ = Kind::kNull;
  std::string text_;
  std::vector<Node> items_;
  std::vector<MapEntry> entries_;
  Mark mark_;

  friend Node scalarNode(Kind kind, std::string text, Mark m);
};

// Builds a scalar of an explicit kind (used by the YAML reader after classification).
Node scalarNode(Node::Kind kind, std::string text, Mark m);

struct MapEntry {
  std::string key;
  Mark key_mark;
  Node value;
};

inline Node::Node() = default;
inline Node::~Node() = default;
inline Node::Node(const Node&) = default;
inline Node::Node(Node&&) noexcept = default;
inline Node& Node::operator=(const Node&) = default;
inline Node& Node::operator=(Node&&) noexcept = default;

// The value of an integer scalar's text by the YAML 1.2 core schema: decimal (a leading zero
// does not make it octal), 0o octal or 0x hex, with an optional sign on decimals. nullopt
// when the text is not such an integer or does not fit in int64_t.
std::optional<int64_t> parseCoreInt(std::string_view text);

// Follows a dotted field path ("spec.network.egress.allowedHosts[2]") and returns the node,
// or the deepest existing ancestor when the path runs out (so errors about a missing field
// point at the mapping that should hold it). Never null when `root` is given.
const Node* locate(const Node& root, std::string_view path);

}  // namespace km::doc
