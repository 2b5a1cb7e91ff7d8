// km image pull|list|rm|prune|bake|push — the OS images local sandboxes' roots come from
// (image::Store under $KM_HOME/images). See docs/images.md.
#include <CLI/CLI.hpp>

#include <signal.h>
#include <unistd.h>

#include <cstdio>

#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/fleet_support.h"
#include "cli/output.h"
#include "core/fs.h"
#include "core/strings.h"
#include "doc/json_io.h"
#include "image/push.h"
#include "image/store.h"

namespace km::cli {
namespace {

// Layers keep the image's owners and device nodes: only root can write them.
Status substrateNeedsRoot(std::string_view what) {
  if (::geteuid() == 0) return ok();
  return permissionDenied(std::string(what) + " needs root (image layers keep their files' owners); run it with sudo");
}

std::string sizeText(int64_t bytes) {
  char buf[32];
  if (bytes >= (int64_t{1} << 30)) {
    std::snprintf(buf, sizeof buf, "%.1f GiB", static_cast<double>(bytes) / (1 << 30));
  } else {
    std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
  }
  return buf;
}

doc::Node imageJson(const image::ImageRecord& r, const std::vector<std::string>& used_by) {
  doc::Node n = doc::Node::map();
  n.set("id", doc::Node::string(r.id));
  doc::Node names = doc::Node::seq();
  for (const auto& x : r.names) names.push(doc::Node::string(x));
  n.set("names", std::move(names));
  n.set("os", doc::Node::string(r.os.pretty_name));
  n.set("osId", doc::Node::string(r.os.id));
  n.set("osVersion", doc::Node::string(r.os.version_id));
  n.set("architecture", doc::Node::string(r.architecture));
  n.set("layers", doc::Node::integer(static_cast<int64_t>(r.layers.size())));
  n.set("sizeBytes", doc::Node::integer(r.size_bytes));
  n.set("created", doc::Node::string(r.created));
  n.set("source", doc::Node::string(r.source));
  n.set("parent", doc::Node::string(r.parent));
  n.set("onHost", doc::Node::boolean(r.on_host));
  doc::Node used = doc::Node::seq();
  for (const auto& s : used_by) used.push(doc::Node::string(s));
  n.set("usedBy", std::move(used));
  return n;
}

image::PullOptions pullOptions(Context& ctx) {
  image::PullOptions o;
  const config::Config* cfg = ctx.config();
  if (cfg && cfg->images) {
    if (cfg->images->cert_dir) o.cert_dir = fs::absolutePath(fs::expandHome(*cfg->images->cert_dir));
    if (cfg->images->auth_file) o.auth_file = fs::absolutePath(fs::expandHome(*cfg->images->auth_file));
    o.insecure_registries = cfg->images->insecure_registries;
  }
  // skopeo's lines and the image's OS name come from the registry and the image's author.
  o.progress = [](std::string_view line) { printErr(escapeForTerminal(line, false)); };
  return o;
}

// The images sandboxes of this home run on; on failure prints and returns nullopt.
std::optional<fleet::ImagesInUse> inUse(Context& ctx) {
  auto store = openFleet(ctx);
  if (!store) return std::nullopt;
  auto used = fleet::imagesInUse(*store);
  if (!used) {
    printFailure(used.error());
    return std::nullopt;
  }
  return *used;
}

int runPull(const std::vector<std::string>& refs, Context& ctx) {
  if (auto s = substrateNeedsRoot("km image pull"); !s) return printFailure(s.error());
  image::Store store(ctx.globals().home);
  image::PullOptions opt = pullOptions(ctx);
  doc::Node out = doc::Node::seq();
  for (const auto& text : refs) {
    auto ref = image::parseReference(text);
    if (!ref) {
      printErr("ERROR: " + ref.error().message());
      return kExitUsage;
    }
    auto rec = store.pull(*ref, opt);
    if (!rec) return printFailure(rec.error());
    if (ctx.globals().json) {
      out.push(imageJson(*rec, {}));
    } else {
      printOut(rec->names.front() + " " + rec->id);
    }
  }
  if (ctx.globals().json) printOut(doc::toJson(refs.size() == 1 ? out.items()[0] : out));
  return kExitOk;
}

int runImageList(Context& ctx) {
  image::Store store(ctx.globals().home);
  auto all = store.list();
  if (!all) return printFailure(all.error());
  auto used = inUse(ctx);
  if (!used) return kExitFailed;
  auto usedBy = [&](const std::string& id) {
    auto it = used->by_id.find(id);
    return it == used->by_id.end() ? std::vector<std::string>{} : it->second;
  };
  if (ctx.globals().json) {
    doc::Node arr = doc::Node::seq();
    for (const auto& r : *all) arr.push(imageJson(r, usedBy(r.id)));
    printOut(doc::toJson(arr));
    return kExitOk;
  }
  std::vector<std::vector<std::string>> table = {{"NAME", "ID", "OS", "LAYERS", "SIZE", "CREATED", "SANDBOXES"}};
  for (const auto& r : *all) {
    std::string os = escapeForTerminal(r.os.pretty_name.empty() ? (r.os.id.empty() ? "-" : r.os.id) : r.os.pretty_name, false);
    std::string layers = std::to_string(r.layers.size()) + (r.on_host ? "+host" : "");
    std::vector<std::string> names = r.names.empty() ? std::vector<std::string>{"<none>"} : r.names;
    for (const auto& n : names) {
      table.push_back({n, std::string(image::digestHex(r.id).substr(0, 12)), os, layers, sizeText(r.size_bytes),
                       r.created, std::to_string(usedBy(r.id).size())});
    }
  }
  printColumns(table);
  return kExitOk;
}

int runRm(const std::vector<std::string>& names, Context& ctx) {
  if (auto s = substrateNeedsRoot("km image rm"); !s) return printFailure(s.error());
  auto used = inUse(ctx);
  if (!used) return kExitFailed;
  image::Store store(ctx.globals().home);
  int code = kExitOk;
  for (const auto& n : names) {
    auto removed = store.remove(n, used->ids);
    if (!removed) {
      if (removed.error().code() == ErrorCode::kPermissionDenied) {
        auto it = used->by_id.end();
        if (auto f = store.find(n); f && *f) it = used->by_id.find((**f).id);
        std::string who;
        if (it != used->by_id.end()) {
          for (const auto& s : it->second) who += (who.empty() ? "" : ", ") + s;
        }
        printErr("ERROR: " + removed.error().message() + (who.empty() ? "" : " (used by " + who + ")"));
      } else {
        printFailure(removed.error());
      }
      code = kExitFailed;
      continue;
    }
    printOut("removed " + n + " (" + std::string(image::digestHex(removed->id).substr(0, 12)) + ")");
  }
  return code;
}

int runPrune(Context& ctx) {
  if (auto s = substrateNeedsRoot("km image prune"); !s) return printFailure(s.error());
  auto used = inUse(ctx);
  if (!used) return kExitFailed;
  image::Store store(ctx.globals().home);
  auto rep = store.prune(used->ids, used->layers);
  if (!rep) return printFailure(rep.error());
  if (ctx.globals().json) {
    doc::Node n = doc::Node::map();
    doc::Node images = doc::Node::seq();
    for (const auto& i : rep->images) images.push(doc::Node::string(i));
    n.set("images", std::move(images));
    doc::Node layers = doc::Node::seq();
    for (const auto& l : rep->layers) layers.push(doc::Node::string(l));
    n.set("layers", std::move(layers));
    n.set("blobs", doc::Node::integer(rep->blobs));
    n.set("bytesFreed", doc::Node::integer(rep->bytes));
    printOut(doc::toJson(n));
    return kExitOk;
  }
  printOut("removed " + std::to_string(rep->images.size()) + " unnamed images, " + std::to_string(rep->layers.size()) +
           " layers and " + std::to_string(rep->blobs) + " blobs; " + sizeText(rep->bytes) + " freed");
  return kExitOk;
}

int runBake(const std::string& sb, const std::string& name, Context& ctx) {
  if (auto s = substrateNeedsRoot("km image bake"); !s) return printFailure(s.error());
  // A short name is a local image's: localhost/NAME.
  std::string full = name.find('/') == std::string::npos ? std::string(image::kLocalRegistry) + "/" + name : name;
  auto ref = image::parseReference(full);
  if (!ref) {
    printErr("ERROR: " + ref.error().message());
    return kExitUsage;
  }
  if (!ref->digest.empty()) {
    printErr("ERROR: a baked image is named by a tag, not a digest: " + name);
    return kExitUsage;
  }
  auto store = openFleet(ctx);
  if (!store) return kExitFailed;
  auto r = resolveOrPrint(*store, sb);
  if (!r) return kExitFailed;
  image::Store images(ctx.globals().home);
  // The sandbox is frozen while its writes are copied: a Ctrl-C or kill meanwhile waits until
  // it is thawed, so no bake leaves it frozen.
  sigset_t stop_signals, old_mask;
  sigemptyset(&stop_signals);
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) sigaddset(&stop_signals, sig);
  ::sigprocmask(SIG_BLOCK, &stop_signals, &old_mask);
  auto rec = fleet::bake(fleetEnv(ctx), *store, r->id, images, *ref);
  // Said and recorded before a signal that waited ends this process.
  int code = kExitOk;
  if (!rec) {
    code = printFailure(rec.error());
  } else {
    (void)store->addEvent(r->id, "image-baked", rec->names.front() + " " + rec->id);
    printOut(ctx.globals().json ? doc::toJson(imageJson(*rec, {})) : rec->names.front() + " " + rec->id);
  }
  std::fflush(stdout);
  ::sigprocmask(SIG_SETMASK, &old_mask, nullptr);
  return code;
}

int runPush(const std::string& name, const std::string& dest_text, Context& ctx) {
  if (auto s = substrateNeedsRoot("km image push"); !s) return printFailure(s.error());
  auto dest = image::parseReference(dest_text);
  if (!dest) {
    printErr("ERROR: " + dest.error().message());
    return kExitUsage;
  }
  image::Store store(ctx.globals().home);
  auto found = store.find(name);
  if (!found) return printFailure(found.error());
  if (!*found) return printFailure(notFound("no image named " + name + " (km image list shows them)"));
  auto digest = image::pushImage(store, **found, *dest, pullOptions(ctx));
  if (!digest) return printFailure(digest.error());
  printOut(dest->str() + " " + *digest);
  return kExitOk;
}

}  // namespace

Handler installImage(CLI::App& sub, Context& ctx) {
  sub.require_subcommand(1);
  auto refs = std::make_shared<std::vector<std::string>>();
  CLI::App* pull = sub.add_subcommand("pull", "Pull OS images from a registry into this home");
  pull->add_option("image", *refs, "Image references, e.g. debian:bookworm or registry.example:5000/team/os:1")
      ->required();
  pull->footer(
      "Pulls with skopeo from any OCI or Docker registry (the operator config's images.certDir,\n"
      "images.authFile and images.insecureRegistries apply), checks every digest (manifest, config,\n"
      "each layer and its diff id), unpacks each layer once (shared by every image that has it) and\n"
      "records the image under $KM_HOME/images. Pulling a name again moves it to what it names now;\n"
      "two pulls of one name at once run once. Progress goes to stderr; stdout gets NAME ID (--json:\n"
      "the image object). Needs root. See docs/images.md.");
  CLI::App* list = sub.add_subcommand("list", "List this home's OS images (alias: ls)");
  list->alias("ls");
  list->footer("NAME ID OS LAYERS SIZE CREATED SANDBOXES; --json prints every field, usedBy listing the sandboxes.");
  auto rm_names = std::make_shared<std::vector<std::string>>();
  CLI::App* rm = sub.add_subcommand("rm", "Remove image names (an id: the image)");
  rm->add_option("image", *rm_names, "Image names or ids")->required();
  rm->footer(
      "Removes the name; the image goes with its last name (an id removes it with all of them).\n"
      "Refused while a sandbox runs on the image or another image was baked on it. The layers stay\n"
      "until km image prune.");
  CLI::App* prune = sub.add_subcommand("prune", "Remove unnamed images, and layers and blobs no image needs");
  prune->footer("Keeps everything a sandbox of this home runs on. Needs root.");
  auto bake_sb = std::make_shared<std::string>();
  auto bake_name = std::make_shared<std::string>();
  CLI::App* bake = sub.add_subcommand("bake", "Make an image of a sandbox's writes (warm starts)");
  bake->add_option("sandbox", *bake_sb, "Sandbox id, alias, or number")->required();
  bake->add_option("name", *bake_name, "The new image's name (NAME means localhost/NAME:latest)")->required();
  bake->footer(
      "Copies the sandbox's overlay upper layer (what initCommands and the agent wrote outside the\n"
      "workspace and homes) into a new layer on top of the image it runs on (or of the host's root),\n"
      "while the sandbox is frozen; it is left as it was. No symlink in it is followed. Sandboxes\n"
      "created with --image NAME or spec.runtime.image: NAME start with those files in place, so\n"
      "their initCommands find their work done. /etc/hosts and /etc/resolv.conf are not baked;\n"
      "writes deeper than 128 directories are refused. km image push sends the result to a registry.");
  auto push_name = std::make_shared<std::string>();
  auto push_dest = std::make_shared<std::string>();
  CLI::App* push = sub.add_subcommand("push", "Push an image (a baked one too) to a registry");
  push->add_option("image", *push_name, "The image's name or id")->required();
  push->add_option("destination", *push_dest, "Where to, e.g. registry.example:5000/team/tools:v1")->required();
  push->footer(
      "Sends the image as an OCI image with skopeo (images.certDir, images.authFile and\n"
      "images.insecureRegistries apply): pulled layers as they came, a baked layer archived as an\n"
      "OCI layer (whiteouts as .wh. entries), compressed on the way. Prints DESTINATION DIGEST.\n"
      "An image baked on the host's root cannot be pushed. Needs root.");
  return [&ctx, pull, list, rm, prune, bake, push, refs, rm_names, bake_sb, bake_name, push_name, push_dest] {
    if (push->parsed()) return runPush(*push_name, *push_dest, ctx);
    if (pull->parsed()) return runPull(*refs, ctx);
    if (list->parsed()) return runImageList(ctx);
    if (rm->parsed()) return runRm(*rm_names, ctx);
    if (prune->parsed()) return runPrune(ctx);
    if (bake->parsed()) return runBake(*bake_sb, *bake_name, ctx);
    return kExitUsage;
  };
}

}  // namespace km::cli
