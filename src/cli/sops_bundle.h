// A profile's SOPS bundle (spec.secrets.sopsFile) read and decrypted for km create (private
// to cli).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "config/config.h"
#include "core/result.h"
#include "profile/types.h"

namespace km::cli {

// Where the bundle is: an absolute or ~ path as written; a relative one next to the profile
// file `profile_source` when it is there, else relative to the current directory.
std::string bundlePath(const std::string& sops_file, const std::string& profile_source);

// The bundle's top-level keys and values, in order; none when the profile has no sopsFile.
// Keys: the operator config's sops.ageKeyFiles, else sops's own defaults ($SOPS_AGE_KEY_FILE,
// ~/.config/sops/age/keys.txt). Errors name the file and what to fix, never a value.
[[nodiscard]] Result<std::vector<std::pair<std::string, std::string>>> readBundle(const profile::Spec& spec,
                                                                                  const std::string& profile_source,
                                                                                  const config::Config& config);

// The bundle's top-level key names without decrypting anything (for km validate's warnings);
// empty when the profile has no sopsFile or it cannot be read.
std::vector<std::string> bundleKeys(const profile::Spec& spec, const std::string& profile_source);

}  // namespace km::cli
