// km doctor's checks of the operator's credentials (private to cli).
#pragma once

#include <string>
#include <vector>

#include "config/config.h"
#include "core/fs.h"

namespace km::cli {

struct CredentialCheck {
  std::string subject;  // "secret ANTHROPIC_API_KEY", "github App 42 installation 7 (my-org)"
  std::string ok;       // what works, when it does
  std::string problem;  // what does not ("" when fine)
};

// Every operator secret file, the GitHub token file, the App's key and each installation (a
// real token request to GitHub's API, through dns.upstream and tls.extraCAFile as sandboxes
// reach it). Network errors are problems, never exceptions.
std::vector<CredentialCheck> checkCredentials(const config::Config& c, const std::string& km_home);

}  // namespace km::cli
