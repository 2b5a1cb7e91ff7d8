// km::image — OCI image references: the names `km image`, runtime.image and --image take
// ("debian:bookworm", "127.0.0.1:5000/team/tools:v2", "ubuntu@sha256:…"), read by the grammar
// of Docker's distribution (registry, repository path, tag, digest) and written back in one
// canonical spelling, so that every spelling of one name is one store entry. Pure.
#pragma once

#include <string>
#include <string_view>

#include "core/result.h"

namespace km::image {

inline constexpr std::string_view kDefaultRegistry = "docker.io";
// Images baked here (km image bake) live under this registry name, as podman's do.
inline constexpr std::string_view kLocalRegistry = "localhost";

struct Reference {
  std::string registry;  // "docker.io", "localhost", "127.0.0.1:5000", "public.ecr.aws"
  std::string path;      // "library/debian", "amazonlinux/amazonlinux"
  std::string tag;       // "latest" when neither tag nor digest was given; "" with a digest alone
  std::string digest;    // "sha256:<64 hex>" or ""

  // "docker.io/library/debian:bookworm", "localhost/tools:latest", "r/x@sha256:…",
  // "r/x:t@sha256:…" (the canonical name; the store's key).
  std::string str() const;
  // The repository alone: "docker.io/library/debian".
  std::string repository() const;
  bool operator==(const Reference&) const = default;
};

// Parses `text` (an optional "docker://" transport prefix is dropped). The first component is
// a registry when it holds a '.' or ':' or is "localhost"; otherwise the registry is docker.io,
// where a one-component path gets "library/". InvalidArgument saying what is wrong and
// showing the accepted form: upper case in the repository, an empty component, a bad tag
// (1–128 of [A-Za-z0-9_.-], not starting with '.' or '-'), a digest that is not
// sha256:<64 lowercase hex>, another transport ("oci:", "dir:"), over 255 characters of
// repository.
[[nodiscard]] Result<Reference> parseReference(std::string_view text);

// True for "sha256:" + 64 lowercase hex digits.
bool isDigest(std::string_view text);

// The hex part of a digest ("sha256:abc…" → "abc…").
std::string_view digestHex(std::string_view digest);

}  // namespace km::image
