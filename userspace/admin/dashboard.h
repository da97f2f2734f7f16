// The /dashboard page (userspace/admin/dashboard.html), compiled into the binary so the admin
// port serves it without any file on disk (see the embedding in userspace/CMakeLists.txt).
#pragma once

#include <string_view>

namespace hotgate {

// The whole self-contained HTML page.
std::string_view dashboardHtml();

}  // namespace hotgate
