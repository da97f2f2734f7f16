// Parsing of the Prometheus text exposition format the admin /metrics serves, so tests can
// read a counter before and after the event that should move it.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace hotgate::test {

struct MetricSample {
    std::string name;  // including any _bucket/_sum/_count suffix
    std::map<std::string, std::string> labels;
    double value = 0;
};

using MetricSamples = std::vector<MetricSample>;

// Every sample line of `text`; comments and malformed lines are skipped.
MetricSamples parsePrometheusText(std::string_view text);

// Sum of the samples named `name` whose labels include every pair of `match` (0 when none).
double sumSamples(const MetricSamples& samples, const std::string& name,
                  const std::map<std::string, std::string>& match = {});

// The samples named `name` whose labels include every pair of `match`.
MetricSamples findSamples(const MetricSamples& samples, const std::string& name,
                          const std::map<std::string, std::string>& match = {});

}  // namespace hotgate::test
