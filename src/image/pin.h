// Holding a home's image layers while a sandbox that uses them is being created: km image
// prune waits until every pin is released, so it never removes the layers of a sandbox that
// is not in the fleet database yet.
#pragma once

#include <string>

#include "core/result.h"
#include "core/sys.h"

namespace km::image {

class LayerPin {
 public:
  LayerPin() = default;
  explicit LayerPin(sys::UniqueFd fd) : fd_(std::move(fd)) {}

 private:
  sys::UniqueFd fd_;  // a shared flock on the store's gc lock
};

// Pins the layers of `km_home`'s image store (a shared flock, the one prune takes exclusively).
[[nodiscard]] Result<LayerPin> pinLayers(const std::string& km_home);

}  // namespace km::image
