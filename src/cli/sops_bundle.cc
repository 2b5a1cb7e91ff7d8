#include "cli/sops_bundle.h"

#include "core/fs.h"
#include "secrets/secrets.h"

namespace km::cli {

std::string bundlePath(const std::string& sops_file, const std::string& profile_source) {
  if (sops_file.starts_with("/") || sops_file.starts_with("~")) return fs::expandHome(sops_file);
  std::string beside = fs::dirName(fs::absolutePath(profile_source)) + "/" + sops_file;
  if (fs::exists(profile_source) && fs::exists(beside)) return beside;
  return fs::absolutePath(sops_file);
}

Result<std::vector<std::pair<std::string, std::string>>> readBundle(const profile::Spec& spec,
                                                                    const std::string& profile_source,
                                                                    const config::Config& config) {
  std::vector<std::pair<std::string, std::string>> out;
  if (!spec.secrets || !spec.secrets->sops_file) return out;
  std::string path = bundlePath(*spec.secrets->sops_file, profile_source);
  auto text = fs::readFile(path, 1 << 20);
  if (!text) return std::move(text).error().context("spec.secrets.sopsFile");
  secrets::SopsKeys keys = secrets::defaultSopsKeys();
  if (config.sops && !config.sops->age_key_files.empty()) {
    keys.age_identity_files.clear();
    for (const auto& f : config.sops->age_key_files) keys.age_identity_files.push_back(fs::expandHome(f));
  }
  auto values = secrets::decryptSopsYaml(*text, path, keys);
  if (!values) return std::move(values).error().context("spec.secrets.sopsFile");
  for (auto& v : *values) out.emplace_back(std::move(v.name), std::move(v.value));
  return out;
}

std::vector<std::string> bundleKeys(const profile::Spec& spec, const std::string& profile_source) {
  std::vector<std::string> out;
  if (!spec.secrets || !spec.secrets->sops_file) return out;
  std::string path = bundlePath(*spec.secrets->sops_file, profile_source);
  auto text = fs::readFile(path, 1 << 20);
  if (!text) return out;
  auto file = secrets::parseSopsFile(*text, path);
  if (!file || !file->data.isMap()) return out;
  for (const auto& e : file->data.entries()) out.push_back(e.key);
  return out;
}

}  // namespace km::cli
