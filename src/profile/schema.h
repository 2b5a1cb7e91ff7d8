// Decoding, encoding and the JSON Schema of SandboxProfile documents (private to profile).
#pragma once

#include "doc/diagnostic.h"
#include "doc/node.h"
#include "profile/types.h"

namespace km::profile {

// Structural validation + typed decode: unknown fields (with did-you-mean), missing required
// fields, wrong types, enums and patterns, all added to `diags`. Returns what could be read.
// `check_required` false skips "required field missing" (for a document whose parents could
// not all be merged).
Profile decodeProfile(const doc::Node& node, doc::Diagnostics& diags, bool check_required = true);
doc::Node encodeProfile(const Profile& p);
doc::Node profileJsonSchema();

}  // namespace km::profile
