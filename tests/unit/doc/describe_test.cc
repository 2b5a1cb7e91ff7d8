// The field-description framework on a small made-up document type, so each codec and rule
// is seen in isolation (the profile's own descriptions are tested in profile/schema_test.cc).
#include "doc/describe.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "doc/yaml_io.h"

namespace km::doc::describe_fixture {

struct Inner {
  std::string color;
  std::optional<int64_t> count;
};

struct Outer {
  std::string name;
  std::optional<std::string> mode;
  std::optional<std::string> image;
  std::vector<std::string> tags;
  std::vector<std::string> regions;
  bool enabled = false;
  std::optional<bool> flag;
  int64_t size = 0;
  std::optional<Dollars> cap;
  std::optional<Ratio> warn;
  StringMap env;
  std::optional<Node> free;
  std::optional<StringOrList> parents;
  std::optional<Inner> inner;
  std::vector<Inner> inners;
};

}  // namespace km::doc::describe_fixture

namespace km::doc {

using describe_fixture::Inner;
using describe_fixture::Outer;

template <>
struct Describe<Inner> {
  static constexpr std::string_view kDoc = "Inner.";
  static void build(Fields<Inner>& f) {
    f.add("color", &Inner::color, "Color.").required().oneOf({"red", "green"}).exampleValue("red");
    f.add("count", &Inner::count, "Count.").min(0).max(10);
  }
};

template <>
struct Describe<Outer> {
  static constexpr std::string_view kDoc = "Outer doc.";
  static void build(Fields<Outer>& f) {
    f.add("name", &Outer::name, "Name.").required().minLength(1).exampleValue("demo");
    f.add("mode", &Outer::mode, "Mode.").oneOf({"fast", "slow"}).defaultValue("fast");
    f.add("image", &Outer::image, "Image.")
        .oneOf({"std", ""}).pattern("^img-[0-9a-f]{4}$", "an id like img-00ff").enumOrPattern();
    f.add("tags", &Outer::tags, "Tags.").pattern("^[a-z]+$", "a lowercase word");
    f.add("regions", &Outer::regions, "Regions.").minItems(1);
    f.add("enabled", &Outer::enabled, "Enabled.").required();
    f.add("flag", &Outer::flag, "Flag.");
    f.add("size", &Outer::size, "Size.").min(1);
    f.add("cap", &Outer::cap, "Cap.").min(0);
    f.add("warn", &Outer::warn, "Warn.").min(0).max(kPpmOne);
    f.add("env", &Outer::env, "Env.");
    f.add("free", &Outer::free, "Free.");
    f.add("parents", &Outer::parents, "Parents.");
    f.add("inner", &Outer::inner, "Inner.");
    f.add("inners", &Outer::inners, "Inners.");
    f.add("email", &Outer::name, "Not really an email.").format("email");
  }
};

namespace {

struct Decoded {
  Outer value;
  Diagnostics diags;
};

// A valid base document with `extra` lines appended (later keys must not repeat base keys).
Decoded decodeText(const std::string& text) {
  Decoded d;
  Node root;
  EXPECT_TRUE(parseYaml(text, "o.yaml", root, d.diags)) << text;
  d.value = decode<Outer>(root, d.diags);
  return d;
}

constexpr const char* kBase = "name: demo\nenabled: true\n";

const Diagnostic* errorAt(const Diagnostics& diags, std::string_view path) {
  for (const auto& d : diags.all())
    if (d.path == path && d.isError()) return &d;
  return nullptr;
}

std::string dump(const Diagnostics& diags) {
  std::string out;
  for (const auto& d : diags.all()) out += "\n  " + d.format();
  return out;
}

// Exactly one error, at `path`, `line`:`col`, whose message contains `phrase`.
void expectOneError(const std::string& text, std::string_view path, uint32_t line, uint32_t col,
                    std::string_view phrase) {
  Decoded d = decodeText(text);
  EXPECT_EQ(d.diags.errorCount(), 1u) << text << dump(d.diags);
  const Diagnostic* e = errorAt(d.diags, path);
  ASSERT_NE(e, nullptr) << "no error at " << path << " for:\n" << text << dump(d.diags);
  EXPECT_EQ(e->line, line) << e->format();
  EXPECT_EQ(e->column, col) << e->format();
  EXPECT_NE(e->message.find(phrase), std::string::npos)
      << "message lacks \"" << phrase << "\": " << e->format();
}

TEST(DescribeTest, ValidDocumentDecodesEveryCodec) {
  Decoded d = decodeText(std::string(kBase) +
                         "mode: slow\nimage: img-00ff\ntags: [a, b]\nregions: [r]\nflag: false\n"
                         "size: 010\ncap: 1.25\nwarn: 0.8\nenv: {B: x, A: y}\nfree: {any: [1, {x: y}]}\n"
                         "parents: base\ninner: {color: red, count: 0x0A}\ninners: [{color: green}]\n");
  EXPECT_FALSE(d.diags.hasErrors()) << dump(d.diags);
  const Outer& o = d.value;
  EXPECT_EQ(o.name, "demo");
  EXPECT_EQ(o.mode, "slow");
  EXPECT_EQ(o.image, "img-00ff");
  EXPECT_EQ(o.tags, (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(o.enabled);
  EXPECT_EQ(o.flag, false);
  EXPECT_EQ(o.size, 10);  // YAML 1.2: a leading zero is still decimal
  EXPECT_EQ(o.cap->micros, 1'250'000);
  EXPECT_EQ(o.warn->ppm, 800'000);
  ASSERT_EQ(o.env.size(), 2u);
  EXPECT_EQ(o.env[0].first, "B");  // document order kept
  ASSERT_TRUE(o.free.has_value());
  EXPECT_TRUE(o.free->isMap());
  ASSERT_TRUE(o.parents.has_value());
  EXPECT_FALSE(o.parents->was_list);
  EXPECT_EQ(o.parents->values, (std::vector<std::string>{"base"}));
  EXPECT_EQ(o.inner->count, 10);
  ASSERT_EQ(o.inners.size(), 1u);
  EXPECT_EQ(o.inners[0].color, "green");
}

TEST(DescribeTest, IntegersFollowYaml12Bases) {
  Decoded d = decodeText(std::string(kBase) + "size: 0o17\ninner: {color: red, count: +7}\n");
  EXPECT_FALSE(d.diags.hasErrors()) << dump(d.diags);
  EXPECT_EQ(d.value.size, 15);
  EXPECT_EQ(d.value.inner->count, 7);
  Decoded hex = decodeText(std::string(kBase) + "size: 0x1F\n");
  EXPECT_FALSE(hex.diags.hasErrors()) << dump(hex.diags);
  EXPECT_EQ(hex.value.size, 31);
}

TEST(DescribeTest, MissingRequiredFieldPointsAtTheMappingAndGivesAnExample) {
  expectOneError("enabled: true\n", "name", 1, 1, "required field \"name\" is missing; add it, e.g. name: demo");
  expectOneError("name: x\n", "enabled", 1, 1, "required field \"enabled\" is missing");
  expectOneError(std::string(kBase) + "inner:\n  count: 1\n", "inner.color", 4, 3,
                 "required field \"color\" is missing; add it, e.g. color: red");
}

TEST(DescribeTest, UnknownFieldSuggestsTheClosestNameAtTheKey) {
  expectOneError(std::string(kBase) + "flg: true\n", "flg", 3, 1, "unknown field \"flg\"; did you mean \"flag\"?");
  expectOneError(std::string(kBase) + "inner: {color: red, cont: 1}\n", "inner.cont", 3, 21,
                 "did you mean \"count\"?");
  // Levenshtein counts a swap of two letters as two edits, too many for a 5-letter word.
  expectOneError(std::string(kBase) + "inner: {color: red, cuont: 1}\n", "inner.cuont", 3, 21,
                 "fields allowed here: color, count");
}

TEST(DescribeTest, UnknownFieldWithoutACloseMatchListsAllowedFields) {
  expectOneError(std::string(kBase) + "inner: {color: red, zebra: 1}\n", "inner.zebra", 3, 21,
                 "unknown field \"zebra\"; fields allowed here: color, count");
}

TEST(DescribeTest, TypeMismatchesExplainTheFix) {
  expectOneError("name: 42\nenabled: true\n", "name", 1, 7, "expected a string, got a whole number (42); put it in quotes: \"42\"");
  expectOneError("name: x\nenabled: yes\n", "enabled", 2, 10, "expected true or false, got a string (yes); write true");
  expectOneError("name: x\nenabled: off\n", "enabled", 2, 10, "write false");
  expectOneError("name: x\nenabled: \"true\"\n", "enabled", 2, 10, "write true or false without quotes");
  expectOneError(std::string(kBase) + "tags: a\n", "tags", 3, 7, "expected a list, got a string (a); write it as a list: [a]");
  expectOneError(std::string(kBase) + "tags:\n", "tags", 3, 1, "give it a value (write [] for an empty list)");
  expectOneError(std::string(kBase) + "inner: red\n", "inner", 3, 8, "expected a mapping, got a string (red)");
  expectOneError(std::string(kBase) + "inner:\n", "inner", 3, 1, "give it a value or remove the key");
  expectOneError(std::string(kBase) + "size: 1.5\n", "size", 3, 7, "expected a whole number, got 1.5");
  expectOneError(std::string(kBase) + "size: ten\n", "size", 3, 7, "expected a whole number, got a string (ten)");
  expectOneError(std::string(kBase) + "cap: lots\n", "cap", 3, 6, "expected a number, got a string (lots)");
  expectOneError(std::string(kBase) + "env: [a]\n", "env", 3, 6, "expected a mapping, got a list");
  expectOneError(std::string(kBase) + "env: {A: 1}\n", "env.A", 3, 10, "put it in quotes");
  expectOneError(std::string(kBase) + "free: [a]\n", "free", 3, 7, "expected a mapping");
  expectOneError(std::string(kBase) + "parents: 3\n", "parents", 3, 10, "expected a name or a list of names");
  expectOneError(std::string(kBase) + "tags: [a, {x: 1}]\n", "tags[1]", 3, 11, "expected a string, got a mapping");
}

TEST(DescribeTest, LongValuesAreShortenedInMessages) {
  std::string long_word(60, 'z');
  Decoded d = decodeText(std::string(kBase) + "size: " + long_word + "\n");
  const Diagnostic* e = errorAt(d.diags, "size");
  ASSERT_NE(e, nullptr);
  EXPECT_NE(e->message.find(std::string(37, 'z') + "..."), std::string::npos) << e->message;
  EXPECT_EQ(e->message.find(long_word), std::string::npos);
}

TEST(DescribeTest, EnumsListTheAllowedValuesAndGuess) {
  expectOneError(std::string(kBase) + "mode: fasst\n", "mode", 3, 7,
                 "\"fasst\" is not allowed; use one of: fast, slow (did you mean \"fast\"?)");
  expectOneError(std::string(kBase) + "mode: medium\n", "mode", 3, 7, "use one of: fast, slow");
  expectOneError(std::string(kBase) + "inners: [{color: red}, {color: blue}]\n", "inners[1].color", 3, 32,
                 "\"blue\" is not allowed");
}

TEST(DescribeTest, EnumOrPatternAcceptsEitherAndExplainsBoth) {
  for (const char* ok : {"std", "\"\"", "img-0a0b"}) {
    Decoded d = decodeText(std::string(kBase) + "image: " + ok + "\n");
    EXPECT_FALSE(d.diags.hasErrors()) << ok << dump(d.diags);
  }
  expectOneError(std::string(kBase) + "image: img-xyz\n", "image", 3, 8,
                 "\"img-xyz\" is not valid; use one of std, \"\", or an id like img-00ff");
}

TEST(DescribeTest, PatternsApplyToEachListItemAndNameTheRegex) {
  expectOneError(std::string(kBase) + "tags: [ok, Not-Ok]\n", "tags[1]", 3, 12,
                 "\"Not-Ok\" is not a lowercase word (must match ^[a-z]+$)");
}

TEST(DescribeTest, MinLengthMinItemsAndNumericBounds) {
  expectOneError("name: \"\"\nenabled: true\n", "name", 1, 7, "must not be empty");
  expectOneError(std::string(kBase) + "regions: []\n", "regions", 3, 10, "needs at least 1 item");
  expectOneError(std::string(kBase) + "size: 0\n", "size", 3, 7, "must be at least 1, got 0");
  expectOneError(std::string(kBase) + "inner: {color: red, count: 11}\n", "inner.count", 3, 28,
                 "must be at most 10, got 11");
  expectOneError(std::string(kBase) + "cap: -0.01\n", "cap", 3, 6, "must be at least 0.00, got -0.01");
  expectOneError(std::string(kBase) + "warn: 1.5\n", "warn", 3, 7, "must be at most 1.0, got 1.5");
  expectOneError(std::string(kBase) + "size: 99999999999999999999\n", "size", 3, 7, "out of range");
}

TEST(DescribeTest, MoneyFinerThanAMicroDollarIsRefused) {
  Decoded d = decodeText(std::string(kBase) + "cap: 0.1234567\n");
  ASSERT_EQ(d.diags.errorCount(), 1u) << dump(d.diags);
  const Diagnostic* e = errorAt(d.diags, "cap");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->line, 3u);
  EXPECT_EQ(e->column, 6u);
  EXPECT_FALSE(e->message.empty());
}

TEST(DescribeTest, EveryErrorIsReportedNotOnlyTheFirst) {
  Decoded d = decodeText("name: \"\"\nenabled: maybe\nmode: x\nsize: 0\nbogus: 1\ninner: {}\n");
  EXPECT_EQ(d.diags.errorCount(), 6u) << dump(d.diags);
  for (const char* path : {"name", "enabled", "mode", "size", "bogus", "inner.color"})
    EXPECT_NE(errorAt(d.diags, path), nullptr) << path << dump(d.diags);
}

TEST(DescribeTest, StringOrListKeepsWhichFormWasWritten) {
  Decoded d = decodeText(std::string(kBase) + "parents: [a, b]\n");
  ASSERT_FALSE(d.diags.hasErrors()) << dump(d.diags);
  EXPECT_TRUE(d.value.parents->was_list);
  EXPECT_EQ(d.value.parents->values, (std::vector<std::string>{"a", "b"}));
  Node enc = encode(d.value);
  ASSERT_NE(enc.find("parents"), nullptr);
  EXPECT_TRUE(enc.find("parents")->isSeq());

  Decoded one = decodeText(std::string(kBase) + "parents: a\n");
  EXPECT_EQ(encode(one.value).find("parents")->kind(), Node::Kind::kString);
  expectOneError(std::string(kBase) + "parents: \"\"\n", "parents", 3, 10, "must not be empty");
}

TEST(DescribeTest, EncodeKeepsFieldOrderAndOmitsUnsetOptionals) {
  Decoded d = decodeText("inner: {count: 2, color: green}\nenabled: true\nname: demo\nsize: 3\n");
  ASSERT_FALSE(d.diags.hasErrors()) << dump(d.diags);
  Node enc = encode(d.value);
  std::vector<std::string> keys;
  for (const auto& e : enc.entries()) keys.push_back(e.key);
  // Description order, not document order; optionals not written are left out, while
  // required and plain (non-optional) members are always present.
  EXPECT_EQ(keys, (std::vector<std::string>{"name", "enabled", "size", "inner", "email"}));
  std::vector<std::string> inner_keys;
  for (const auto& e : enc.find("inner")->entries()) inner_keys.push_back(e.key);
  EXPECT_EQ(inner_keys, (std::vector<std::string>{"color", "count"}));
  EXPECT_EQ(enc.find("size")->kind(), Node::Kind::kInt);
}

TEST(DescribeTest, EncodeWritesMoneyAndRatiosAsExactNumbers) {
  Decoded d = decodeText(std::string(kBase) + "size: 3\ncap: 0.5\nwarn: 0.75\nenv: {K: v}\n");
  ASSERT_FALSE(d.diags.hasErrors()) << dump(d.diags);
  Node enc = encode(d.value);
  EXPECT_EQ(enc.find("cap")->kind(), Node::Kind::kFloat);
  EXPECT_EQ(enc.find("cap")->text(), "0.50");
  EXPECT_EQ(enc.find("warn")->text(), "0.75");
  EXPECT_EQ(enc.find("env")->find("K")->text(), "v");
  // Decoding the encoding gives the same value again.
  Diagnostics again;
  Outer back = decode<Outer>(enc, again);
  EXPECT_FALSE(again.hasErrors()) << dump(again);
  EXPECT_EQ(back.cap, d.value.cap);
  EXPECT_EQ(back.warn, d.value.warn);
  EXPECT_TRUE(encode(back).sameValue(enc));
}

TEST(DescribeTest, SchemaDescribesTypesRulesAndRequiredFields) {
  Node s = schemaOf<Outer>();
  EXPECT_EQ(s.find("type")->text(), "object");
  EXPECT_EQ(s.find("description")->text(), "Outer doc.");
  EXPECT_FALSE(s.find("additionalProperties")->asBool());
  std::vector<std::string> required;
  for (const auto& r : s.find("required")->items()) required.push_back(r.text());
  EXPECT_EQ(required, (std::vector<std::string>{"name", "enabled"}));
  const Node* p = s.find("properties");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->find("name")->find("minLength")->text(), "1");
  EXPECT_EQ(p->find("mode")->find("enum")->items().size(), 2u);
  EXPECT_EQ(p->find("mode")->find("default")->text(), "fast");
  EXPECT_EQ(p->find("image")->find("anyOf")->items().size(), 2u);
  EXPECT_EQ(p->find("tags")->find("type")->text(), "array");
  EXPECT_EQ(p->find("tags")->find("items")->find("pattern")->text(), "^[a-z]+$");
  EXPECT_EQ(p->find("regions")->find("minItems")->text(), "1");
  EXPECT_EQ(p->find("enabled")->find("type")->text(), "boolean");
  EXPECT_EQ(p->find("size")->find("type")->text(), "integer");
  EXPECT_EQ(p->find("size")->find("minimum")->text(), "1");
  EXPECT_EQ(p->find("cap")->find("type")->text(), "number");
  EXPECT_EQ(p->find("warn")->find("maximum")->text(), "1.0");
  EXPECT_EQ(p->find("env")->find("additionalProperties")->find("type")->text(), "string");
  EXPECT_TRUE(p->find("free")->find("additionalProperties")->asBool());
  EXPECT_EQ(p->find("parents")->find("oneOf")->items().size(), 2u);
  EXPECT_EQ(p->find("email")->find("format")->text(), "email");
  const Node* inner = p->find("inner");
  EXPECT_EQ(inner->find("properties")->find("count")->find("maximum")->text(), "10");
  EXPECT_EQ(p->find("inners")->find("items")->find("type")->text(), "object");
}

TEST(DescribeTest, DecodingANonMappingRootIsOneTypeError) {
  Diagnostics diags;
  Node root = Node::seq();
  decode<Outer>(root, diags);
  ASSERT_EQ(diags.errorCount(), 1u) << dump(diags);
  EXPECT_NE(diags.all()[0].message.find("expected a mapping, got a list"), std::string::npos);
}

}  // namespace
}  // namespace km::doc
