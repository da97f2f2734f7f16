#include "support/prometheus_text.h"

#include <cstdlib>

namespace hotgate::test {

namespace {

// Parses `{a="x",b="y"}` starting at text[pos] == '{'; returns the position after '}', or
// npos when malformed.
std::size_t parseLabels(std::string_view text, std::size_t pos, std::map<std::string, std::string>& labels) {
    ++pos;
    for (;;) {
        while (pos < text.size() && (text[pos] == ' ' || text[pos] == ',')) ++pos;
        if (pos >= text.size()) return std::string_view::npos;
        if (text[pos] == '}') return pos + 1;
        auto eq = text.find('=', pos);
        if (eq == std::string_view::npos || eq + 1 >= text.size() || text[eq + 1] != '"')
            return std::string_view::npos;
        std::string key(text.substr(pos, eq - pos));
        std::string value;
        pos = eq + 2;
        while (pos < text.size() && text[pos] != '"') {
            if (text[pos] == '\\' && pos + 1 < text.size()) {
                ++pos;
                value += text[pos] == 'n' ? '\n' : text[pos];
            } else {
                value += text[pos];
            }
            ++pos;
        }
        if (pos >= text.size()) return std::string_view::npos;
        labels[key] = value;
        ++pos;
    }
}

bool matches(const MetricSample& sample, const std::string& name, const std::map<std::string, std::string>& match) {
    if (sample.name != name) return false;
    for (const auto& [k, v] : match) {
        auto it = sample.labels.find(k);
        if (it == sample.labels.end() || it->second != v) return false;
    }
    return true;
}

}  // namespace

MetricSamples parsePrometheusText(std::string_view text) {
    MetricSamples samples;
    while (!text.empty()) {
        auto nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
        if (line.empty() || line[0] == '#') continue;
        MetricSample sample;
        std::size_t pos = line.find_first_of("{ ");
        if (pos == std::string_view::npos) continue;
        sample.name = std::string(line.substr(0, pos));
        if (line[pos] == '{') {
            pos = parseLabels(line, pos, sample.labels);
            if (pos == std::string_view::npos) continue;
        }
        while (pos < line.size() && line[pos] == ' ') ++pos;
        std::string value(line.substr(pos));
        if (auto space = value.find(' '); space != std::string::npos) value.resize(space);  // timestamp
        char* end = nullptr;
        sample.value = std::strtod(value.c_str(), &end);
        if (end == value.c_str()) continue;
        samples.push_back(std::move(sample));
    }
    return samples;
}

double sumSamples(const MetricSamples& samples, const std::string& name,
                  const std::map<std::string, std::string>& match) {
    double sum = 0;
    for (const auto& s : samples)
        if (matches(s, name, match)) sum += s.value;
    return sum;
}

MetricSamples findSamples(const MetricSamples& samples, const std::string& name,
                          const std::map<std::string, std::string>& match) {
    MetricSamples out;
    for (const auto& s : samples)
        if (matches(s, name, match)) out.push_back(s);
    return out;
}

}  // namespace hotgate::test
