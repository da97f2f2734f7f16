// The access log's counters on /metrics: hotgate_access_log_lines_total{path, result}.
#pragma once

#include <string>

#include "access_log/access_log.h"
#include "observability/metrics.h"

namespace hotgate {

void countAccessLogLines(const AccessLog& access_log, const std::string& version, Metrics& metrics);

}  // namespace hotgate
