// Semantic rules beyond the schema (private to profile): ttl ≥ idleTimeout, hibernation vs
// RAM, eBPF only on substrates that support it, Slack, desktop, snapshots, sops and limits,
// with upstream's split of errors and warnings (warnings never fail a profile).
#pragma once

#include "doc/diagnostic.h"
#include "doc/node.h"
#include "profile/types.h"

namespace km::profile {

// Adds each violated rule to `diags`, located through `document` (the node `p` was decoded
// from). Rules skip fields that are absent or already invalid by the schema.
void checkSemantics(const Profile& p, const doc::Node& document, doc::Diagnostics& diags);

}  // namespace km::profile
