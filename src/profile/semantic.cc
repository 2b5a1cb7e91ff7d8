#include "profile/semantic.h"

namespace km::profile {

void checkSemantics(const Profile&, const doc::Node&, doc::Diagnostics&) {}

}  // namespace km::profile
