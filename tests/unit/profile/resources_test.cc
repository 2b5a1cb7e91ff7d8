// spec.runtime.resources, km's extension for explicit local cpu/memory/pids limits: what is
// accepted, every refused value with its field path, line, column and message, encoding back
// (cpus stay exact decimals), extends merging field by field, and the JSON Schema entry.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

#include "doc/json_io.h"
#include "doc/yaml_io.h"
#include "profile/profile.h"
#include "support/profile_fixtures.h"

namespace km::profile {
namespace {

constexpr std::string_view kFlowRuntime =
    "  runtime: {substrate: ec2, instanceType: t3.small, region: us-east-1}\n";

// The complete test profile with a block-style runtime whose `resources:` mapping holds
// `body` (lines at six spaces).
std::string withResources(std::string_view body) {
  std::string text(test::kCompleteProfile);
  size_t at = text.find(kFlowRuntime);
  EXPECT_NE(at, std::string::npos);
  text.replace(at, kFlowRuntime.size(),
               "  runtime:\n    substrate: local\n    instanceType: t3.medium\n    region: us-east-1\n"
               "    resources:\n" +
                   std::string(body));
  return text;
}

Loaded loadStructural(const std::string& yaml) {
  LoadOptions options;
  options.semantics = false;
  return loadText(yaml, "p.yaml", options);
}

std::string dump(const doc::Diagnostics& diags) {
  std::string out;
  for (const auto& d : diags.all()) out += "\n  " + d.format();
  return out;
}

// 1-based line and column of the character after '^' in `marked`, which occurs once in `text`.
std::pair<uint32_t, uint32_t> positionOf(const std::string& text, std::string_view marked) {
  size_t caret = marked.find('^');
  std::string needle = std::string(marked.substr(0, caret)) + std::string(marked.substr(caret + 1));
  size_t at = text.find(needle);
  EXPECT_NE(at, std::string::npos) << needle;
  EXPECT_EQ(text.find(needle, at + 1), std::string::npos) << needle << " occurs twice";
  at += caret;
  uint32_t line = 1, column = 1;
  for (size_t i = 0; i < at; ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return {line, column};
}

struct BadValue {
  std::string body;     // the resources mapping's lines
  std::string path;     // expected field path
  std::string where;    // snippet with ^ before the reported character
  std::string message;  // phrase the message must contain
};

TEST(RuntimeResourcesTest, ValidValuesDecodeExactly) {
  Loaded l = loadStructural(withResources("      cpus: 0.5\n      memory: 512Mi\n      pids: 256\n"));
  ASSERT_TRUE(l.diagnostics.all().empty()) << dump(l.diagnostics);
  ASSERT_TRUE(l.profile.spec.runtime.resources);
  const RuntimeResources& r = *l.profile.spec.runtime.resources;
  EXPECT_EQ(r.cpus, Cpus{500});
  EXPECT_EQ(r.memory, "512Mi");
  EXPECT_EQ(r.pids, 256);
}

TEST(RuntimeResourcesTest, EveryFieldIsOptional) {
  Loaded l = loadStructural(withResources("      pids: 100\n"));
  ASSERT_TRUE(l.diagnostics.all().empty()) << dump(l.diagnostics);
  EXPECT_FALSE(l.profile.spec.runtime.resources->cpus);
  EXPECT_FALSE(l.profile.spec.runtime.resources->memory);
  Loaded absent = loadStructural(std::string(test::kCompleteProfile));
  ASSERT_TRUE(absent.ok()) << dump(absent.diagnostics);
  EXPECT_FALSE(absent.profile.spec.runtime.resources);
}

TEST(RuntimeResourcesTest, AcceptsEveryDocumentedForm) {
  struct Case {
    const char* cpus;
    int64_t millis;
  };
  for (Case c : {Case{"2", 2000}, Case{"0.5", 500}, Case{"0.001", 1}, Case{"1.25", 1250}, Case{"4096", 4'096'000},
                 Case{"2.50", 2500}}) {
    Loaded l = loadStructural(withResources(std::string("      cpus: ") + c.cpus + "\n"));
    ASSERT_TRUE(l.diagnostics.all().empty()) << c.cpus << dump(l.diagnostics);
    EXPECT_EQ(l.profile.spec.runtime.resources->cpus->millis, c.millis) << c.cpus;
  }
  for (const char* memory : {"512Mi", "4Gi", "2G", "1024M", "1Ti", "1T", "64Ki", "64K", "\"1073741824\"",
                             "999999Ti", "\"999999999999999999\""}) {
    Loaded l = loadStructural(withResources(std::string("      memory: ") + memory + "\n"));
    EXPECT_TRUE(l.diagnostics.all().empty()) << memory << dump(l.diagnostics);
  }
  for (const char* pids : {"1", "4096", "4194304"}) {
    Loaded l = loadStructural(withResources(std::string("      pids: ") + pids + "\n"));
    EXPECT_TRUE(l.diagnostics.all().empty()) << pids << dump(l.diagnostics);
  }
}

TEST(RuntimeResourcesTest, EachInvalidValueIsALocatedError) {
  const BadValue cases[] = {
      {"      cpus: 0\n", "spec.runtime.resources.cpus", "cpus: ^0", "must be more than 0, got 0"},
      {"      cpus: -1\n", "spec.runtime.resources.cpus", "cpus: ^-1", "must be more than 0, got -1"},
      {"      cpus: 0.0005\n", "spec.runtime.resources.cpus", "cpus: ^0.0005",
       "\"0.0005\" is not a plain decimal number of CPUs with at most 3 decimals, like 0.5 or 2"},
      {"      cpus: 1e3\n", "spec.runtime.resources.cpus", "cpus: ^1e3", "is not a plain decimal number of CPUs"},
      {"      cpus: 5000\n", "spec.runtime.resources.cpus", "cpus: ^5000", "must be at most 4096, got 5000"},
      {"      cpus: \"2\"\n", "spec.runtime.resources.cpus", "cpus: ^\"2\"",
       "expected a number of CPUs like 0.5 or 2, got a string (2)"},
      {"      cpus: two\n", "spec.runtime.resources.cpus", "cpus: ^two", "expected a number of CPUs"},
      {"      memory: 4GB\n", "spec.runtime.resources.memory", "memory: ^4GB",
       "\"4GB\" is not a memory size like 512Mi, 4Gi or 2G"},
      {"      memory: 512mi\n", "spec.runtime.resources.memory", "memory: ^512mi", "is not a memory size"},
      {"      memory: 0Mi\n", "spec.runtime.resources.memory", "memory: ^0Mi", "is not a memory size"},
      {"      memory: 1.5Gi\n", "spec.runtime.resources.memory", "memory: ^1.5Gi", "is not a memory size"},
      // Too many digits for the suffix: the value would not fit in 64 bits.
      {"      memory: 9999999Ti\n", "spec.runtime.resources.memory", "memory: ^9999999Ti", "is not a memory size"},
      {"      memory: 1073741824\n", "spec.runtime.resources.memory", "memory: ^1073741824",
       "put it in quotes: \"1073741824\""},
      {"      memory: 0\n", "spec.runtime.resources.memory", "memory: ^0", "write a memory size like 512Mi"},
      {"      pids: 0\n", "spec.runtime.resources.pids", "pids: ^0", "must be at least 1, got 0"},
      {"      pids: 5000000\n", "spec.runtime.resources.pids", "pids: ^5000000", "must be at most 4194304"},
      {"      pids: 1.5\n", "spec.runtime.resources.pids", "pids: ^1.5", "expected a whole number, got 1.5"},
      {"      cpu: 2\n", "spec.runtime.resources.cpu", "^cpu: 2", "unknown field \"cpu\"; did you mean \"cpus\"?"},
  };
  for (const BadValue& c : cases) {
    SCOPED_TRACE(c.body);
    std::string yaml = withResources(c.body);
    Loaded l = loadStructural(yaml);
    ASSERT_EQ(l.diagnostics.all().size(), 1u) << dump(l.diagnostics);
    const doc::Diagnostic& d = l.diagnostics.all().front();
    EXPECT_TRUE(d.isError());
    EXPECT_EQ(d.path, c.path) << d.format();
    auto [line, column] = positionOf(yaml, c.where);
    EXPECT_EQ(d.line, line) << d.format();
    EXPECT_EQ(d.column, column) << d.format();
    EXPECT_NE(d.message.find(c.message), std::string::npos) << d.format();
  }
}

TEST(RuntimeResourcesTest, ResourcesMustBeAMapping) {
  std::string yaml(test::kCompleteProfile);
  yaml.replace(yaml.find("region: us-east-1}"), 18, "region: us-east-1, resources: 4}");
  Loaded l = loadStructural(yaml);
  ASSERT_EQ(l.diagnostics.all().size(), 1u) << dump(l.diagnostics);
  EXPECT_EQ(l.diagnostics.all()[0].path, "spec.runtime.resources");
  EXPECT_NE(l.diagnostics.all()[0].message.find("expected a mapping"), std::string::npos);
}

TEST(RuntimeResourcesTest, EncodesBackExactlyAndReloads) {
  Loaded l = loadStructural(withResources("      cpus: 0.250\n      memory: 4Gi\n      pids: 512\n"));
  ASSERT_TRUE(l.ok()) << dump(l.diagnostics);
  doc::Node encoded = toNode(l.profile);
  const doc::Node* r = doc::locate(encoded, "spec.runtime.resources");
  ASSERT_TRUE(r && r->isMap());
  EXPECT_EQ(r->find("cpus")->text(), "0.25");
  EXPECT_EQ(r->find("memory")->text(), "4Gi");
  EXPECT_EQ(r->find("pids")->text(), "512");

  Loaded again = loadStructural(doc::emitYaml(encoded));
  ASSERT_TRUE(again.ok()) << dump(again.diagnostics);
  EXPECT_EQ(again.profile.spec.runtime.resources->cpus, Cpus{250});
  EXPECT_EQ(again.profile.spec.runtime.resources->memory, "4Gi");
  EXPECT_EQ(again.profile.spec.runtime.resources->pids, 512);

  Loaded whole = loadStructural(withResources("      cpus: 2\n"));
  EXPECT_EQ(doc::locate(toNode(whole.profile), "spec.runtime.resources.cpus")->text(), "2");
}

TEST(RuntimeResourcesTest, ExtendsMergesFieldByField) {
  LoadOptions options;
  Loaded l = loadText(R"(apiVersion: klankermaker.ai/v1alpha2
kind: SandboxProfile
metadata: {name: child}
extends: sealed
spec:
  runtime:
    resources: {cpus: 1}
)",
                      "child.yaml", options);
  ASSERT_TRUE(l.ok()) << dump(l.diagnostics);
  ASSERT_TRUE(l.profile.spec.runtime.resources);
  EXPECT_EQ(l.profile.spec.runtime.resources->cpus, Cpus{1000});
  EXPECT_EQ(l.profile.spec.runtime.instance_type, "t3.micro");  // still the parent's
}

TEST(RuntimeResourcesTest, JsonSchemaDescribesTheExtension) {
  auto schema = nlohmann::json::parse(doc::toJson(jsonSchema()));
  const auto& r = schema["properties"]["spec"]["properties"]["runtime"]["properties"]["resources"];
  ASSERT_TRUE(r.is_object());
  EXPECT_NE(r["description"].get<std::string>().find("km extension"), std::string::npos);
  EXPECT_EQ(r["additionalProperties"], false);
  EXPECT_EQ(r["properties"]["cpus"]["type"], "number");
  EXPECT_EQ(r["properties"]["cpus"]["exclusiveMinimum"], 0);
  EXPECT_EQ(r["properties"]["cpus"]["maximum"], 4096);
  EXPECT_EQ(r["properties"]["memory"]["type"], "string");
  EXPECT_EQ(r["properties"]["memory"]["pattern"],
            "^[1-9]([0-9]{0,17}|[0-9]{0,14}Ki?|[0-9]{0,11}Mi?|[0-9]{0,8}Gi?|[0-9]{0,5}Ti?)$");
  EXPECT_EQ(r["properties"]["pids"]["type"], "integer");
  EXPECT_EQ(r["properties"]["pids"]["minimum"], 1);
  EXPECT_EQ(r["properties"]["pids"]["default"], 4096);
}

}  // namespace
}  // namespace km::profile
