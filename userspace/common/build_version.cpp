#include "common/build_version.h"

namespace hotgate {

__attribute__((weak)) const char* buildVersion() { return HOTGATE_BUILD_VERSION; }

}  // namespace hotgate
