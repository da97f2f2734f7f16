// The build version this binary reports (x-hotgate-version, /status, --version).
#pragma once

namespace hotgate {

// Defined weakly in the core library from HOTGATE_BUILD_VERSION; a second binary of the same
// tree (the tests' "binary B" of an A/B upgrade) links a strong definition of its own.
const char* buildVersion();

}  // namespace hotgate
