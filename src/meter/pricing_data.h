// The price table shipped with km (data/pricing.yaml, compiled in by cmake/embed_text.cmake).
#pragma once

#include <string_view>

namespace km::meter {

std::string_view builtinPricingYaml();

}  // namespace km::meter
