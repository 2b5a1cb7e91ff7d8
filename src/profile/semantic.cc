// Semantic rules: what upstream's ValidateSemantic checks beyond the JSON Schema, with its
// split of errors and warnings, plus two km warnings about sourceAccess. Enum, pattern and
// range checks that the schema already makes (upstream rules 2, 3, 10 and the pattern parts
// of 6–8) are not repeated here.
#include "profile/semantic.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <map>

#include "core/duration.h"
#include "core/strings.h"
#include "profile/instance_types.h"
#include "profile/semantic_rules.h"

namespace km::profile {

RuleContext::RuleContext(const doc::Node& document, doc::Diagnostics& diags)
    : document_(document), diags_(diags) {
  for (const doc::Diagnostic& d : diags.all()) {
    if (d.isError() && !d.path.empty()) rejected_paths_.push_back(d.path);
  }
}

bool RuleContext::rejected(std::string_view path) const {
  return std::find(rejected_paths_.begin(), rejected_paths_.end(), path) != rejected_paths_.end();
}

const doc::Node* RuleContext::written(std::string_view path) const {
  // locate() falls back to the nearest ancestor, so the field exists exactly when it resolves
  // to something other than what its parent path resolves to.
  size_t cut = path.find_last_of(".[");
  std::string_view parent = cut == std::string_view::npos ? std::string_view() : path.substr(0, cut);
  const doc::Node* node = doc::locate(document_, path);
  return node == doc::locate(document_, parent) ? nullptr : node;
}

void RuleContext::error(const std::string& path, std::string message) {
  diags_.error(doc::locate(document_, path)->mark(), path, std::move(message));
}

void RuleContext::warning(const std::string& path, std::string message) {
  diags_.warning(doc::locate(document_, path)->mark(), path, std::move(message));
}

namespace {

// Rule 1. The idle timer can never fire after the sandbox has already expired, so an idle
// timeout longer than the ttl is a mistake. ttl "0" means "never expires" (upstream's sentinel).
void checkLifetime(const Lifecycle& lc, RuleContext& ctx) {
  if (lc.ttl.empty() || lc.ttl == "0" || lc.idle_timeout.empty()) return;
  if (ctx.rejected("spec.lifecycle.ttl") || ctx.rejected("spec.lifecycle.idleTimeout")) return;
  auto ttl = parseDuration(lc.ttl);
  auto idle = parseDuration(lc.idle_timeout);
  if (!ttl || !idle || *ttl >= *idle) return;
  ctx.error("spec.lifecycle.ttl",
            "ttl " + lc.ttl + " is shorter than idleTimeout " + lc.idle_timeout +
                "; raise ttl to at least " + lc.idle_timeout +
                ", lower idleTimeout, or write ttl: \"0\" for a sandbox that never expires");
}

// Rule 4. AWS writes RAM to the root EBS volume on hibernate and refuses to launch when it
// cannot fit, long after validation accepted the profile. rootVolumeSize 0 is the image
// default (unknown offline) and unknown instance types fail open, as upstream does.
void checkHibernation(const Runtime& rt, RuleContext& ctx) {
  if (!ctx.usable(rt.hibernation, "spec.runtime.hibernation").value_or(false)) return;
  auto size = ctx.usable(rt.root_volume_size, "spec.runtime.rootVolumeSize");
  if (!size || *size <= 0 || ctx.rejected("spec.runtime.instanceType")) return;
  auto ram = instanceRamGiB(rt.instance_type);
  if (!ram || *size > *ram) return;
  std::string ram_text = std::to_string(*ram);
  ctx.error("spec.runtime.rootVolumeSize",
            "rootVolumeSize " + std::to_string(*size) + " GiB cannot hold the " + ram_text +
                " GiB of RAM that hibernation writes to the root volume of a " + rt.instance_type +
                "; raise rootVolumeSize above " + ram_text + " (e.g. " + std::to_string(*ram + 8) +
                " for room for the OS) or set hibernation: false");
}

// Rule 5. eBPF programs attach to a cgroup on a kernel km controls: an EC2 host or this
// machine. ECS tasks and docker containers give km no such kernel.
void checkEnforcement(const Spec& spec, RuleContext& ctx) {
  auto enforcement = ctx.usable(spec.network.enforcement, "spec.network.enforcement");
  if (!enforcement || (*enforcement != "ebpf" && *enforcement != "both")) return;
  const std::string& substrate = spec.runtime.substrate;
  if (ctx.rejected("spec.runtime.substrate") || (substrate != "ecs" && substrate != "docker")) return;
  ctx.error("spec.network.enforcement",
            "enforcement " + *enforcement + " needs eBPF on a host kernel km controls, which the " +
                substrate +
                " substrate does not give; use enforcement: proxy, or substrate ec2 or local");
}

// Rule 7. The desktop (KasmVNC) ships packages for Ubuntu only. Mode, browser names and the
// geometry pattern are schema checks.
void checkDesktop(const Runtime& rt, RuleContext& ctx) {
  if (!rt.desktop || ctx.rejected("spec.runtime.desktop")) return;
  const Desktop& d = *rt.desktop;
  if (!ctx.usable(d.enabled, "spec.runtime.desktop.enabled").value_or(false)) return;

  // Kiosk mode launches browsers[0] full screen. An absent list defaults to [firefox], so
  // only a list written empty leaves kiosk mode with nothing to show.
  bool kiosk = !ctx.rejected("spec.runtime.desktop.mode") && d.mode.value_or("kiosk") == "kiosk";
  const doc::Node* browsers = ctx.written("spec.runtime.desktop.browsers");
  if (kiosk && browsers && browsers->isSeq() && browsers->items().empty()) {
    ctx.error("spec.runtime.desktop.browsers",
              "kiosk mode shows the first browser full screen, but browsers is empty; list one "
              "(e.g. [firefox]), remove browsers to get the default [firefox], or set mode: full");
  }

  if (ctx.rejected("spec.runtime.ami")) return;
  std::string ami = rt.ami.value_or("");
  if (startsWith(ami, "ubuntu-")) return;
  if (startsWith(ami, "ami-")) {
    ctx.warning("spec.runtime.desktop.enabled",
                "the desktop needs Ubuntu 24.04 or 22.04, and km cannot tell offline what " + ami +
                    " runs; make sure it is an Ubuntu image, or set spec.runtime.ami: ubuntu-24.04");
    return;
  }
  std::string shown = ami.empty() ? "not set (so Amazon Linux 2023)" : ami;
  ctx.error("spec.runtime.desktop.enabled",
            "the desktop needs an Ubuntu image, but spec.runtime.ami is " + shown +
                "; set spec.runtime.ami: ubuntu-24.04 or ubuntu-22.04");
}

// Mount points a snapshot volume would hide or break (top level only: /opt/x is fine).
constexpr std::array<std::string_view, 15> kReservedMounts = {
    "/",    "/shared", "/workspace", "/proc", "/sys", "/dev", "/etc", "/usr",
    "/var", "/root",   "/home",      "/boot", "/tmp", "/run", "/opt"};

bool isReservedMount(std::string_view mount_point) {
  return std::find(kReservedMounts.begin(), kReservedMounts.end(), mount_point) !=
         kReservedMounts.end();
}

// Rule 8, per snapshot: reserved, taken by additionalVolume, or used by an earlier snapshot.
void checkSnapshotMount(const std::string& path, const std::string& mount_point,
                        const std::string& volume_mount, std::map<std::string, size_t>& seen,
                        size_t index, RuleContext& ctx) {
  if (isReservedMount(mount_point)) {
    ctx.error(path, "mountPoint " + mount_point +
                        " is a system or km directory that a volume would hide; mount the snapshot "
                        "elsewhere, e.g. /data or /mnt/<name>");
  }
  if (mount_point == volume_mount) {
    ctx.error(path, "mountPoint " + mount_point +
                        " is already used by spec.runtime.additionalVolume.mountPoint; give the "
                        "snapshot its own mount point");
  }
  auto [it, inserted] = seen.emplace(mount_point, index);
  if (!inserted) {
    ctx.error(path, "mountPoint " + mount_point + " is also used by additionalSnapshots[" +
                        std::to_string(it->second) + "]; give each snapshot its own mount point");
  }
}

// Rule 8. Snapshots become EBS volumes, which only the ec2 substrate attaches. The id,
// absolute-path, device and size patterns are schema checks.
void checkSnapshots(const Runtime& rt, RuleContext& ctx) {
  const std::string list_path = "spec.runtime.additionalSnapshots";
  if (rt.additional_snapshots.empty() || ctx.rejected(list_path)) return;
  if (!rt.substrate.empty() && rt.substrate != "ec2" && !ctx.rejected("spec.runtime.substrate")) {
    ctx.error(list_path, "additionalSnapshots are restored as EBS volumes, which only the ec2 "
                         "substrate attaches (this profile uses " + rt.substrate +
                         "); set substrate: ec2 or remove additionalSnapshots");
  }
  std::string volume_mount;
  if (rt.additional_volume && !ctx.rejected("spec.runtime.additionalVolume.mountPoint")) {
    volume_mount = rt.additional_volume->mount_point;
  }
  std::map<std::string, size_t> mounts;
  std::map<std::string, size_t> devices;
  for (size_t i = 0; i < rt.additional_snapshots.size(); ++i) {
    const AdditionalSnapshot& snap = rt.additional_snapshots[i];
    std::string base = doc::indexPath(list_path, i);
    std::string mount_path = base + ".mountPoint";
    if (!snap.mount_point.empty() && !ctx.rejected(mount_path)) {
      checkSnapshotMount(mount_path, snap.mount_point, volume_mount, mounts, i, ctx);
    }
    auto device = ctx.usable(snap.device, base + ".device");
    if (!device || device->empty()) continue;
    auto [it, inserted] = devices.emplace(*device, i);
    if (!inserted) {
      ctx.error(base + ".device",
                "device " + *device + " is also used by additionalSnapshots[" +
                    std::to_string(it->second) +
                    "]; choose another of /dev/sdf to /dev/sdp or leave device out");
    }
  }
}

// "secrets.yaml" → "secrets.enc.yaml", for the fix suggested by rule 9.
std::string encryptedName(const std::string& file) {
  for (std::string_view ext : {".yaml", ".yml"}) {
    if (endsWith(file, ext)) return file.substr(0, file.size() - ext.size()) + ".enc.yaml";
  }
  return file + ".enc.yaml";
}

// km's spec.secrets.hosts: each entry names an environment variable and the hosts (exact
// names) its real value may go to.
void checkSecretHosts(const Spec& spec, RuleContext& ctx) {
  if (ctx.rejected("spec.secrets.hosts")) return;
  bool has_bundle = spec.secrets->sops_file.has_value();
  for (const auto& [name, hosts] : spec.secrets->hosts) {
    std::string path = "spec.secrets.hosts." + name;
    bool valid_name = !name.empty() && (std::isalpha(static_cast<unsigned char>(name[0])) || name[0] == '_');
    for (char c : name) valid_name = valid_name && (std::isalnum(static_cast<unsigned char>(c)) || c == '_');
    if (!valid_name) {
      ctx.error(path, "\"" + name + "\" is not an environment variable name (letters, digits and _, not "
                      "starting with a digit)");
      continue;
    }
    if (hosts.empty()) {
      ctx.error(path, "lists no host, so the secret could never be used; name the hosts it is for, e.g. "
                      "[api.openai.com]");
    }
    for (size_t i = 0; i < hosts.size(); ++i) {
      const std::string& h = hosts[i];
      bool host_ok = !h.empty() && h.size() <= 253 && h.front() != '.' && h.back() != '.' &&
                     h.find("..") == std::string::npos;
      for (char c : h) host_ok = host_ok && (std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '-' || c == '.');
      if (!host_ok) {
        ctx.error(path + "[" + std::to_string(i) + "]",
                  "\"" + h + "\" is not a host name: write the exact lower-case name the requests go to, "
                  "like api.openai.com (no scheme, port, path or wildcard)");
      }
    }
    bool in_env = std::any_of(spec.execution.env.begin(), spec.execution.env.end(),
                              [&](const auto& e) { return e.first == name; });
    if (!in_env && !has_bundle) {
      ctx.warning(path, name + " is in neither spec.execution.env nor a sopsFile here: unless the operator "
                               "config's secrets define it, there is nothing to mask");
    }
  }
}

// Rule 9. The .enc.yaml suffix is how operators (and .gitignore) tell SOPS-encrypted bundles
// from plaintext secrets.
void checkSecrets(const Spec& spec, RuleContext& ctx) {
  if (!spec.secrets || ctx.rejected("spec.secrets")) return;
  checkSecretHosts(spec, ctx);
  auto file = ctx.usable(spec.secrets->sops_file, "spec.secrets.sopsFile");
  if (!file || file->empty() || endsWith(*file, ".enc.yaml")) return;
  ctx.error("spec.secrets.sopsFile",
            "sopsFile " + *file + " must end in .enc.yaml, the name SOPS-encrypted bundles use so "
            "they are never mistaken for plaintext; rename it, e.g. to " + encryptedName(*file));
}

// km's own warnings: a sourceAccess block that cannot do what it seems to say. (mode allowlist
// with no github block is deliberately quiet: the hardened and sealed built-ins use it to mean
// "no repositories at all".)
void checkSourceAccess(const SourceAccess& sa, RuleContext& ctx) {
  if (!sa.github || ctx.rejected("spec.sourceAccess.mode") ||
      ctx.rejected("spec.sourceAccess.github")) {
    return;
  }
  if (sa.mode == "none") {
    ctx.warning("spec.sourceAccess.github",
                "sourceAccess.mode is none, so this github allowlist is ignored; set mode: allowlist "
                "to use it, or remove the github block");
    return;
  }
  const std::string repos_path = "spec.sourceAccess.github.allowedRepos";
  if (sa.mode == "allowlist" && sa.github->allowed_repos.empty() && ctx.written(repos_path) &&
      !ctx.rejected(repos_path)) {
    ctx.warning(repos_path,
                "allowedRepos is empty, so no repository is reachable; add repositories (owner/repo "
                "or owner/*), or set mode: none to say the sandbox needs none");
  }
}

}  // namespace

void checkSemantics(const Profile& p, const doc::Node& document, doc::Diagnostics& diags) {
  RuleContext ctx(document, diags);
  const Spec& spec = p.spec;
  checkLifetime(spec.lifecycle, ctx);
  checkHibernation(spec.runtime, ctx);
  checkEnforcement(spec, ctx);
  if (spec.notification && !ctx.rejected("spec.notification")) checkSlack(*spec.notification, ctx);
  checkDesktop(spec.runtime, ctx);
  checkSnapshots(spec.runtime, ctx);
  checkSecrets(spec, ctx);
  checkSourceAccess(spec.source_access, ctx);
}

}  // namespace km::profile
