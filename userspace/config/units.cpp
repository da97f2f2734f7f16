#include "config/units.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <string>

namespace hotgate {
namespace {

// Splits "1.5s" into 1.5 and "s". Returns false when no number leads the text.
bool splitNumberAndUnit(std::string_view text, double& number, std::string& unit) {
    std::size_t i = 0;
    while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) ++i;
    if (i == 0) return false;
    const std::string digits(text.substr(0, i));
    if (digits.find('.') != digits.rfind('.')) return false;  // "1.2.3"
    try {
        std::size_t used = 0;
        number = std::stod(digits, &used);
        if (used != digits.size()) return false;
    } catch (const std::exception&) {
        return false;
    }
    unit.clear();
    for (char c : text.substr(i)) unit.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    return std::isfinite(number) && number >= 0;
}

}  // namespace

std::optional<std::chrono::milliseconds> parseDuration(std::string_view text) {
    double number = 0;
    std::string unit;
    if (!splitNumberAndUnit(text, number, unit)) return std::nullopt;
    double millis = 0;
    if (unit == "ms") millis = number;
    else if (unit == "s") millis = number * 1000;
    else if (unit == "m") millis = number * 60'000;
    else if (unit == "h") millis = number * 3'600'000;
    else return std::nullopt;
    if (millis > 1e12) return std::nullopt;
    return std::chrono::milliseconds(static_cast<std::int64_t>(std::llround(millis)));
}

std::optional<std::uint64_t> parseSize(std::string_view text) {
    double number = 0;
    std::string unit;
    if (!splitNumberAndUnit(text, number, unit)) return std::nullopt;
    double multiplier = 0;
    if (unit.empty() || unit == "b") multiplier = 1;
    else if (unit == "k" || unit == "kb" || unit == "kib") multiplier = 1024.0;
    else if (unit == "m" || unit == "mb" || unit == "mib") multiplier = 1024.0 * 1024;
    else if (unit == "g" || unit == "gb" || unit == "gib") multiplier = 1024.0 * 1024 * 1024;
    else return std::nullopt;
    const double bytes = number * multiplier;
    if (bytes > 1e18 || (unit.empty() && number != std::floor(number))) return std::nullopt;
    return static_cast<std::uint64_t>(std::llround(bytes));
}

}  // namespace hotgate
