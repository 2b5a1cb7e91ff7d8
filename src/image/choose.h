// Which root a new sandbox gets: the host's own (a copy-on-write view of it) or an OS image.
// Pure: the caller reads the host's os-release and the store.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "image/store.h"

namespace km::image {

// The distributions' official images for upstream's runtime.ami names (the operator config's
// images.ami overrides or adds entries).
const std::map<std::string, std::string>& defaultAmiImages();

struct ChooseInput {
  std::optional<std::string> flag;           // km create --image ("host" for the host's root)
  std::optional<std::string> profile_image;  // spec.runtime.image (km extension; "host" too)
  std::optional<std::string> ami;            // spec.runtime.ami ("" as upstream: amazon-linux-2023)
  std::map<std::string, std::string> ami_images;  // images.ami over defaultAmiImages()
  OsRelease host;                            // this host's /etc/os-release
  // Package managers the profile's initCommands call that this host lacks (dnf, yum, apt…).
  std::vector<std::string> missing_tools;
};

struct Choice {
  bool host = true;        // the host's root
  std::string image;       // else the image's name as asked (a reference or id)
  std::string why;         // "--image", "spec.runtime.image", "runtime.ami ubuntu-24.04 (images.ami)"…
  std::string os;          // the OS the profile asks for, when one ("amazon-linux-2023"), for messages
};

// --image first, then spec.runtime.image, then runtime.ami through the table; an ami naming
// this host's own OS (ubuntu-24.04 on Ubuntu 24.04) keeps the host's root. Without any of
// them, a profile whose initCommands call a package manager the host lacks is read as
// upstream reads it, written for its default amazon-linux-2023. InvalidArgument, in one
// line saying what to set, for an ami the table does not map (a raw ami-… id).
[[nodiscard]] Result<Choice> chooseImage(const ChooseInput& in);

// True when runtime.ami `ami` names the OS `host` runs (amazon-linux-2023 ↔ amzn 2023,
// ubuntu-24.04 ↔ ubuntu 24.04).
bool amiIsHost(const std::string& ami, const OsRelease& host);

}  // namespace km::image
