#include "doc/yaml_io.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

namespace km::doc {
namespace {

using Kind = Node::Kind;

struct Parsed {
  bool ok = false;
  Node root;
  Diagnostics diags;
};

Parsed parse(std::string_view text, const ParseLimits& limits = {}) {
  Parsed p;
  p.ok = parseYaml(text, "t.yaml", p.root, p.diags, limits);
  return p;
}

// The only error, with a readable failure when there are others.
const Diagnostic& onlyError(const Parsed& p) {
  if (p.diags.errorCount() != 1) {
    std::string all;
    for (const auto& d : p.diags.all()) all += "\n  " + d.format();
    ADD_FAILURE() << "expected exactly one error, got " << p.diags.errorCount() << ":" << all;
  }
  static const Diagnostic kNone;
  return p.diags.all().empty() ? kNone : p.diags.all().front();
}

bool contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

TEST(YamlIoTest, MarksAreOneBasedOnScalarsKeysAndNestedMaps) {
  Parsed p = parse("name: demo\nspec:\n  lifecycle:\n    ttl: 4h\n  hosts:\n    - a.com\n");
  ASSERT_TRUE(p.ok);
  ASSERT_TRUE(p.root.isMap());
  const MapEntry* name = p.root.findEntry("name");
  ASSERT_NE(name, nullptr);
  EXPECT_EQ(name->key_mark.line, 1u);
  EXPECT_EQ(name->key_mark.column, 1u);
  EXPECT_EQ(name->value.mark().line, 1u);
  EXPECT_EQ(name->value.mark().column, 7u);
  EXPECT_EQ(name->value.mark().fileName(), "t.yaml");

  const Node* lifecycle = locate(p.root, "spec.lifecycle");
  EXPECT_EQ(lifecycle->mark().line, 4u);  // a block mapping starts at its first key
  EXPECT_EQ(lifecycle->mark().column, 5u);
  const MapEntry* ttl = lifecycle->findEntry("ttl");
  ASSERT_NE(ttl, nullptr);
  EXPECT_EQ(ttl->key_mark.line, 4u);
  EXPECT_EQ(ttl->key_mark.column, 5u);
  EXPECT_EQ(ttl->value.mark().column, 10u);
  const Node* host = locate(p.root, "spec.hosts[0]");
  EXPECT_EQ(host->text(), "a.com");
  EXPECT_EQ(host->mark().line, 6u);
  EXPECT_EQ(host->mark().column, 7u);
}

TEST(YamlIoTest, EmptyValueIsMarkedAtItsKeyNotAtTheNextToken) {
  // yaml-cpp reports an empty value at whatever follows it (here the next line's key); an
  // error about the empty value must point at its own key.
  Parsed p = parse("spec:\n  hosts:\n  next: 1\nlast:\n");
  ASSERT_TRUE(p.ok);
  const Node* hosts = locate(p.root, "spec.hosts");
  EXPECT_TRUE(hosts->isNull());
  EXPECT_EQ(hosts->mark().line, 2u);
  EXPECT_EQ(hosts->mark().column, 3u);
  const Node* last = p.root.find("last");
  ASSERT_NE(last, nullptr);
  EXPECT_EQ(last->mark().line, 4u);
  EXPECT_EQ(last->mark().column, 1u);
  // A written null keeps its own position.
  Parsed q = parse("a: ~\nb: null\nc: [x, ~]\n");
  ASSERT_TRUE(q.ok);
  EXPECT_EQ(q.root.find("a")->mark().column, 4u);
  EXPECT_EQ(q.root.find("b")->mark().column, 4u);
  EXPECT_EQ(locate(q.root, "c[1]")->mark().column, 8u);
}

TEST(YamlIoTest, MapsKeepDocumentOrder) {
  Parsed p = parse("z: 1\na: 2\nm: 3\n");
  ASSERT_TRUE(p.ok);
  ASSERT_EQ(p.root.entries().size(), 3u);
  EXPECT_EQ(p.root.entries()[0].key, "z");
  EXPECT_EQ(p.root.entries()[1].key, "a");
  EXPECT_EQ(p.root.entries()[2].key, "m");
}

TEST(YamlIoTest, DuplicateKeyPointsAtTheSecondKeyAndNamesTheFirstLine) {
  Parsed p = parse("spec:\n  ttl: 4h\n  idle: 1h\n  ttl: 8h\n");
  EXPECT_FALSE(p.ok);
  const Diagnostic& d = onlyError(p);
  EXPECT_EQ(d.file, "t.yaml");
  EXPECT_EQ(d.line, 4u);
  EXPECT_EQ(d.column, 3u);
  EXPECT_TRUE(contains(d.message, "key \"ttl\" appears twice")) << d.message;
  EXPECT_TRUE(contains(d.message, "first at line 2")) << d.message;
}

TEST(YamlIoTest, DuplicateKeysInFlowMappingsAreFoundToo) {
  Parsed p = parse("a: {x: 1, x: 2}\n");
  EXPECT_FALSE(p.ok);
  const Diagnostic& d = onlyError(p);
  EXPECT_EQ(d.line, 1u);
  EXPECT_EQ(d.column, 11u);
  EXPECT_TRUE(contains(d.message, "appears twice")) << d.message;
}

TEST(YamlIoTest, TwoDocumentsAreRefusedAtTheSecondDocument) {
  Parsed p = parse("a: 1\n---\nb: 2\n");
  EXPECT_FALSE(p.ok);
  const Diagnostic& d = onlyError(p);
  EXPECT_EQ(d.line, 2u);
  EXPECT_EQ(d.column, 1u);
  EXPECT_TRUE(contains(d.message, "more than one YAML document")) << d.message;
}

TEST(YamlIoTest, OneExplicitDocumentWithEndMarkerIsFine) {
  Parsed p = parse("---\na: 1\n...\n");
  EXPECT_TRUE(p.ok);
  EXPECT_TRUE(p.root.isMap());
}

TEST(YamlIoTest, EmptyFileIsAnErrorAtLineOne) {
  for (const char* text : {"", "\n\n", "# only a comment\n"}) {
    Parsed p = parse(text);
    EXPECT_FALSE(p.ok) << text;
    const Diagnostic& d = onlyError(p);
    EXPECT_EQ(d.line, 1u);
    EXPECT_EQ(d.column, 1u);
    EXPECT_TRUE(contains(d.message, "the file is empty")) << d.message;
  }
}

TEST(YamlIoTest, NonMappingRootsParseAsWhatTheyAre) {
  // parseYaml accepts any root; the profile and config loaders decide what they need.
  Parsed seq = parse("- a\n- b\n");
  ASSERT_TRUE(seq.ok);
  EXPECT_TRUE(seq.root.isSeq());
  Parsed scalar = parse("just words\n");
  ASSERT_TRUE(scalar.ok);
  EXPECT_EQ(scalar.root.kind(), Kind::kString);
}

TEST(YamlIoTest, SyntaxErrorGivesLineAndColumn) {
  Parsed p = parse("a: b: c\n");
  EXPECT_FALSE(p.ok);
  const Diagnostic& d = onlyError(p);
  EXPECT_EQ(d.file, "t.yaml");
  EXPECT_EQ(d.line, 1u);
  EXPECT_EQ(d.column, 5u);
  EXPECT_TRUE(contains(d.message, "invalid YAML: illegal map value")) << d.message;
}

TEST(YamlIoTest, UnclosedFlowListIsReportedWhereTheParserGaveUp) {
  Parsed p = parse("a: 1\nb: [1, 2\nc: 3\n");
  EXPECT_FALSE(p.ok);
  const Diagnostic& d = onlyError(p);
  EXPECT_EQ(d.line, 3u);
  EXPECT_TRUE(contains(d.message, "invalid YAML")) << d.message;
}

TEST(YamlIoTest, UnclosedQuotedStringIsAnErrorNotTheRestOfTheFile) {
  // yaml-cpp alone would read `"4h` plus every later line as one string.
  Parsed dq = parse("spec:\n  ttl: \"4h\n  idle: 1h\n");
  EXPECT_FALSE(dq.ok);
  const Diagnostic& d = onlyError(dq);
  EXPECT_EQ(d.line, 2u);
  EXPECT_EQ(d.column, 8u);
  EXPECT_TRUE(contains(d.message, "quoted string is never closed; add the closing \"")) << d.message;

  Parsed sq = parse("a: 'it''s\n");
  EXPECT_FALSE(sq.ok);
  EXPECT_TRUE(contains(onlyError(sq).message, "add the closing '")) << onlyError(sq).message;

  // Escaped and doubled quotes inside closed strings, and quoted keys, are fine.
  Parsed ok = parse("\"k\\\"ey\": \"say \\\"hi\\\"\"\nb: 'it''s'\nc: \"multi\n  line\"\nd: |\n  \"not a quote\n");
  EXPECT_TRUE(ok.ok);
  for (const auto& e : ok.diags.all()) ADD_FAILURE() << e.format();
  EXPECT_EQ(ok.root.find("k\"ey")->text(), "say \"hi\"");
  EXPECT_EQ(ok.root.find("b")->text(), "it's");
  EXPECT_EQ(ok.root.find("c")->text(), "multi line");
}

TEST(YamlIoTest, BadIndentationIsASyntaxErrorOnItsLine) {
  Parsed p = parse("a:\n  b: 1\n c: 2\n");
  EXPECT_FALSE(p.ok);
  const Diagnostic& d = onlyError(p);
  EXPECT_EQ(d.line, 3u);
  EXPECT_EQ(d.column, 2u);
  EXPECT_TRUE(contains(d.message, "invalid YAML")) << d.message;
}

TEST(YamlIoTest, TabIndentationIsRefused) {
  Parsed p = parse("a:\n\tb: 1\n");
  EXPECT_FALSE(p.ok);
  const Diagnostic& d = onlyError(p);
  EXPECT_EQ(d.line, 2u);
  EXPECT_TRUE(contains(d.message, "invalid YAML")) << d.message;
}

TEST(YamlIoTest, NestedAliasBombStopsAtTheNodeLimitQuickly) {
  // Ten levels of ten aliases each would expand to 10^10 values.
  std::string text = "l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 10; ++i) {
    std::string prev = "*l" + std::to_string(i - 1);
    text += "l" + std::to_string(i) + ": &l" + std::to_string(i) + " [";
    for (int k = 0; k < 10; ++k) text += (k ? ", " : "") + prev;
    text += "]\n";
  }
  auto start = std::chrono::steady_clock::now();
  Parsed p = parse(text);
  auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_FALSE(p.ok);
  const Diagnostic& d = onlyError(p);
  EXPECT_TRUE(contains(d.message, "more than 100000 values")) << d.message;
  EXPECT_TRUE(contains(d.message, "aliases")) << d.message;
  // Generous bound for a debug build on a loaded machine; an unbounded expansion takes hours.
  EXPECT_LT(elapsed, std::chrono::seconds(10));
}

TEST(YamlIoTest, ModestAliasUseIsExpanded) {
  Parsed p = parse("base: &b {x: 1}\ncopy: *b\nlist: &l [a, b]\nagain: *l\n");
  ASSERT_TRUE(p.ok);
  ASSERT_NE(p.root.find("copy"), nullptr);
  EXPECT_TRUE(p.root.find("copy")->sameValue(*p.root.find("base")));
  EXPECT_TRUE(p.root.find("again")->sameValue(*p.root.find("list")));
}

// Upstream reads profiles with Go's YAML, which honours merge keys; shared blocks written
// with anchors and `<<` must load the same here.
TEST(YamlIoTest, MergeKeysMergeMappingsWithWrittenKeysWinning) {
  Parsed p = parse("base: &b {x: 1, y: 2}\nchild:\n  <<: *b\n  y: 3\nmany:\n  <<: [{k: 1}, {k: 2, z: 4}]\n");
  ASSERT_TRUE(p.ok) << p.diags.all().size();
  const Node* child = p.root.find("child");
  ASSERT_NE(child, nullptr);
  EXPECT_EQ(child->find("<<"), nullptr);
  EXPECT_EQ(child->find("x")->text(), "1");
  EXPECT_EQ(child->find("y")->text(), "3");
  const Node* many = p.root.find("many");
  EXPECT_EQ(many->find("k")->text(), "1");  // earlier merged mappings win
  EXPECT_EQ(many->find("z")->text(), "4");
}

TEST(YamlIoTest, QuotedLessThanKeyIsAnOrdinaryKeyAndBadMergeValuesAreErrors) {
  Parsed quoted = parse("\"<<\": text\n");
  ASSERT_TRUE(quoted.ok);
  EXPECT_EQ(quoted.root.find("<<")->text(), "text");
  Parsed bad = parse("a:\n  <<: 5\n");
  EXPECT_FALSE(bad.ok);
  EXPECT_EQ(onlyError(bad).line, 2u);
  EXPECT_TRUE(contains(onlyError(bad).message, "merge key << takes a mapping"));
}

TEST(YamlIoTest, NodeLimitCountsPlainValuesToo) {
  std::string text;
  for (int i = 0; i < 20; ++i) text += "k" + std::to_string(i) + ": v\n";
  Parsed p = parse(text, ParseLimits{.max_bytes = 1 << 20, .max_nodes = 10});
  EXPECT_FALSE(p.ok);
  EXPECT_TRUE(contains(onlyError(p).message, "more than 10 values"));
}

TEST(YamlIoTest, FilesOverTheSizeLimitAreRefusedBeforeParsing) {
  std::string text = "a: " + std::string(200, 'x') + "\n";
  Parsed p = parse(text, ParseLimits{.max_bytes = 100, .max_nodes = 100'000});
  EXPECT_FALSE(p.ok);
  const Diagnostic& d = onlyError(p);
  EXPECT_TRUE(contains(d.message, std::to_string(text.size()) + " bytes")) << d.message;
  EXPECT_TRUE(contains(d.message, "at most 100")) << d.message;
  EXPECT_TRUE(parse(text, ParseLimits{.max_bytes = text.size(), .max_nodes = 100}).ok);
}

TEST(YamlIoTest, ScalarsAreTypedByTheYaml12CoreSchema) {
  Parsed p = parse(
      "t1: true\nt2: True\nt3: TRUE\nf: false\nyes_: yes\nno_: no\nhex: 0x1F\noct: 0o17\n"
      "int: -42\nflt: 1.5\nnul: ~\nnul2: null\nempty:\nqtrue: \"true\"\nqnum: '42'\n"
      "word: hello\ndur: 4h\n");
  ASSERT_TRUE(p.ok);
  auto kind = [&](const char* key) { return p.root.find(key)->kind(); };
  EXPECT_EQ(kind("t1"), Kind::kBool);
  EXPECT_EQ(kind("t2"), Kind::kBool);
  EXPECT_EQ(kind("t3"), Kind::kBool);
  EXPECT_TRUE(p.root.find("t3")->asBool());
  EXPECT_FALSE(p.root.find("f")->asBool());
  EXPECT_EQ(kind("yes_"), Kind::kString);
  EXPECT_EQ(kind("no_"), Kind::kString);
  EXPECT_EQ(kind("hex"), Kind::kInt);
  EXPECT_EQ(p.root.find("hex")->text(), "0x1F");  // text kept as written
  EXPECT_EQ(kind("oct"), Kind::kInt);
  EXPECT_EQ(kind("int"), Kind::kInt);
  EXPECT_EQ(kind("flt"), Kind::kFloat);
  EXPECT_EQ(kind("nul"), Kind::kNull);
  EXPECT_EQ(kind("nul2"), Kind::kNull);
  EXPECT_EQ(kind("empty"), Kind::kNull);
  EXPECT_EQ(kind("qtrue"), Kind::kString);
  EXPECT_EQ(p.root.find("qtrue")->text(), "true");
  EXPECT_EQ(kind("qnum"), Kind::kString);
  EXPECT_EQ(kind("word"), Kind::kString);
  EXPECT_EQ(kind("dur"), Kind::kString);
}

TEST(YamlIoTest, CoreSchemaTagsAreHonouredAndOtherTagsRefused) {
  Parsed ok = parse("a: !!str 42\nb: !!int \"7\"\n");
  ASSERT_TRUE(ok.ok);
  EXPECT_EQ(ok.root.find("a")->kind(), Kind::kString);
  EXPECT_EQ(ok.root.find("b")->kind(), Kind::kInt);

  Parsed bad = parse("a: 1\nb: !custom value\n");
  EXPECT_FALSE(bad.ok);
  const Diagnostic& d = onlyError(bad);
  EXPECT_EQ(d.line, 2u);
  EXPECT_TRUE(contains(d.message, "unsupported YAML tag !custom")) << d.message;

  Parsed binary = parse("a: !!binary aGVsbG8=\n");
  EXPECT_FALSE(binary.ok);
  EXPECT_TRUE(contains(onlyError(binary).message, "unsupported YAML tag")) << onlyError(binary).message;
}

TEST(YamlIoTest, TagsOnMappingsAndListsAreRefusedToo) {
  Parsed map = parse("a: !custom {x: 1}\n");
  EXPECT_FALSE(map.ok);
  const Diagnostic& dm = onlyError(map);
  EXPECT_EQ(dm.line, 1u);
  EXPECT_TRUE(contains(dm.message, "unsupported YAML tag !custom")) << dm.message;

  Parsed set = parse("a: !!set {x, y}\n");
  EXPECT_FALSE(set.ok);
  EXPECT_TRUE(contains(onlyError(set).message, "unsupported YAML tag")) << onlyError(set).message;

  Parsed seq = parse("a: !!seq [1]\nb: !!map {c: 1}\n");
  EXPECT_TRUE(seq.ok);
}

TEST(YamlIoTest, InvalidUtf8AndControlCharactersAreLocated) {
  Parsed utf = parse("a: ok\nb: \xC3\x28\n");
  EXPECT_FALSE(utf.ok);
  const Diagnostic& du = onlyError(utf);
  EXPECT_EQ(du.line, 2u);
  EXPECT_EQ(du.column, 4u);
  EXPECT_TRUE(contains(du.message, "not valid UTF-8")) << du.message;

  Parsed ctl = parse(std::string("a: x\x01y\n", 8));
  EXPECT_FALSE(ctl.ok);
  const Diagnostic& dc = onlyError(ctl);
  EXPECT_EQ(dc.line, 1u);
  EXPECT_EQ(dc.column, 5u);
  EXPECT_TRUE(contains(dc.message, "control character 0x01")) << dc.message;

  EXPECT_TRUE(parse("name: caf\xC3\xA9\n").ok);
}

TEST(YamlIoTest, ComplexKeysAreRefused) {
  Parsed p = parse("? [a, b]\n: 1\n");
  EXPECT_FALSE(p.ok);
  EXPECT_TRUE(contains(onlyError(p).message, "mapping key must be a plain value"));
}

// ---- emitYaml --------------------------------------------------------------------------

Node reparse(const Node& n) {
  Parsed p = parse(emitYaml(n));
  EXPECT_TRUE(p.ok) << emitYaml(n);
  for (const auto& d : p.diags.all()) ADD_FAILURE() << d.format() << "\n" << emitYaml(n);
  return p.root;
}

TEST(YamlIoTest, EmitRoundTripsStringsThatLookLikeOtherTypes) {
  const std::vector<std::string> tricky = {
      "true", "False", "TRUE", "null", "~", "", "42", "-7", "0x1F", "0o17", "1.5", "1e3", ".inf",
      ".nan", "yes", "no", "on", " lead", "trail ", "\ttab", "a: b", "- item", "#hash", "x #y",
      "[flow]", "{flow}", "*alias", "&anchor", "!tag", "|", ">", "%pct", "@at", "`tick", "'",
      "\"", "a,b", "?", ":", "caf\xC3\xA9", "ctl\x01", "cr\rlf", "---", "...", "0", "-"};
  Node m = Node::map();
  Node list = Node::seq();
  for (size_t i = 0; i < tricky.size(); ++i) {
    m.set("k" + std::to_string(i), Node::string(tricky[i]));
    list.push(Node::string(tricky[i]));
  }
  m.set("list", std::move(list));
  Node back = reparse(m);
  EXPECT_TRUE(back.sameValue(m)) << emitYaml(m);
  for (size_t i = 0; i < tricky.size(); ++i) {
    const Node* v = back.find("k" + std::to_string(i));
    ASSERT_NE(v, nullptr);
    EXPECT_EQ(v->kind(), Kind::kString) << "\"" << tricky[i] << "\"";
    EXPECT_EQ(v->text(), tricky[i]);
  }
}

TEST(YamlIoTest, EmitRoundTripsMultiLineStrings) {
  const std::vector<std::string> texts = {
      "line one\nline two\n",            // literal block
      "no final newline\nsecond",        // must be quoted
      "two final newlines\n\n",          // keep chomping would be needed
      "  indented first line\nnext\n",   // literal block would need an indicator
      "trailing space \nnext\n",
      "#!/bin/bash\nset -e\necho \"hi\"\n",
      "\n",
      "a\n\nb\n",
      "{\"json\": [1, 2]}\n",
      "nel\xC2\x85inside a block\n",  // NEL/LS/PS are breaks in a block: must be quoted
      "ls\xE2\x80\xA8too\n"};
  Node m = Node::map();
  for (size_t i = 0; i < texts.size(); ++i) m.set("t" + std::to_string(i), Node::string(texts[i]));
  Node back = reparse(m);
  for (size_t i = 0; i < texts.size(); ++i) {
    const Node* v = back.find("t" + std::to_string(i));
    ASSERT_NE(v, nullptr);
    EXPECT_EQ(v->text(), texts[i]) << emitYaml(m);
  }
  EXPECT_TRUE(contains(emitYaml(m), "t0: |\n  line one\n  line two\n")) << emitYaml(m);
}

TEST(YamlIoTest, NoncharactersAndC1ControlsAreRefusedWhereTheyStand) {
  // Found by the profile loader fuzzer: U+FFFF read fine but was written back as U+FFFD.
  Parsed raw = parse("a: x\nb: ok\xEF\xBF\xBF\n");
  EXPECT_FALSE(raw.ok);
  ASSERT_FALSE(raw.diags.all().empty());
  EXPECT_EQ(raw.diags.all()[0].line, 2u);
  EXPECT_TRUE(contains(raw.diags.all()[0].message, "U+FFFF"));
  Parsed c1 = parse("a: \xC2\x9F\n");
  EXPECT_FALSE(c1.ok);
  Parsed escaped = parse("a: \"\\uFFFF\"\n");
  EXPECT_FALSE(escaped.ok);
  // The tree stays writable: what is kept reads back the same.
  Node back = reparse(escaped.root);
  EXPECT_TRUE(back.sameValue(escaped.root));
  // The other noncharacters too (yaml-cpp's writer replaces U+FDD0..U+FDEF and the last two
  // of every plane), raw or escaped; found by the profile loader fuzzer (U+FDDF in a key).
  for (std::string bad : {"\xEF\xB7\x9F", "\xEF\xB7\x90", "\xF0\x9F\xBF\xBE"}) {
    Parsed in_text = parse("a: x\n\"k" + bad + "\r\": ok\n");
    EXPECT_FALSE(in_text.ok) << bad;
    ASSERT_FALSE(in_text.diags.all().empty());
    EXPECT_EQ(in_text.diags.all()[0].line, 2u);
  }
  for (std::string esc : {"\\uFDDF", "\\U0001FFFE"}) {
    Parsed e = parse("a: \"" + esc + "\"\n");
    EXPECT_FALSE(e.ok) << esc;
    EXPECT_TRUE(reparse(e.root).sameValue(e.root)) << esc;
  }
  // Characters next to them are kept: U+FDCF and U+FDF0 are ordinary.
  Parsed near = parse("a: \"\xEF\xB7\x8F\xEF\xB7\xB0\"\n");
  EXPECT_TRUE(near.ok);
  EXPECT_TRUE(reparse(near.root).sameValue(near.root));
  // \N and \_ decode to U+0085 and U+00A0 as UTF-8 (yaml-cpp alone gives raw bytes).
  Parsed nel = parse("a: \"x\\Ny\\_z\"\n");
  EXPECT_TRUE(nel.ok);
  EXPECT_EQ(nel.root.find("a")->text(), "x\xC2\x85y\xC2\xA0z");
  EXPECT_TRUE(reparse(nel.root).sameValue(nel.root));
  // C1 controls written as escapes are fine and survive a round trip.
  Parsed esc = parse("a: \"\\x9f\\x85\"\n");
  EXPECT_TRUE(esc.ok);
  EXPECT_TRUE(reparse(esc.root).sameValue(esc.root));
}

TEST(YamlIoTest, EmitRoundTripsEveryKindAndTrickyKeys) {
  Node m = Node::map();
  m.set("b", Node::boolean(true));
  m.set("n", Node::null());
  m.set("i", Node::integer(-12));
  m.set("f", Node::number("0.50"));
  m.set("empty_list", Node::seq());
  m.set("empty_map", Node::map());
  m.set("true", Node::string("key looks like a bool"));
  m.set("42", Node::string("key looks like a number"));
  m.set("/etc/km.conf", Node::string("path key"));
  m.set(" spaced ", Node::string("spaced key"));
  for (const char* key : {"a: b", "#hash", "- dash", "[x]", "{y}", "", "~", "null", "k\nl", "*star", "? q"})
    m.set(key, Node::string(std::string("value of ") + key));
  m.set("long", Node::string(std::string(150, 'w') + " " + std::string(150, 'v') + " end"));
  Node& nested = m.set("nested", Node::map());
  Node& seq = nested.set("seq", Node::seq());
  seq.push(Node::map());
  seq.items().back().set("x", Node::integer(1));
  seq.push(Node::seq());
  seq.items().back().push(Node::string("deep"));
  Node back = reparse(m);
  EXPECT_TRUE(back.sameValue(m)) << emitYaml(m);
  ASSERT_EQ(back.entries().size(), m.entries().size());
  for (size_t i = 0; i < m.entries().size(); ++i) EXPECT_EQ(back.entries()[i].key, m.entries()[i].key);
  EXPECT_EQ(back.find("f")->text(), "0.50");  // numbers keep their text
}

TEST(YamlIoTest, EmittedParsedEmittedIsStable) {
  Parsed p = parse("a: 1\nb:\n  - x\n  - \"true\"\nc: {d: e}\ns: |\n  l1\n  l2\n");
  ASSERT_TRUE(p.ok);
  std::string once = emitYaml(p.root);
  Parsed again = parse(once);
  ASSERT_TRUE(again.ok);
  EXPECT_EQ(emitYaml(again.root), once);
  EXPECT_EQ(once.back(), '\n');
}

TEST(YamlIoTest, ByteOrderMarkIsSkippedAndPositionsCountFromAfterIt) {
  Parsed p = parse("\xEF\xBB\xBF" "a: '\"'\nb: ~\n");
  ASSERT_TRUE(p.ok) << p.diags.all().size();
  EXPECT_EQ(p.root.find("a")->text(), "\"");
  EXPECT_EQ(p.root.find("b")->mark().line, 2u);
  EXPECT_EQ(p.root.find("b")->mark().column, 4u);
  Parsed bad = parse("\xEF\xBB\xBF" "a: 1\n\x01\n");
  EXPECT_FALSE(bad.ok);
  EXPECT_EQ(onlyError(bad).line, 2u);
  EXPECT_EQ(onlyError(bad).column, 1u);
}

TEST(YamlIoTest, CrLfLineEndingsParseLikeLf) {
  Parsed p = parse("a: 1\r\nb:\r\n  - x\r\n");
  ASSERT_TRUE(p.ok);
  EXPECT_EQ(p.root.find("b")->items()[0].text(), "x");
  EXPECT_EQ(p.root.find("b")->items()[0].mark().line, 3u);
}

TEST(YamlIoTest, EmitQuotesStringsThatWouldReadBackAsSomethingElse) {
  Node m = Node::map();
  m.set("<<", Node::string("v"));
  m.set("k", Node::string("line\xE2\x80\xA8" "sep"));
  std::string out = emitYaml(m);
  Parsed back = parse(out);
  ASSERT_TRUE(back.ok) << out;
  EXPECT_TRUE(back.root.sameValue(m)) << out;
  EXPECT_NE(out.find("\"<<\""), std::string::npos) << out;
}

TEST(YamlIoTest, CommonSyntaxErrorsCarryAHintToFixThem) {
  Parsed tab = parse("a:\n\tb: 1\n");
  EXPECT_FALSE(tab.ok);
  EXPECT_TRUE(contains(onlyError(tab).message, "indent with spaces, not tabs")) << onlyError(tab).message;
  Parsed value = parse("a: b: c\n");
  EXPECT_FALSE(value.ok);
  EXPECT_TRUE(contains(onlyError(value).message, "may need quotes")) << onlyError(value).message;
  Parsed deep = parse(std::string(5000, '[') + std::string(5000, ']'));
  EXPECT_FALSE(deep.ok);
  EXPECT_TRUE(contains(deep.diags.all().front().message, "nesting too deep"))
      << deep.diags.all().front().message;
}

}  // namespace
}  // namespace km::doc
