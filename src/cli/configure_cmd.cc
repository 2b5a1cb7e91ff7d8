// km configure github — stores how sandboxes' GitHub requests are authenticated (a GitHub
// App, or a static token file) in the operator config, after checking the key or token file
// is usable and out of every sandbox's sight. The rest of the file is kept as written.
#include <CLI/CLI.hpp>

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <sstream>

#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/context.h"
#include "cli/output.h"
#include "config/config.h"
#include "core/fs.h"
#include "core/strings.h"
#include "github/app.h"
#include "net/secret_file.h"

namespace km::cli {
namespace {

struct GithubArgs {
  int64_t app_id = 0;
  std::string private_key;
  std::vector<std::string> installations;  // OWNER=ID
  std::string token_file;
  std::string api_url;
};

// `text` without its top-level `key:` block (the key's line and every indented, blank or
// comment line after it), so the new block can be appended.
std::string withoutTopLevelBlock(std::string_view text, std::string_view key) {
  std::string out;
  bool skipping = false;
  for (const auto& line : split(text, '\n')) {
    bool top = !line.empty() && line[0] != ' ' && line[0] != '\t' && line[0] != '#';
    if (top) skipping = startsWith(line, std::string(key) + ":");
    if (!skipping) out += line + "\n";
  }
  while (out.size() >= 2 && out.ends_with("\n\n")) out.pop_back();
  if (out == "\n") out.clear();
  return out;
}

std::string yamlQuoted(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

int configureGithub(Context& ctx, const GithubArgs& a) {
  const std::string& home = ctx.globals().home;
  bool app = a.app_id > 0;
  if (app == !a.token_file.empty()) {
    printErr("ERROR: give either a GitHub App (--app-id, --private-key, --installation OWNER=ID) or --token-file");
    return kExitUsage;
  }
  std::ostringstream block;
  block << "github:\n";
  if (!a.api_url.empty()) block << "  apiUrl: " << yamlQuoted(a.api_url) << "\n";
  if (app) {
    if (a.private_key.empty() || a.installations.empty()) {
      printErr("ERROR: a GitHub App needs --private-key FILE and at least one --installation OWNER=ID");
      return kExitUsage;
    }
    std::string key = fs::absolutePath(fs::expandHome(a.private_key));
    auto pem = net::readSecretFile(key, home, 64 << 10);
    if (!pem) {
      printErr("ERROR: --private-key: " + pem.error().message());
      return kExitUsage;
    }
    if (auto jwt = github::appJwt(a.app_id, *pem, static_cast<int64_t>(std::time(nullptr))); !jwt) {
      printErr("ERROR: --private-key " + key + ": " + jwt.error().message());
      return kExitUsage;
    }
    block << "  appId: " << a.app_id << "\n  privateKeyFile: " << yamlQuoted(key) << "\n  installations:\n";
    for (const auto& i : a.installations) {
      size_t eq = i.find('=');
      std::string owner = i.substr(0, eq);
      std::string id = eq == std::string::npos ? "" : i.substr(eq + 1);
      bool digits = !id.empty() && id.find_first_not_of("0123456789") == std::string::npos && id.size() < 16;
      if (owner.empty() || !digits) {
        printErr("ERROR: --installation " + km::quoted(i) + ": write OWNER=ID, like my-org=12345678 (the id is in the URL "
                 "of the installation's settings page)");
        return kExitUsage;
      }
      block << "    - {owner: " << yamlQuoted(owner) << ", id: " << id << "}\n";
    }
  } else {
    std::string file = fs::absolutePath(fs::expandHome(a.token_file));
    if (auto token = net::readSecretValue(file, home); !token) {
      printErr("ERROR: --token-file: " + token.error().message());
      return kExitUsage;
    }
    block << "  tokenFile: " << yamlQuoted(file) << "\n";
  }
  const std::string& path = ctx.globals().config_path;
  auto current = fs::readFile(path, 1 << 20);
  if (!current && current.error().code() != ErrorCode::kNotFound) {
    printErr("ERROR: " + current.error().message());
    return kExitFailed;
  }
  std::string rest = current ? withoutTopLevelBlock(*current, "github") : "";
  std::string text = rest + (rest.empty() ? "" : "\n") + block.str();
  // The result must be a config km accepts before it replaces the old one.
  auto parsed = config::parseConfig(text, path);
  if (!parsed.ok()) {
    printDiagnostics(parsed.diagnostics, path);
    printErr("ERROR: the operator config would not be valid with this github block; nothing was written");
    return kExitFailed;
  }
  if (auto dir = fs::dirName(path); !fs::isDirectory(dir) && ::mkdir(dir.c_str(), 0700) != 0) {
    printErr("ERROR: making " + dir + ": " + std::strerror(errno));
    return kExitFailed;
  }
  if (auto st = fs::writeFileAtomic(path, text); !st) {
    printErr("ERROR: " + st.error().message());
    return kExitFailed;
  }
  printOut("GitHub " + std::string(app ? "App " + std::to_string(a.app_id) : "token file") + " stored in " + path +
           "; new sandboxes use it (`km doctor` checks it)");
  return kExitOk;
}

}  // namespace

Handler installConfigure(CLI::App& sub, Context& ctx) {
  sub.require_subcommand(1);
  auto a = std::make_shared<GithubArgs>();
  CLI::App* gh = sub.add_subcommand("github", "Store the GitHub App (or token file) sandboxes' requests are authorised with");
  gh->add_option("--app-id", a->app_id, "The GitHub App's id")->check(CLI::PositiveNumber);
  gh->add_option("--private-key", a->private_key,
                 "The App's private key (PEM), under /root, /home or KM_HOME, mode 600");
  gh->add_option("--installation", a->installations, "OWNER=ID: an installation of the App (repeatable)");
  gh->add_option("--token-file", a->token_file,
                 "A static token instead of an App (a file under /root, /home or KM_HOME, mode 600)");
  gh->add_option("--api-url", a->api_url, "GitHub's API (default https://api.github.com)");
  gh->footer(
      "Writes the github block of the operator config (--config, KM_CONFIG or $KM_HOME/config.yaml), keeping the rest of "
      "the file. The proxy puts a token on requests for the repositories a profile's spec.sourceAccess allows: an App's "
      "installation token (an hour long, scoped to those repositories, renewed by km) or the static token. Sandboxes "
      "never hold either. See docs/source-access.md.");
  return [gh, a, &ctx] {
    if (!gh->parsed()) return kExitUsage;
    return configureGithub(ctx, *a);
  };
}

}  // namespace km::cli
