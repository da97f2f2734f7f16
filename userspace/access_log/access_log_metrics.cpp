#include "access_log/access_log_metrics.h"

namespace hotgate {

void countAccessLogLines(const AccessLog& access_log, const std::string& version, Metrics& metrics) {
    metrics.addCollector([&access_log, version] {
        prometheus::MetricFamily lines{"hotgate_access_log_lines_total",
                                       "Access log lines by file and what became of them: written, "
                                       "dropped_buffer_full (the writer fell behind), dropped_write_error",
                                       prometheus::MetricType::Counter,
                                       {}};
        for (const auto& file : access_log.counters()) {
            for (const auto& [result, value] :
                 {std::pair{"written", file.lines_written},
                  std::pair{"dropped_buffer_full", file.lines_dropped_buffer_full},
                  std::pair{"dropped_write_error", file.lines_dropped_write_error}}) {
                prometheus::ClientMetric metric;
                metric.label = {{"path", file.path}, {"result", result}, {"version", version}};
                metric.counter.value = static_cast<double>(value);
                lines.metric.push_back(metric);
            }
        }
        return std::vector<prometheus::MetricFamily>{std::move(lines)};
    });
}

}  // namespace hotgate
