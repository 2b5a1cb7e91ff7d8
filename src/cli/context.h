// What every command receives: the global flags and, on demand, the operator config.
// Private to cli.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "config/config.h"

namespace km::cli {

struct Globals {
  bool json = false;
  std::string home;         // --home / KM_HOME, default /var/lib/km
  std::string config_path;  // --config / KM_CONFIG, default $home/config.yaml
  int verbose = 0;
  std::vector<std::string> profile_paths;  // --profile-path, searched before the config's
};

class Context {
 public:
  explicit Context(Globals& g) : globals_(g) {}
  Globals& globals() { return globals_; }

  // The operator config, loaded once. On a problem prints it (located) and returns nullptr;
  // the command should then exit kExitFailed.
  const config::Config* config();
  // --profile-path dirs, then the config's profileSearchPaths (or their defaults). A
  // --profile-path that is not a directory is the user's mistake: printed, nullopt (exit 2).
  std::optional<std::vector<std::string>> searchPaths();

 private:
  Globals& globals_;
  std::optional<config::Config> config_;
  bool config_failed_ = false;
};

}  // namespace km::cli
