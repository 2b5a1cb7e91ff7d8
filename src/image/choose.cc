#include "image/choose.h"

namespace km::image {

const std::map<std::string, std::string>& defaultAmiImages() {
  static const std::map<std::string, std::string> table = {
      {"amazon-linux-2023", "docker.io/library/amazonlinux:2023"},
      {"ubuntu-24.04", "docker.io/library/ubuntu:24.04"},
      {"ubuntu-22.04", "docker.io/library/ubuntu:22.04"},
  };
  return table;
}

bool amiIsHost(const std::string& ami, const OsRelease& host) {
  if (ami.rfind("amazon-linux-", 0) == 0) return host.id == "amzn" && host.version_id == ami.substr(13);
  if (ami.rfind("ubuntu-", 0) == 0) return host.id == "ubuntu" && host.version_id == ami.substr(7);
  return false;
}

Result<Choice> chooseImage(const ChooseInput& in) {
  Choice c;
  auto named = [&](const std::string& value, const std::string& why) {
    c.why = why;
    if (value == "host") return c;
    c.host = false;
    c.image = value;
    return c;
  };
  if (in.flag) return named(*in.flag, "--image");
  if (in.profile_image) return named(*in.profile_image, "spec.runtime.image");
  std::string ami;
  std::string why;
  if (in.ami) {
    ami = in.ami->empty() ? "amazon-linux-2023" : *in.ami;
    why = "runtime.ami " + ami;
  } else if (!in.missing_tools.empty()) {
    std::string tools;
    for (const auto& t : in.missing_tools) tools += (tools.empty() ? "" : ", ") + t;
    ami = "amazon-linux-2023";
    why = "initCommands call " + tools + ", which this host lacks: upstream's default OS " + ami;
  } else {
    c.why = "the host's root (the profile names no OS)";
    return c;
  }
  c.os = ami;
  if (amiIsHost(ami, in.host)) {
    c.why = why + " is this host's OS";
    return c;
  }
  auto it = in.ami_images.find(ami);
  if (it == in.ami_images.end()) {
    return invalidArgument(why + " has no image: map it to an OCI image in the operator config (images.ami: {" +
                           ami + ": REGISTRY/REPO:TAG}), or give one with --image");
  }
  c.host = false;
  c.image = it->second;
  c.why = why + " → " + it->second;
  return c;
}

}  // namespace km::image
