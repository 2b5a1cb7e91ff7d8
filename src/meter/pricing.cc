#include <algorithm>

#include "doc/yaml_io.h"
#include "meter/meter.h"
#include "meter/pricing_data.h"

namespace km::meter {
namespace {

constexpr std::string_view kPriceKeys[] = {"input", "output", "cacheWrite5m", "cacheWrite1h", "cacheRead"};

Micros* field(Price& p, std::string_view key) {
  if (key == "input") return &p.input;
  if (key == "output") return &p.output;
  if (key == "cacheWrite5m") return &p.cache_write_5m;
  if (key == "cacheWrite1h") return &p.cache_write_1h;
  if (key == "cacheRead") return &p.cache_read;
  return nullptr;
}

std::string where(const doc::Mark& m, std::string_view origin) {
  std::string s(origin);
  if (m.line > 0) s += ":" + std::to_string(m.line);
  return s;
}

bool allDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// What may follow a table entry in the name of the same model: snapshot dates (-20250929,
// -2024-08-06, @20250929), versions (-v1, -v2:0, :0) and -latest, in any sequence. Anything
// else (-pro, -mini, .1, -search-preview) names another model, maybe a dearer one.
bool snapshotSuffix(std::string_view rest) {
  while (!rest.empty()) {
    char sep = rest.front();
    if (sep != '-' && sep != ':' && sep != '@') return false;
    rest.remove_prefix(1);
    if (sep == '-' && rest.size() >= 10 && allDigits(rest.substr(0, 4)) && rest[4] == '-' &&
        allDigits(rest.substr(5, 2)) && rest[7] == '-' && allDigits(rest.substr(8, 2))) {
      rest.remove_prefix(10);  // 2024-08-06
      continue;
    }
    size_t end = rest.find_first_of("-:@");
    std::string_view token = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end);
    bool ok = (allDigits(token) && token.size() == 8) ||                  // 20250929
              (sep == ':' && allDigits(token)) ||                          // :0
              (token.size() > 1 && token[0] == 'v' && allDigits(token.substr(1))) ||  // v1
              token == "latest";
    if (!ok) return false;
  }
  return true;
}

bool sameModel(std::string_view model, std::string_view entry) {
  return model.starts_with(entry) && snapshotSuffix(model.substr(entry.size()));
}

}  // namespace

std::string bedrockFoundationModel(std::string_view model) {
  static constexpr std::string_view kGeo[] = {"us.", "eu.", "apac.", "global.", "us-gov.", "jp.", "au.", "ca."};
  for (std::string_view g : kGeo) {
    if (model.starts_with(g) && model.size() > g.size() && model.find('.', g.size()) != std::string_view::npos) {
      return std::string(model.substr(g.size()));
    }
  }
  return std::string(model);
}

Result<PriceTable> PriceTable::parse(std::string_view yaml, std::string_view origin) {
  doc::Node root;
  doc::Diagnostics diags;
  if (!doc::parseYaml(yaml, std::string(origin), root, diags)) {
    std::string msg;
    for (const auto& d : diags.all()) msg += (msg.empty() ? "" : "; ") + d.format();
    return invalidArgument("price table " + std::string(origin) + ": " + msg);
  }
  PriceTable t;
  if (root.isNull()) return t;
  if (!root.isMap()) {
    return invalidArgument(where(root.mark(), origin) + ": a price table maps providers (anthropic, openai, bedrock) and compute to their prices");
  }
  // {onDemand: $, spot: $} per hour; a missing spot rate is the on-demand one.
  auto hourly = [&](const doc::Node& node, const std::string& at) -> Result<Hourly> {
    if (!node.isMap()) return invalidArgument(at + ": expected {onDemand: …, spot: …} in dollars per hour");
    Hourly h;
    bool on_demand = false, spot = false;
    for (const doc::MapEntry& fe : node.entries()) {
      if (fe.key != "onDemand" && fe.key != "spot") return invalidArgument(at + ": unknown key '" + fe.key + "' (onDemand, spot)");
      auto v = parseDollars(fe.value.text());
      if (!fe.value.isScalar() || !v || *v < 0) return invalidArgument(at + "." + fe.key + ": expected dollars per hour, e.g. 0.0416");
      (fe.key == "onDemand" ? h.on_demand : h.spot) = *v;
      (fe.key == "onDemand" ? on_demand : spot) = true;
    }
    if (!on_demand) return invalidArgument(at + ": an onDemand rate is required");
    if (!spot) h.spot = h.on_demand;
    return h;
  };
  for (const doc::MapEntry& pe : root.entries()) {
    const std::string& pname = pe.key;
    const doc::Node& pnode = pe.value;
    if (pname == "compute") {
      const std::string at = where(pe.key_mark, origin) + ": compute";
      if (!pnode.isMap()) return invalidArgument(at + ": expected default and instances");
      for (const doc::MapEntry& ke : pnode.entries()) {
        const std::string kat = where(ke.key_mark, origin) + ": compute." + ke.key;
        if (ke.key == "default") {
          auto h = hourly(ke.value, kat);
          if (!h) return std::move(h).error();
          t.default_rate_ = *h;
        } else if (ke.key == "instances") {
          if (!ke.value.isMap()) return invalidArgument(kat + ": expected a mapping of instance types to hourly rates");
          for (const doc::MapEntry& ie : ke.value.entries()) {
            const std::string iat = where(ie.key_mark, origin) + ": compute.instances." + ie.key;
            if (ie.key.empty() || ie.key.size() > 64) return invalidArgument(iat + ": an instance type of 1 to 64 characters");
            auto h = hourly(ie.value, iat);
            if (!h) return std::move(h).error();
            t.instances_.emplace_back(ie.key, *h);
          }
        } else {
          return invalidArgument(kat + ": unknown key (default, instances)");
        }
      }
      continue;
    }
    auto provider = providerFromName(pname);
    if (!provider) {
      return invalidArgument(where(pe.key_mark, origin) + ": unknown provider '" + pname + "' (anthropic, openai, bedrock, or compute)");
    }
    if (!pnode.isMap()) return invalidArgument(where(pe.key_mark, origin) + ": " + pname + ": expected webSearch and models");
    for (const doc::MapEntry& ke : pnode.entries()) {
      const std::string& key = ke.key;
      const doc::Node& value = ke.value;
      const std::string at = where(ke.key_mark, origin) + ": " + pname + "." + key;
      if (key == "webSearch") {
        auto v = parseDollars(value.text());
        if (!value.isScalar() || !v || *v < 0) return invalidArgument(at + ": expected dollars per request, e.g. 0.01");
        t.web_search_.emplace_back(*provider, *v);
      } else if (key == "models") {
        if (!value.isMap()) return invalidArgument(at + ": expected a mapping of model names to prices");
        for (const doc::MapEntry& me : value.entries()) {
          const std::string& model = me.key;
          const doc::Node& mnode = me.value;
          const std::string mat = where(me.key_mark, origin) + ": " + pname + ".models." + model;
          if (model.empty() || model.size() > 200) return invalidArgument(mat + ": a model name of 1 to 200 characters");
          if (!mnode.isMap()) return invalidArgument(mat + ": expected {input: …, output: …, …} in dollars per million tokens");
          Entry e{*provider, model, {}};
          bool input = false, output = false;
          for (const doc::MapEntry& fe : mnode.entries()) {
            Micros* f = field(e.price, fe.key);
            if (f == nullptr) {
              return invalidArgument(mat + ": unknown key '" + fe.key + "' (input, output, cacheWrite5m, cacheWrite1h, cacheRead)");
            }
            auto v = parseDollars(fe.value.text());
            if (!fe.value.isScalar() || !v || *v < 0) {
              return invalidArgument(mat + "." + fe.key + ": expected dollars per million tokens, e.g. 3 or 0.30");
            }
            *f = *v;
            input |= fe.key == "input";
            output |= fe.key == "output";
          }
          if (!input || !output) return invalidArgument(mat + ": input and output prices are required");
          // Unset cache prices are charged as input (the dearer reading where a provider has no
          // such rate; a cached read is never cheaper than what it says).
          for (std::string_view k : kPriceKeys) {
            if (k == "input" || k == "output") continue;
            if (mnode.find(k) == nullptr) *field(e.price, k) = e.price.input;
          }
          t.entries_.push_back(std::move(e));
        }
      } else {
        return invalidArgument(at + ": unknown key (webSearch, models)");
      }
    }
  }
  return t;
}

const PriceTable& PriceTable::builtin() {
  static const PriceTable kTable = [] {
    auto t = parse(builtinPricingYaml(), "data/pricing.yaml");
    return t ? std::move(*t) : PriceTable();  // a unit test parses it; never empty in a build
  }();
  return kTable;
}

PriceTable PriceTable::overriddenBy(const PriceTable& o) const {
  PriceTable out = *this;
  for (const Entry& e : o.entries_) {
    auto same = [&](const Entry& x) { return x.provider == e.provider && x.model == e.model; };
    auto it = std::find_if(out.entries_.begin(), out.entries_.end(), same);
    if (it != out.entries_.end()) it->price = e.price;
    else out.entries_.push_back(e);
  }
  for (const auto& search : o.web_search_) {
    auto same = [&](const auto& x) { return x.first == search.first; };
    auto it = std::find_if(out.web_search_.begin(), out.web_search_.end(), same);
    if (it != out.web_search_.end()) it->second = search.second;
    else out.web_search_.push_back(search);
  }
  for (const auto& instance : o.instances_) {
    auto same = [&](const auto& x) { return x.first == instance.first; };
    auto it = std::find_if(out.instances_.begin(), out.instances_.end(), same);
    if (it != out.instances_.end()) it->second = instance.second;
    else out.instances_.push_back(instance);
  }
  if (o.default_rate_) out.default_rate_ = o.default_rate_;
  return out;
}

PriceTable::ComputeRate PriceTable::computeRate(std::string_view instance_type, bool spot) const {
  std::string_view kind = spot ? " spot" : " on-demand";
  for (const auto& [type, rate] : instances_) {
    if (type == instance_type) return {spot ? rate.spot : rate.on_demand, type + std::string(kind), false};
  }
  Hourly d = default_rate_.value_or(Hourly{});
  return {spot ? d.spot : d.on_demand, "default" + std::string(kind), !instance_type.empty()};
}

std::optional<PriceTable::Lookup> PriceTable::find(Provider provider, std::string_view model) const {
  std::string base = provider == Provider::kBedrock ? bedrockFoundationModel(model) : std::string();
  std::string_view name = provider == Provider::kBedrock ? std::string_view(base) : model;
  const Entry* best = nullptr;
  const Entry* dearest = nullptr;
  for (const Entry& e : entries_) {
    if (e.provider != provider) continue;
    if (dearest == nullptr || e.price.output > dearest->price.output ||
        (e.price.output == dearest->price.output && e.price.input > dearest->price.input)) {
      dearest = &e;
    }
    if (sameModel(name, e.model) && (best == nullptr || e.model.size() > best->model.size())) best = &e;
  }
  if (best != nullptr) return Lookup{{best->model, best->price}, false};
  if (dearest != nullptr) return Lookup{{dearest->model, dearest->price}, true};
  return std::nullopt;
}

Micros PriceTable::webSearchPrice(Provider provider) const {
  for (const auto& [p, v] : web_search_) {
    if (p == provider) return v;
  }
  return 0;
}

Micros cost(const Usage& u, const Price& p, Micros web_search_price) {
  // Token counts are below 2^40 and prices below 2^53 micro-dollars: the products need 128 bits.
  using Wide = __int128;
  Wide per_million = Wide(u.input_tokens) * p.input + Wide(u.output_tokens) * p.output +
                     Wide(u.cache_write_5m_tokens) * p.cache_write_5m + Wide(u.cache_write_1h_tokens) * p.cache_write_1h +
                     Wide(u.cache_read_tokens) * p.cache_read;
  Wide total = (per_million + 999'999) / 1'000'000 + Wide(u.web_search_requests) * web_search_price;
  constexpr Wide kMax = Wide(INT64_MAX);
  return static_cast<Micros>(total > kMax ? kMax : total);
}

}  // namespace km::meter
