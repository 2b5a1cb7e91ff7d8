// cpu, memory and pids: from spec.runtime.resources field by field, else the instance type,
// else defaults; clamped to the host; `source` says which. Also the memory-size grammar.
#include <gtest/gtest.h>

#include <limits>
#include <string>

#include "plan/compile_steps.h"
#include "plan/plan.h"
#include "unit/plan/plan_fixtures.h"

namespace km::plan {
namespace {

constexpr int64_t kGiB = int64_t{1} << 30;
constexpr int64_t kMiB = int64_t{1} << 20;

Resources compiled(const std::string& instance_type, std::optional<profile::RuntimeResources> res = {},
                   int host_cpus = 0, int64_t host_memory = 0) {
  profile::Profile p = test::completeProfile();
  p.spec.runtime.instance_type = instance_type;
  p.spec.runtime.resources = std::move(res);
  CompileOptions o = test::optionsWithId();
  o.host_cpus = host_cpus;
  o.host_memory_bytes = host_memory;
  auto plan = compile(p, o);
  EXPECT_TRUE(plan.has_value()) << plan.error().message();
  return plan ? plan->resources : Resources{};
}

TEST(ResourcesTest, InstanceTypeSetsCpuAndMemory) {
  struct Case {
    const char* type;
    int64_t cpu_millis, memory_bytes;
  };
  for (Case c : {Case{"t3.medium", 2000, 4 * kGiB}, Case{"t3.nano", 2000, 512 * kMiB}, Case{"t2.micro", 1000, kGiB},
                 Case{"m5.4xlarge", 16000, 64 * kGiB}, Case{"c5.9xlarge", 36000, 72 * kGiB},
                 Case{"r5.large", 2000, 16 * kGiB}}) {
    Resources r = compiled(c.type);
    EXPECT_EQ(r.cpu_millis, c.cpu_millis) << c.type;
    EXPECT_EQ(r.memory_bytes, c.memory_bytes) << c.type;
    EXPECT_EQ(r.pids, 4096) << c.type;
    EXPECT_EQ(r.source, std::string("instanceType ") + c.type);
  }
}

TEST(ResourcesTest, UnknownInstanceTypeGetsTheDefaults) {
  Resources r = compiled("g6e.12xlarge");
  EXPECT_EQ(r.cpu_millis, 2000);
  EXPECT_EQ(r.memory_bytes, 4 * kGiB);
  EXPECT_EQ(r.pids, 4096);
  EXPECT_EQ(r.source, "default (unknown instance type g6e.12xlarge)");
  EXPECT_EQ(compiled("").source, "default (no instance type)");
}

TEST(ResourcesTest, ExplicitResourcesOverrideTheInstanceType) {
  profile::RuntimeResources all;
  all.cpus = profile::Cpus{500};
  all.memory = "512Mi";
  all.pids = 128;
  Resources r = compiled("m5.4xlarge", all);
  EXPECT_EQ(r.cpu_millis, 500);
  EXPECT_EQ(r.memory_bytes, 512 * kMiB);
  EXPECT_EQ(r.pids, 128);
  EXPECT_EQ(r.source, "spec.runtime.resources");

  profile::RuntimeResources cpu_and_memory = all;
  cpu_and_memory.pids.reset();
  Resources r2 = compiled("t3.small", cpu_and_memory);
  EXPECT_EQ(r2.pids, 4096);
  EXPECT_EQ(r2.source, "spec.runtime.resources");
}

TEST(ResourcesTest, PartialOverridesKeepTheRestFromTheInstanceType) {
  profile::RuntimeResources memory_only;
  memory_only.memory = "2G";
  Resources r = compiled("t3.large", memory_only);
  EXPECT_EQ(r.cpu_millis, 2000);
  EXPECT_EQ(r.memory_bytes, 2'000'000'000);
  EXPECT_EQ(r.source, "spec.runtime.resources (memory), instanceType t3.large");

  profile::RuntimeResources cpus_and_pids;
  cpus_and_pids.cpus = profile::Cpus{1500};
  cpus_and_pids.pids = 64;
  Resources r2 = compiled("x9.weird", cpus_and_pids);
  EXPECT_EQ(r2.cpu_millis, 1500);
  EXPECT_EQ(r2.memory_bytes, 4 * kGiB);
  EXPECT_EQ(r2.pids, 64);
  EXPECT_EQ(r2.source, "spec.runtime.resources (cpus, pids), default (unknown instance type x9.weird)");

  profile::RuntimeResources empty;  // `resources: {}` changes nothing
  EXPECT_EQ(compiled("t3.medium", empty).source, "instanceType t3.medium");
}

TEST(ResourcesTest, ClampedToTheHostWhenItsSizeIsKnown) {
  Resources r = compiled("m5.4xlarge", {}, 4, 8 * kGiB);
  EXPECT_EQ(r.cpu_millis, 4000);
  EXPECT_EQ(r.memory_bytes, 8 * kGiB);
  EXPECT_EQ(r.source, "instanceType m5.4xlarge, clamped to host");

  Resources memory_only = compiled("m5.4xlarge", {}, 64, 8 * kGiB);
  EXPECT_EQ(memory_only.cpu_millis, 16000);
  EXPECT_EQ(memory_only.memory_bytes, 8 * kGiB);
  EXPECT_EQ(memory_only.source, "instanceType m5.4xlarge, clamped to host");

  Resources fits = compiled("t3.medium", {}, 8, 16 * kGiB);
  EXPECT_EQ(fits.cpu_millis, 2000);
  EXPECT_EQ(fits.source, "instanceType t3.medium");

  Resources unknown_host = compiled("m5.8xlarge", {}, 0, 0);
  EXPECT_EQ(unknown_host.cpu_millis, 32000);
  EXPECT_EQ(unknown_host.memory_bytes, 128 * kGiB);

  profile::RuntimeResources big;
  big.cpus = profile::Cpus{64'000};
  big.memory = "1Ti";
  EXPECT_EQ(compiled("t3.small", big, 2, 3 * kGiB).source, "spec.runtime.resources, clamped to host");
}

TEST(ResourcesTest, UnvalidatedResourceValuesAreRefusedWithTheirPath) {
  profile::Profile p = test::completeProfile();
  p.spec.runtime.resources.emplace().memory = "4GB";
  auto bad_memory = compile(p, test::optionsWithId());
  ASSERT_FALSE(bad_memory.has_value());
  EXPECT_EQ(bad_memory.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(bad_memory.error().message().rfind("spec.runtime.resources.memory: \"4GB\" is not a memory size", 0), 0u)
      << bad_memory.error().message();

  p.spec.runtime.resources.emplace().cpus = profile::Cpus{0};
  auto zero_cpus = compile(p, test::optionsWithId());
  ASSERT_FALSE(zero_cpus.has_value());
  EXPECT_EQ(zero_cpus.error().message(), "spec.runtime.resources.cpus: must be more than 0");

  p.spec.runtime.resources.emplace().pids = 0;
  auto zero_pids = compile(p, test::optionsWithId());
  ASSERT_FALSE(zero_pids.has_value());
  EXPECT_EQ(zero_pids.error().message(), "spec.runtime.resources.pids: must be at least 1");
}

TEST(ResourcesTest, DiskFromResourcesElseRootVolumeSizeElseDefault) {
  profile::Profile p = test::completeProfile();
  CompileOptions o = test::optionsWithId();
  auto disk = [&]() {
    auto plan = compile(p, o);
    EXPECT_TRUE(plan.has_value()) << plan.error().message();
    return plan ? plan->resources : Resources{};
  };
  p.spec.runtime.root_volume_size.reset();
  EXPECT_EQ(disk().disk_bytes, 8 * kGiB);
  EXPECT_EQ(disk().disk_source, "default");
  p.spec.runtime.root_volume_size = 0;  // upstream: "the image's default"
  EXPECT_EQ(disk().disk_bytes, 8 * kGiB);
  p.spec.runtime.root_volume_size = 30;
  EXPECT_EQ(disk().disk_bytes, 30 * kGiB);
  EXPECT_EQ(disk().disk_source, "spec.runtime.rootVolumeSize");
  p.spec.runtime.resources = profile::RuntimeResources{};
  p.spec.runtime.resources->disk = "64Mi";
  EXPECT_EQ(disk().disk_bytes, 64 * kMiB);
  EXPECT_EQ(disk().disk_source, "spec.runtime.resources.disk");
  p.spec.runtime.resources->disk = "lots";
  auto bad = compile(p, o);
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().message().find("spec.runtime.resources.disk"), std::string::npos) << bad.error().message();
}

TEST(ResourcesTest, AdditionalVolumeIsASecondDiskAtItsMountPoint) {
  profile::Profile p = test::completeProfile();
  CompileOptions o = test::optionsWithId();
  p.spec.runtime.additional_volume = profile::AdditionalVolume{20, "/data", true};
  auto plan = compile(p, o);
  ASSERT_TRUE(plan.has_value()) << plan.error().message();
  EXPECT_EQ(plan->resources.volume_mount, "/data");
  EXPECT_EQ(plan->resources.volume_bytes, 20 * kGiB);
  p.spec.runtime.additional_volume->mount_point = "/data/../etc";
  auto bad = compile(p, o);
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().message().find("additionalVolume.mountPoint"), std::string::npos) << bad.error().message();
}

TEST(MemoryBytesTest, ReadsEverySuffix) {
  struct Case {
    const char* text;
    int64_t bytes;
  };
  for (Case c : {Case{"1", 1}, Case{"1073741824", kGiB}, Case{"64Ki", 64 * 1024}, Case{"512Mi", 512 * kMiB},
                 Case{"4Gi", 4 * kGiB}, Case{"1Ti", int64_t{1} << 40}, Case{"64K", 64'000}, Case{"1024M", 1'024'000'000},
                 Case{"2G", 2'000'000'000}, Case{"3T", 3'000'000'000'000}, Case{"999999Ti", 999'999 * (int64_t{1} << 40)},
                 Case{"999999999999999999", 999'999'999'999'999'999}}) {
    auto bytes = parseMemoryBytes(c.text);
    ASSERT_TRUE(bytes.has_value()) << c.text << ": " << bytes.error().message();
    EXPECT_EQ(*bytes, c.bytes) << c.text;
  }
}

TEST(MemoryBytesTest, RefusesEverythingElse) {
  for (const char* bad : {"", "Mi", "4GB", "4gi", "4 Gi", "1.5Gi", "-1Gi", "+1Gi", "4Gii", "0x10", "4Pi"}) {
    auto bytes = parseMemoryBytes(bad);
    ASSERT_FALSE(bytes.has_value()) << bad;
    EXPECT_NE(bytes.error().message().find("is not a memory size"), std::string::npos) << bytes.error().message();
  }
  EXPECT_EQ(parseMemoryBytes("0Mi").error().message(), "memory \"0Mi\" must be more than 0");
  EXPECT_EQ(parseMemoryBytes("9000000Ti").error().message(), "memory \"9000000Ti\" is too large");
  EXPECT_EQ(parseMemoryBytes("99999999999999999999").error().message(), "memory \"99999999999999999999\" is too large");
}

}  // namespace
}  // namespace km::plan
