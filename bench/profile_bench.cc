// How long km takes to read and check a profile: the cost in front of every `km create`
// and `km validate`. Cases: YAML parse alone, a flat built-in end to end, a library leaf
// with a five-parent extends chain, and `profile show --resolved` rendering.
#include <benchmark/benchmark.h>

#include <fstream>
#include <sstream>
#include <string>

#include "doc/yaml_io.h"
#include "profile/profile.h"

namespace {

std::string readAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const std::string kLibrary = std::string(KM_SHARED_DIR) + "/reference/profiles/library";

void BM_ParseYaml(benchmark::State& state) {
  std::string text = readAll(std::string(KM_SHARED_DIR) + "/reference/profiles/builtins/goose.yaml");
  for (auto _ : state) {
    km::doc::Node n;
    km::doc::Diagnostics d;
    benchmark::DoNotOptimize(km::doc::parseYaml(text, "goose.yaml", n, d));
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
}
BENCHMARK(BM_ParseYaml);

void BM_ValidateBuiltin(benchmark::State& state) {
  km::profile::LoadOptions options;
  for (auto _ : state) {
    auto l = km::profile::load("goose", options);
    benchmark::DoNotOptimize(l->ok());
  }
}
BENCHMARK(BM_ValidateBuiltin);

void BM_ValidateExtendsChain(benchmark::State& state) {
  km::profile::LoadOptions options;
  options.search_paths = {kLibrary};
  for (auto _ : state) {
    auto l = km::profile::load(kLibrary + "/learner.yaml", options);
    if (!l || !l->ok()) state.SkipWithError("learner.yaml did not validate");
    benchmark::DoNotOptimize(l->ok());
  }
}
BENCHMARK(BM_ValidateExtendsChain);

void BM_ShowResolved(benchmark::State& state) {
  km::profile::LoadOptions options;
  options.search_paths = {kLibrary};
  auto l = km::profile::load(kLibrary + "/learner.yaml", options);
  for (auto _ : state) {
    std::string yaml = km::doc::emitYaml(km::profile::toNode(km::profile::withDefaults(l->profile)));
    benchmark::DoNotOptimize(yaml.data());
  }
}
BENCHMARK(BM_ShowResolved);

}  // namespace

BENCHMARK_MAIN();
