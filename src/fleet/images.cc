// OS images and the fleet: which images sandboxes run on (km image rm and prune keep them),
// and baking a sandbox's writes into a new image.
#include "fleet/fleet.h"
#include "fleet/substrates.h"

namespace km::fleet {

Result<ImagesInUse> imagesInUse(store::FleetStore& store) {
  auto rows = store.list();
  if (!rows) return std::move(rows).error();
  ImagesInUse out;
  for (const auto& r : *rows) {
    auto p = plan::fromJson(r.plan_json, "the stored plan of " + r.id);
    if (!p) return std::move(p).error();
    if (p->image.id.empty()) continue;
    out.ids.insert(p->image.id);
    out.layers.insert(p->image.layers.begin(), p->image.layers.end());
    out.by_id[p->image.id].push_back(r.id);
  }
  return out;
}

Result<image::ImageRecord> bake(const Env& env, store::FleetStore& store, const std::string& id,
                                image::Store& images, const image::Reference& name) {
  auto r = store.get(id);
  if (!r) return std::move(r).error();
  if (!*r) return notFound("no sandbox " + id);
  auto p = plan::fromJson((*r)->plan_json, "the stored plan of " + id);
  if (!p) return std::move(p).error();
  std::optional<image::ImageRecord> parent;
  if (!p->image.id.empty()) {
    auto found = images.find(p->image.id);
    if (!found) return std::move(found).error();
    if (!*found) return notFound(id + " runs on image " + p->image.id + ", which is no longer recorded");
    parent = **found;
  }
  auto where = detail::substrateNamed(env, (*r)->substrate);
  if (!where) return std::move(where).error().context(id);
  return (*where)->bake(id, images, parent, name);
}

}  // namespace km::fleet
