// The strong definition that makes hotgate_b report its own build version (see common/build_version.h).
#include "common/build_version.h"

namespace hotgate {

const char* buildVersion() { return HOTGATE_BUILD_VERSION_B; }

}  // namespace hotgate
