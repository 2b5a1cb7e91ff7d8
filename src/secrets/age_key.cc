// The sops data key, unwrapped from a sops.age entry by the `age` CLI (Debian's `age`
// package), and where age identities come from by default.
#include <openssl/crypto.h>

#include <chrono>

#include "core/fs.h"
#include "core/strings.h"
#include "core/subprocess.h"
#include "secrets/secrets.h"

namespace km::secrets {
namespace {

constexpr size_t kDataKeyBytes = 32;
// age writes the 32-byte key and, on failure, a line or two; anything longer is not age.
constexpr size_t kMaxAgeOutput = 4096;
constexpr std::chrono::seconds kAgeTimeout{10};

std::string listed(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ", ") + i;
  return out;
}

// age's own complaint, first line only ("age: error: no identity matched any of the recipients").
std::string ageComplaint(const Captured& c) {
  std::string_view err = trim(c.err);
  err = err.substr(0, err.find('\n'));
  if (err.size() > 200) err = err.substr(0, 200);
  if (err.empty()) return "age exited with status " + std::to_string(c.exit_code);
  return escapeForTerminal(err, false);
}

std::string howToFix() {
  return "set SOPS_AGE_KEY_FILE (or the identity files in km's operator config) to a file holding the "
         "AGE-SECRET-KEY-1... of one of the file's recipients";
}

}  // namespace

SopsKeys defaultSopsKeys(const std::function<const char*(const char*)>& getenv) {
  SopsKeys keys;
  auto var = [&](const char* name) -> std::string {
    const char* v = getenv(name);
    return v ? std::string(v) : std::string();
  };
  std::string from_env = var("SOPS_AGE_KEY_FILE");
  if (!from_env.empty()) keys.age_identity_files.push_back(from_env);
  // Go's os.UserConfigDir, which sops uses: $XDG_CONFIG_HOME when it is an absolute path,
  // else $HOME/.config.
  std::string config = var("XDG_CONFIG_HOME");
  if (config.empty() || config[0] != '/') {
    std::string home = var("HOME");
    config = home.empty() ? "" : home + "/.config";
  }
  if (!config.empty()) {
    std::string path = config + "/sops/age/keys.txt";
    if (path != from_env && fs::exists(path)) keys.age_identity_files.push_back(path);
  }
  return keys;
}

Result<std::string> decryptDataKey(const SopsFile& file, const SopsKeys& keys) {
  std::vector<std::string> recipients;
  for (const auto& a : file.age) recipients.push_back(a.recipient);
  if (recipients.empty()) {
    if (file.other_key_types.empty()) return invalidArgument(file.source + ": its sops metadata has no recipients");
    return invalidArgument(file.source + ": is encrypted only for " + listed(file.other_key_types) +
                           " keys; km decrypts sops files with age keys only: add an age recipient "
                           "(sops updatekeys, after adding it to .sops.yaml)");
  }
  if (keys.age_identity_files.empty()) {
    return invalidArgument(file.source + ": no age identity file to decrypt it with (its recipients: " +
                           listed(recipients) + "); " + howToFix() + ", or put it in ~/.config/sops/age/keys.txt");
  }
  if (!fs::exists(keys.age_program)) {
    return unavailable("cannot decrypt " + file.source + ": " + keys.age_program +
                       " is not installed (Debian package `age`: apt-get install age)");
  }
  // age is armored-input tolerant of a missing final newline, not of leading blank lines.
  std::vector<std::string> complaints;
  for (const AgeRecipient& entry : file.age) {
    std::string input = std::string(trim(entry.enc)) + "\n";
    for (const std::string& identity : keys.age_identity_files) {
      auto run = runCaptured({keys.age_program, "--decrypt", "-i", identity}, input, kMaxAgeOutput, kAgeTimeout);
      if (!run) return std::move(run).error().context("decrypting the data key of " + file.source);
      if (run->exit_code == 0 && !run->out_cut && run->out.size() == kDataKeyBytes) return std::move(run->out);
      std::string complaint = run->exit_code == 0
                                  ? "an entry decrypts to " + std::to_string(run->out.size()) +
                                        " bytes, not a 32-byte sops data key"
                                  : ageComplaint(*run);
      OPENSSL_cleanse(run->out.data(), run->out.size());
      bool seen = false;
      for (const auto& c : complaints) seen = seen || c == complaint;
      if (!seen) complaints.push_back(complaint);
    }
  }
  std::string also = file.other_key_types.empty()
                         ? ""
                         : " (it also has " + listed(file.other_key_types) + " recipients, which km does not use)";
  std::string said;
  for (const auto& c : complaints) said += (said.empty() ? "" : ", ") + quoted(c);
  return invalidArgument(file.source + ": none of the age identity files " + listed(keys.age_identity_files) +
                         " opens its data key, encrypted for " + listed(recipients) + also + "; age said " + said +
                         "; " + howToFix());
}

}  // namespace km::secrets
