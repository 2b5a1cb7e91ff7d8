// Pushing an image of a Store to a registry (km image push).
#pragma once

#include <string>

#include "core/result.h"
#include "image/reference.h"
#include "image/store.h"

namespace km::image {

// Pushes `image` of `store` to `dest` in a registry (PullOptions' certDir, authFile and
// insecure registries apply to it) as an OCI image: pulled layers as they came, each baked
// layer archived as an OCI layer (whiteouts and opaque directories in OCI's form); skopeo
// compresses them. Returns the pushed manifest's digest. InvalidArgument for an image baked
// on the host's root; NotFound when a pulled layer's blob was pruned.
[[nodiscard]] Result<std::string> pushImage(const Store& store, const ImageRecord& image, const Reference& dest,
                                            const PullOptions& options);

}  // namespace km::image
