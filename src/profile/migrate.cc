#include "profile/profile.h"

namespace km::profile {

bool migrateDocument(doc::Node&, doc::Diagnostics&) { return false; }

}  // namespace km::profile
