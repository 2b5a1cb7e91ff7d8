// The price table: the shipped file parses, names resolve to the right entry, unknown models
// are never free, overrides replace entries, and costs are exact integer micro-dollars
// rounded up.
#include <gtest/gtest.h>

#include "meter/meter.h"

namespace km::meter {
namespace {

TEST(PriceTable, TheShippedTableParsesAndCoversEveryProvider) {
  const PriceTable& t = PriceTable::builtin();
  ASSERT_FALSE(t.entries().empty());
  for (Provider p : {Provider::kAnthropic, Provider::kOpenAi, Provider::kBedrock}) {
    auto l = t.find(p, "no-such-model");
    ASSERT_TRUE(l) << providerName(p);
    EXPECT_TRUE(l->unknown);
    EXPECT_GT(l->priced.price.output, 0);
  }
  for (const auto& e : t.entries()) {
    EXPECT_GT(e.price.input, 0) << e.model;
    EXPECT_GE(e.price.output, e.price.input) << e.model;
    EXPECT_LE(e.price.cache_read, e.price.input) << e.model;
  }
  EXPECT_EQ(t.webSearchPrice(Provider::kAnthropic), 10'000) << "$10 per thousand searches";
}

TEST(PriceTable, NamesMatchExactlyOrFollowedByASnapshotOrVersion) {
  const PriceTable& t = PriceTable::builtin();
  auto name = [&](Provider p, std::string_view m) {
    auto l = t.find(p, m);
    return l ? l->priced.model + (l->unknown ? " (unknown)" : "") : "";
  };
  EXPECT_EQ(name(Provider::kAnthropic, "claude-sonnet-4-5"), "claude-sonnet-4-5");
  EXPECT_EQ(name(Provider::kAnthropic, "claude-sonnet-4-5-20250929"), "claude-sonnet-4-5") << "the longest entry wins";
  EXPECT_EQ(name(Provider::kAnthropic, "claude-sonnet-4-20250514"), "claude-sonnet-4");
  EXPECT_EQ(name(Provider::kAnthropic, "claude-3-5-haiku-latest"), "claude-3-5-haiku");
  EXPECT_EQ(name(Provider::kAnthropic, "claude-sonnet-45"), "claude-opus-4-1 (unknown)") << "no match inside a word";
  EXPECT_EQ(name(Provider::kOpenAi, "gpt-4o-mini-2024-07-18"), "gpt-4o-mini");
  EXPECT_EQ(name(Provider::kOpenAi, "gpt-4o-2024-08-06"), "gpt-4o");
  EXPECT_EQ(name(Provider::kOpenAi, "gpt-4o-2024-05-13"), "gpt-4o-2024-05-13") << "a snapshot priced apart";
  EXPECT_EQ(name(Provider::kOpenAi, "o3"), "o3");
  EXPECT_EQ(name(Provider::kOpenAi, "gpt-5-chat-latest"), "gpt-5-chat");
  EXPECT_EQ(name(Provider::kAnthropic, "claude-sonnet-4-5@20250929"), "claude-sonnet-4-5");
  // A word after the name is another model, often a dearer one: never priced as the base.
  EXPECT_EQ(name(Provider::kOpenAi, "o1-pro"), "o1-pro");
  EXPECT_EQ(name(Provider::kOpenAi, "o1-pro-2025-03-19"), "o1-pro");
  EXPECT_EQ(name(Provider::kOpenAi, "o3-pro-2025-06-10"), "o3-pro");
  EXPECT_EQ(name(Provider::kOpenAi, "gpt-5-pro"), "gpt-5-pro");
  EXPECT_EQ(name(Provider::kOpenAi, "gpt-5.3"), "o1-pro (unknown)");
  EXPECT_EQ(name(Provider::kOpenAi, "gpt-4o-search-preview"), "o1-pro (unknown)");
  EXPECT_EQ(name(Provider::kOpenAi, "o3-deep-research-2025-06-26"), "o3-deep-research");
  EXPECT_EQ(name(Provider::kOpenAi, "gpt-4o-2024"), "o1-pro (unknown)") << "not a whole date";
  EXPECT_EQ(name(Provider::kOpenAi, "gpt-4o-v2x"), "o1-pro (unknown)");
  EXPECT_EQ(name(Provider::kAnthropic, "claude-sonnet-4-5-thinking"), "claude-opus-4-1 (unknown)");
  EXPECT_EQ(name(Provider::kBedrock, "us.anthropic.claude-sonnet-4-5-20250929-v1:0"), "anthropic.claude-sonnet-4-5");
  EXPECT_EQ(name(Provider::kBedrock, "anthropic.claude-3-haiku-20240307-v1:0"), "anthropic.claude-3-haiku");
  EXPECT_EQ(name(Provider::kBedrock, "amazon.nova-pro-v1:0"), "amazon.nova-pro");
  // Unknown: the provider's most expensive model by output price, flagged.
  EXPECT_EQ(name(Provider::kOpenAi, "gpt-7-ultra"), "o1-pro (unknown)");
}

TEST(Cost, ExactMicroDollarsRoundedUp) {
  Price sonnet{3'000'000, 15'000'000, 3'750'000, 6'000'000, 300'000};
  Usage u;
  u.input_tokens = 472;
  u.output_tokens = 15;
  u.cache_write_5m_tokens = 51;
  u.cache_write_1h_tokens = 2000;
  u.cache_read_tokens = 8000;
  u.web_search_requests = 2;
  // 472*3 + 15*15 + 51*3.75 + 2000*6 + 8000*0.3 = 1416 + 225 + 191.25 + 12000 + 2400 = 16232.25 µ$,
  // rounded up to 16233, plus two searches at 10,000 µ$.
  EXPECT_EQ(cost(u, sonnet, 10'000), 16'233 + 20'000);
  EXPECT_EQ(cost(Usage{}, sonnet, 10'000), 0);
  Usage one;
  one.input_tokens = 1;
  EXPECT_EQ(cost(one, Price{1, 1, 1, 1, 1}, 0), 1) << "a fraction of a micro-dollar is charged as one";
  Usage huge;
  huge.output_tokens = int64_t{1} << 40;
  EXPECT_EQ(cost(huge, Price{0, int64_t{1} << 50, 0, 0, 0}, 0), INT64_MAX) << "clamped, never wrapped";
}

TEST(PriceTable, ParseErrorsNameTheLineAndTheKey) {
  auto bad = [](std::string_view yaml) {
    auto t = PriceTable::parse(yaml, "config.yaml");
    return t ? std::string() : t.error().message();
  };
  EXPECT_NE(bad("mistral:\n  models: {}\n").find("config.yaml:1: unknown provider 'mistral'"), std::string::npos);
  EXPECT_NE(bad("openai:\n  models:\n    gpt-x: {input: 1}\n").find("config.yaml:3: openai.models.gpt-x: input and output prices are required"),
            std::string::npos);
  EXPECT_NE(bad("openai:\n  models:\n    gpt-x: {input: 1, output: 0.0000001}\n").find("gpt-x.output: expected dollars per million tokens"),
            std::string::npos) << "finer than a micro-dollar";
  EXPECT_NE(bad("openai:\n  models:\n    gpt-x: {input: 1, output: 2, cached: 1}\n").find("unknown key 'cached'"), std::string::npos);
  EXPECT_NE(bad("openai:\n  webSearch: -1\n").find("openai.webSearch: expected dollars per request"), std::string::npos);
  EXPECT_NE(bad("openai: [1]\n").find("expected webSearch and models"), std::string::npos);
  EXPECT_NE(bad("openai:\n  models: {a: 1\n").find("config.yaml"), std::string::npos);
}

TEST(PriceTable, OverridesReplaceAndAddEntries) {
  auto o = PriceTable::parse(
      "openai:\n  models:\n    gpt-4o: {input: 1, output: 2}\n    my-finetune: {input: 0.5, output: 1.5, cacheRead: 0.25}\n"
      "anthropic:\n  webSearch: 0.02\n",
      "ai.pricing");
  ASSERT_TRUE(o) << o.error().message();
  PriceTable t = PriceTable::builtin().overriddenBy(*o);
  auto gpt4o = t.find(Provider::kOpenAi, "gpt-4o-2024-08-06");
  ASSERT_TRUE(gpt4o);
  EXPECT_EQ(gpt4o->priced.price, (Price{1'000'000, 2'000'000, 1'000'000, 1'000'000, 1'000'000}))
      << "unset cache prices are charged as input";
  auto mine = t.find(Provider::kOpenAi, "my-finetune");
  ASSERT_TRUE(mine);
  EXPECT_FALSE(mine->unknown);
  EXPECT_EQ(mine->priced.price.cache_read, 250'000);
  EXPECT_EQ(t.webSearchPrice(Provider::kAnthropic), 20'000);
  EXPECT_EQ(t.find(Provider::kAnthropic, "claude-opus-4-5")->priced.price.output, 25'000'000) << "others kept";
}

TEST(PriceTable, ComputeRatesByInstanceTypeSpotOrOnDemand) {
  const PriceTable& t = PriceTable::builtin();
  auto od = t.computeRate("t3.medium", false);
  EXPECT_EQ(od.per_hour, 41'600);
  EXPECT_EQ(od.basis, "t3.medium on-demand");
  EXPECT_FALSE(od.unknown);
  auto spot = t.computeRate("t3.medium", true);
  EXPECT_EQ(spot.per_hour, 12'500);
  EXPECT_EQ(spot.basis, "t3.medium spot");
  auto unknown = t.computeRate("x9.metal", false);
  EXPECT_TRUE(unknown.unknown);
  EXPECT_EQ(unknown.per_hour, 100'000);
  EXPECT_EQ(unknown.basis, "default on-demand");
  auto local = t.computeRate("", true);
  EXPECT_FALSE(local.unknown) << "a profile without an instance type is not flagged";
  EXPECT_EQ(local.per_hour, 100'000);
  EXPECT_EQ(t.computeRate("t3.mediu", false).basis, "default on-demand") << "exact names only";

  auto o = PriceTable::parse("compute:\n  default: {onDemand: 0.02}\n  instances:\n    t3.medium: {onDemand: 0.05, spot: 0.01}\n"
                             "    x9.metal: {onDemand: 9}\n",
                             "ops.yaml");
  ASSERT_TRUE(o) << o.error().message();
  PriceTable mine = t.overriddenBy(*o);
  EXPECT_EQ(mine.computeRate("t3.medium", true).per_hour, 10'000);
  EXPECT_EQ(mine.computeRate("x9.metal", true).per_hour, 9'000'000) << "a missing spot rate is the on-demand one";
  EXPECT_EQ(mine.computeRate("zz", false).per_hour, 20'000);
  EXPECT_EQ(mine.computeRate("t3.large", false).per_hour, 83'200) << "others kept";

  auto bad = [](std::string_view yaml) {
    auto r = PriceTable::parse(yaml, "ops.yaml");
    return r ? std::string() : r.error().message();
  };
  EXPECT_NE(bad("compute:\n  instances:\n    t3.medium: {spot: 0.01}\n").find("ops.yaml:3: compute.instances.t3.medium: an onDemand rate is required"),
            std::string::npos);
  EXPECT_NE(bad("compute:\n  instances:\n    t3.medium: {onDemand: -1}\n").find("onDemand: expected dollars per hour"), std::string::npos);
  EXPECT_NE(bad("compute:\n  hourly: 1\n").find("ops.yaml:2: compute.hourly: unknown key (default, instances)"), std::string::npos);
  EXPECT_NE(bad("compute:\n  default: {onDemand: 1, reserved: 1}\n").find("unknown key 'reserved' (onDemand, spot)"), std::string::npos);
}

}  // namespace
}  // namespace km::meter
