#include "doc/yaml_io.h"

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/parser.h>
#include <yaml-cpp/yaml.h>

#include <cstdio>
#include <map>
#include <sstream>

namespace km::doc {
namespace {

bool repairEscapes(std::string& s);  // below, with the writer's helpers
bool replaceNoncharacters(std::string& s);  // below

class TooBig {};

// Builds Nodes from yaml-cpp's parse events. Anchors are remembered and aliases copied.
class Builder : public YAML::EventHandler {
 public:
  Builder(std::shared_ptr<const std::string> file, std::string_view text, Diagnostics& diags,
          size_t max_nodes)
      : file_(std::move(file)), text_(text), diags_(diags), max_nodes_(max_nodes) {}

  bool done() const { return has_root_; }
  Node& root() { return root_; }

  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}

  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    Mark at = markOf(mark);
    // An empty value (`key:` with nothing after it) is marked by yaml-cpp at the token that
    // follows, often the next line's key; errors about it belong at its own key instead.
    if (!writtenNull(mark) && !stack_.empty() && stack_.back().node.isMap() &&
        stack_.back().has_key) {
      at = stack_.back().pending_key_mark;
    }
    add(Node::null(std::move(at)), anchor, mark);
  }

  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    auto it = anchors_.find(anchor);
    if (it == anchors_.end()) {
      diags_.error(markOf(mark), "", "alias to an unknown anchor");
      add(Node::null(markOf(mark)), 0, mark);
      return;
    }
    count(countNodes(it->second));
    add(it->second, 0, mark);
  }

  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                const std::string& value) override {
    Node::Kind kind = Node::Kind::kString;
    if (tag == "?") {
      kind = Node::classifyPlain(value);
    } else if (tag == "tag:yaml.org,2002:str" || tag == "!") {
      kind = Node::Kind::kString;
      if (tag == "!" && !quoteClosed(mark)) {
        diags_.error(markOf(mark), "",
                     std::string("this quoted string is never closed; add the closing ") +
                         text_[static_cast<size_t>(mark.pos)]);
      }
    } else if (tag == "tag:yaml.org,2002:int" || tag == "tag:yaml.org,2002:float" ||
               tag == "tag:yaml.org,2002:bool" || tag == "tag:yaml.org,2002:null") {
      kind = Node::classifyPlain(value);
    } else {
      diags_.error(markOf(mark), "", "unsupported YAML tag " + tag + "; remove the tag");
    }
    // An escape ("\uFFFF") can still produce a character YAML writers cannot carry.
    std::string text = value;
    if (!repairEscapes(text)) {
      diags_.error(markOf(mark), "", "this escape does not produce valid UTF-8 text; remove it");
    }
    if (replaceNoncharacters(text)) {
      diags_.error(markOf(mark), "",
                   "U+FFFE, U+FFFF and the other noncharacters (U+FDD0 to U+FDEF) are not characters "
                   "YAML writers carry; remove the escape");
    }
    last_scalar_plain_ = tag == "?";
    add(scalarNode(kind, text, markOf(mark)), anchor, mark);
    last_scalar_plain_ = false;
  }

  void OnSequenceStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    checkCollectionTag(mark, tag, "tag:yaml.org,2002:seq");
    stack_.push_back({Node::seq(markOf(mark)), anchor, {}, {}, false, false, {}});
  }
  void OnSequenceEnd() override { close(); }

  void OnMapStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    checkCollectionTag(mark, tag, "tag:yaml.org,2002:map");
    stack_.push_back({Node::map(markOf(mark)), anchor, {}, {}, false, false, {}});
  }
  void OnMapEnd() override { close(); }

 private:
  struct Frame {
    Node node;
    YAML::anchor_t anchor;
    std::string pending_key;  // maps: key waiting for its value
    Mark pending_key_mark;
    bool has_key;
    bool pending_is_merge = false;  // the pending key is the YAML merge key `<<`
    std::vector<Node> merges;       // mappings merged in with `<<`, applied at the end
  };

  // "?" and "!" are yaml-cpp's non-specific tags (untagged nodes).
  void checkCollectionTag(const YAML::Mark& mark, const std::string& tag, std::string_view core) {
    if (tag == "?" || tag == "!" || tag == core) return;
    diags_.error(markOf(mark), "", "unsupported YAML tag " + tag + "; remove the tag");
  }

  // yaml-cpp 0.7 accepts a quoted scalar whose closing quote never comes, taking the rest of
  // the file as its text. Finds the closing quote of the scalar starting at `m`, if it is one.
  bool quoteClosed(const YAML::Mark& m) const {
    if (m.pos < 0 || static_cast<size_t>(m.pos) >= text_.size()) return true;
    size_t start = static_cast<size_t>(m.pos);
    char q = text_[start];
    if (q != '"' && q != '\'') return true;  // a block scalar (| or >)
    for (size_t i = start + 1; i < text_.size(); ++i) {
      if (q == '"' && text_[i] == '\\') {
        ++i;  // skip the escaped character
      } else if (text_[i] == q) {
        if (q == '\'' && i + 1 < text_.size() && text_[i + 1] == '\'') {
          ++i;  // '' is a quote inside a single-quoted string
        } else {
          return true;
        }
      }
    }
    return false;
  }

  // Whether a null event comes from a written ~ / null rather than an empty value.
  bool writtenNull(const YAML::Mark& m) const {
    if (m.pos < 0 || static_cast<size_t>(m.pos) >= text_.size()) return false;
    std::string_view rest = text_.substr(static_cast<size_t>(m.pos));
    for (std::string_view word : {"~", "null", "Null", "NULL"})
      if (rest.substr(0, word.size()) == word) return true;
    return false;
  }

  Mark markOf(const YAML::Mark& m) const {
    return Mark{file_, static_cast<uint32_t>(m.line + 1), static_cast<uint32_t>(m.column + 1)};
  }

  static size_t countNodes(const Node& n) {
    size_t c = 1;
    for (const auto& i : n.items()) c += countNodes(i);
    for (const auto& e : n.entries()) c += countNodes(e.value);
    return c;
  }

  void count(size_t n) {
    nodes_ += n;
    if (nodes_ > max_nodes_) throw TooBig();
  }

  void close() {
    Frame f = std::move(stack_.back());
    stack_.pop_back();
    // YAML merge keys (as Go's yaml, which upstream uses, supports them): keys written in the
    // mapping win, then earlier merged mappings win over later ones.
    for (const Node& m : f.merges) {
      for (const MapEntry& e : m.entries()) {
        if (!f.node.findEntry(e.key)) f.node.entries().push_back(e);
      }
    }
    addNode(std::move(f.node), f.anchor);
  }

  void add(Node n, YAML::anchor_t anchor, const YAML::Mark&) {
    count(1);
    addNode(std::move(n), anchor);
  }

  void addNode(Node n, YAML::anchor_t anchor) {
    if (anchor) anchors_[anchor] = n;
    if (stack_.empty()) {
      root_ = std::move(n);
      has_root_ = true;
      return;
    }
    Frame& top = stack_.back();
    if (top.node.isSeq()) {
      top.node.push(std::move(n));
      return;
    }
    if (!top.has_key) {
      if (!n.isScalar()) {
        diags_.error(n.mark(), "", "a mapping key must be a plain value, not " +
                                       std::string(n.kindName()));
        top.pending_key = "<complex key>";
      } else {
        top.pending_key = n.text();
      }
      top.pending_key_mark = n.mark();
      top.has_key = true;
      top.pending_is_merge = last_scalar_plain_ && n.text() == "<<";
      return;
    }
    top.has_key = false;
    if (top.pending_is_merge) {
      top.pending_is_merge = false;
      bool ok = n.isMap();
      if (n.isSeq()) {
        ok = true;
        for (const Node& item : n.items()) ok = ok && item.isMap();
      }
      if (!ok) {
        diags_.error(n.mark(), "", "the merge key << takes a mapping or a list of mappings, not " +
                                       std::string(n.kindName()));
      } else if (n.isMap()) {
        top.merges.push_back(std::move(n));
      } else {
        for (Node& item : n.items()) top.merges.push_back(std::move(item));
      }
      return;
    }
    if (top.node.findEntry(top.pending_key)) {
      const MapEntry* first = top.node.findEntry(top.pending_key);
      diags_.error(top.pending_key_mark, "",
                   "key \"" + top.pending_key + "\" appears twice in this mapping (first at line " +
                       std::to_string(first->key_mark.line) + "); keep only one");
      return;
    }
    top.node.entries().push_back(
        MapEntry{std::move(top.pending_key), std::move(top.pending_key_mark), std::move(n)});
  }

  std::shared_ptr<const std::string> file_;
  std::string_view text_;
  Diagnostics& diags_;
  size_t max_nodes_;
  size_t nodes_ = 0;
  std::vector<Frame> stack_;
  bool last_scalar_plain_ = false;  // the scalar being added was written without quotes or tag
  std::map<YAML::anchor_t, Node> anchors_;
  Node root_;
  bool has_root_ = false;
};

// Only notices whether a further document exists.
class SkipDocument : public YAML::EventHandler {
 public:
  bool any = false;
  YAML::Mark at;  // where the further document starts
  void OnDocumentStart(const YAML::Mark& mark) override {
    any = true;
    at = mark;
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t, const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

// The UTF-8 sequence starting at `i`: its length and code point, or length 0 when its lead
// byte or a continuation byte is wrong or it runs past the end. Overlong forms and
// surrogates pass here; checkText refuses them.
struct Utf8Seq {
  size_t len = 0;
  uint32_t cp = 0;
};
Utf8Seq utf8At(std::string_view s, size_t i) {
  unsigned char c = static_cast<unsigned char>(s[i]);
  size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
  if (len == 0 || i + len > s.size()) return {};
  uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
  for (size_t k = 1; k < len; ++k) {
    unsigned char cc = static_cast<unsigned char>(s[i + k]);
    if ((cc >> 6) != 0x2) return {};
    cp = (cp << 6) | (cc & 0x3F);
  }
  return {len, cp};
}

// Unicode's noncharacters: U+FDD0 to U+FDEF and the last two of every plane. yaml-cpp's
// writer turns each into U+FFFD, so a document holding one could not be written back as it
// was read (found by the profile loader fuzzer).
bool isNoncharacter(uint32_t cp) { return (cp >= 0xFDD0 && cp <= 0xFDEF) || (cp & 0xFFFE) == 0xFFFE; }

// Replaces each noncharacter in (valid UTF-8) text with U+FFFD; says whether there was one.
bool replaceNoncharacters(std::string& s) {
  bool found = false;
  for (size_t i = 0; i < s.size();) {
    Utf8Seq u = utf8At(s, i);
    if (u.len != 0 && isNoncharacter(u.cp)) {
      s.replace(i, u.len, "\xEF\xBF\xBD");
      found = true;
      i += 3;
    } else {
      i += u.len != 0 ? u.len : 1;
    }
  }
  return found;
}

// yaml-cpp decodes the escapes \N and \_ to the single bytes 0x85 and 0xA0 instead of the
// UTF-8 for U+0085 and U+00A0 (the text around was checked to be UTF-8 before parsing, so
// any invalid sequence here came from an escape). Those two are re-encoded; anything else
// invalid becomes U+FFFD and the caller reports it. Found by the profile loader fuzzer.
bool repairEscapes(std::string& s) {
  bool clean = true;
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    if (size_t len = utf8At(s, i).len; len != 0) {
      out.append(s, i, len);
      i += len;
      continue;
    }
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == 0x85 || c == 0xA0) {
      out.push_back(static_cast<char>(0xC2));
      out.push_back(static_cast<char>(c));
    } else {
      out.append("\xEF\xBF\xBD");
      clean = false;
    }
    ++i;
  }
  s = std::move(out);
  return clean;
}

// A literal block (|) reads back exactly only with "clip" chomping: one final newline, and
// no line that YAML would trim or refuse (leading space on the first line, trailing
// spaces, tabs, CR or other control characters). Everything else is written double-quoted.
bool literalBlockSafe(const std::string& s) {
  if (s.size() < 2 || s.back() != '\n' || s[s.size() - 2] == '\n') return false;
  if (s[0] == ' ') return false;
  // NEL, LS and PS would turn into line breaks (found by the profile loader fuzzer).
  for (std::string_view brk : {"\xC2\x85", "\xE2\x80\xA8", "\xE2\x80\xA9"}) {
    if (s.find(brk) != std::string::npos) return false;
  }
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '\n') {
      if (i > 0 && s[i - 1] == ' ') return false;
      continue;
    }
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

// Plain scalars lose leading/trailing blanks and cannot hold control characters; such
// strings are written double-quoted, where yaml-cpp escapes them.
bool needsQuotes(const std::string& s) {
  if (s.empty() || s.front() == ' ' || s.back() == ' ' || s.front() == '\t' || s.back() == '\t')
    return true;
  if (s == "<<") return true;  // plain << is the merge key
  // NEL, LS and PS are line breaks to YAML 1.1 readers (Go's yaml, PyYAML).
  for (std::string_view brk : {"\xC2\x85", "\xE2\x80\xA8", "\xE2\x80\xA9"}) {
    if (s.find(brk) != std::string::npos) return true;
  }
  for (char ch : s) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7f) return true;
  }
  return Node::classifyPlain(s) != Node::Kind::kString;
}

void emitNode(YAML::Emitter& out, const Node& n) {
  switch (n.kind()) {
    case Node::Kind::kNull: out << YAML::Null; break;
    case Node::Kind::kBool:
    case Node::Kind::kInt:
    case Node::Kind::kFloat: out << n.text(); break;
    case Node::Kind::kString:
      if (literalBlockSafe(n.text())) {
        // yaml-cpp ends a literal block with a line break of its own; handing it the text
        // without its final newline avoids a stray blank line, and clip chomping restores it.
        out << YAML::Literal << n.text().substr(0, n.text().size() - 1);
      } else if (needsQuotes(n.text())) {
        out << YAML::DoubleQuoted << n.text();
      } else {
        out << n.text();
      }
      break;
    case Node::Kind::kSeq:
      if (n.items().empty()) {
        out << YAML::Flow << YAML::BeginSeq << YAML::EndSeq;
        break;
      }
      out << YAML::BeginSeq;
      for (const auto& i : n.items()) emitNode(out, i);
      out << YAML::EndSeq;
      break;
    case Node::Kind::kMap:
      if (n.entries().empty()) {
        out << YAML::Flow << YAML::BeginMap << YAML::EndMap;
        break;
      }
      out << YAML::BeginMap;
      for (const auto& e : n.entries()) {
        out << YAML::Key;
        if (needsQuotes(e.key)) {
          out << YAML::DoubleQuoted << e.key;
        } else {
          out << e.key;
        }
        out << YAML::Value;
        emitNode(out, e.value);
      }
      out << YAML::EndMap;
      break;
  }
}

// YAML streams are Unicode text: the first byte that is not valid UTF-8, or a control
// character YAML does not allow raw (anything below 0x20 but tab, LF and CR; DEL), is
// reported with its line and column. Returns true when the text is clean.
bool checkText(std::string_view text, const std::shared_ptr<const std::string>& file,
               Diagnostics& diags) {
  uint32_t line = 1, column = 1;
  size_t i = 0;
  while (i < text.size()) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    auto [len, cp] = utf8At(text, i);
    bool ok = len != 0;
    // Overlong forms, surrogates and values past U+10FFFF are not UTF-8 either.
    if (ok && ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
               (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)) {
      ok = false;
    }
    if (!ok) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02X", c);
      diags.error(Mark{file, line, column}, "",
                  std::string("byte ") + hex + " is not valid UTF-8; save the file as UTF-8 text");
      return false;
    }
    // YAML's printable set: no C0 controls but tab/LF/CR, no DEL, no C1 controls but NEL;
    // and no noncharacters (writers replace those, so they could never read back the same).
    if ((cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r') || (cp >= 0x7F && cp <= 0x9F && cp != 0x85) ||
        isNoncharacter(cp)) {
      char hex[12];
      std::snprintf(hex, sizeof hex, cp > 0xFF ? "U+%04X" : "0x%02X", cp);
      diags.error(Mark{file, line, column}, "",
                  std::string(cp > 0xFF ? "character " : "control character ") + hex +
                      " is not allowed in YAML text; remove it or write it as an escape in a "
                      "double-quoted string");
      return false;
    }
    if (cp == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
    i += len;
  }
  return true;
}

// yaml-cpp's messages say what it tripped on, not what to change; for the usual causes add
// the fix. `yaml` is the parsed text, `line0` the 0-based line yaml-cpp points at (or -1).
std::string yamlErrorHint(const YAML::Exception& e, std::string_view yaml, int line0) {
  const std::string& m = e.msg;
  auto has = [&](std::string_view s) { return m.find(s) != std::string::npos; };
  bool tab_line = false;
  if (line0 >= 0) {
    size_t start = 0;
    for (int i = 0; i < line0 && start != std::string_view::npos; ++i) {
      start = yaml.find('\n', start);
      if (start != std::string_view::npos) ++start;
    }
    tab_line = start < yaml.size() && yaml[start] == '\t';
  }
  if (has("tab") || tab_line) return "indent with spaces, not tabs";
  if (has(YAML::ErrorMsg::END_OF_MAP) || has(YAML::ErrorMsg::END_OF_SEQ) ||
      has(YAML::ErrorMsg::MAP_VALUE)) {
    return "check the indentation of this line and the one above; a value with ': ' may need "
           "quotes";
  }
  if (dynamic_cast<const YAML::DeepRecursion*>(&e) || has(YAML::ErrorMsg::BAD_FILE)) {
    return "nesting too deep";
  }
  return "";
}

}  // namespace

bool parseYaml(std::string_view text, const std::string& file, Node& out, Diagnostics& diags,
               const ParseLimits& limits) {
  auto file_name = std::make_shared<const std::string>(file);
  if (text.size() > limits.max_bytes) {
    diags.error(Mark{file_name, 0, 0}, "",
                "file is " + std::to_string(text.size()) + " bytes; profiles may be at most " +
                    std::to_string(limits.max_bytes));
    return false;
  }
  // yaml-cpp skips a UTF-8 byte-order mark but reports positions after it; drop it here so
  // every position (ours and yaml-cpp's) counts from the same byte.
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  if (!checkText(text, file_name, diags)) return false;
  size_t errors_before = diags.errorCount();
  std::string copy(text);
  std::istringstream in(copy);
  Builder builder(file_name, copy, diags, limits.max_nodes);
  try {
    YAML::Parser parser(in);
    if (!parser.HandleNextDocument(builder) || !builder.done()) {
      diags.error(Mark{file_name, 1, 1}, "", "the file is empty; expected a YAML mapping");
      return false;
    }
    out = std::move(builder.root());
    SkipDocument skip;
    if (parser.HandleNextDocument(skip) && skip.any) {
      diags.error(Mark{file_name, static_cast<uint32_t>(skip.at.line + 1),
                       static_cast<uint32_t>(skip.at.column + 1)},
                  "",
                  "the file holds more than one YAML document (---); keep one profile per file");
    }
  } catch (const YAML::Exception& e) {
    Mark at{file_name, static_cast<uint32_t>(e.mark.line + 1), static_cast<uint32_t>(e.mark.column + 1)};
    if (e.mark.is_null()) at = Mark{file_name, 0, 0};
    std::string hint = yamlErrorHint(e, copy, e.mark.is_null() ? -1 : e.mark.line);
    diags.error(at, "", "invalid YAML: " + e.msg + (hint.empty() ? "" : "; " + hint));
    return false;
  } catch (const TooBig&) {
    diags.error(Mark{file_name, 0, 0}, "",
                "the document expands to more than " + std::to_string(limits.max_nodes) +
                    " values (too many aliases?)");
    return false;
  }
  return diags.errorCount() == errors_before;
}

std::string emitYaml(const Node& node) {
  YAML::Emitter out;
  out.SetIndent(2);
  emitNode(out, node);
  std::string s = out.c_str();
  if (s.empty() || s.back() != '\n') s += '\n';
  return s;
}

}  // namespace km::doc
