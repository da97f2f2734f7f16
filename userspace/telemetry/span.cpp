#include "telemetry/span.h"

#include <algorithm>
#include <chrono>
#include <limits>
#include <random>

namespace hotgate::telemetry {
namespace {

// One generator per thread, seeded from the OS once: ids are created on request-path threads,
// which must not contend on a shared generator.
std::mt19937_64& threadGenerator() {
    thread_local std::mt19937_64 generator = [] {
        std::random_device device;
        std::seed_seq seed{device(), device(), device(), device(), device(), device(), device(), device()};
        return std::mt19937_64(seed);
    }();
    return generator;
}

template <std::size_t N>
std::array<std::uint8_t, N> randomNonZeroBytes() {
    std::array<std::uint8_t, N> bytes{};
    auto& generator = threadGenerator();
    do {
        for (std::size_t i = 0; i < N; i += 8) {
            const std::uint64_t word = generator();
            for (std::size_t j = 0; j < 8 && i + j < N; ++j) bytes[i + j] = static_cast<std::uint8_t>(word >> (8 * j));
        }
    } while (std::all_of(bytes.begin(), bytes.end(), [](std::uint8_t b) { return b == 0; }));
    return bytes;
}

template <std::size_t N>
std::string hexOf(const std::array<std::uint8_t, N>& bytes) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out(2 * N, '0');
    for (std::size_t i = 0; i < N; ++i) {
        out[2 * i] = kDigits[bytes[i] >> 4];
        out[2 * i + 1] = kDigits[bytes[i] & 0x0f];
    }
    return out;
}

int lowerHexDigit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

template <std::size_t N>
std::optional<std::array<std::uint8_t, N>> bytesFromHex(std::string_view hex) {
    if (hex.size() != 2 * N) return std::nullopt;
    std::array<std::uint8_t, N> bytes{};
    for (std::size_t i = 0; i < N; ++i) {
        const int high = lowerHexDigit(hex[2 * i]);
        const int low = lowerHexDigit(hex[2 * i + 1]);
        if (high < 0 || low < 0) return std::nullopt;
        bytes[i] = static_cast<std::uint8_t>(high << 4 | low);
    }
    return bytes;
}

template <std::size_t N>
bool anyNonZero(const std::array<std::uint8_t, N>& bytes) {
    return std::any_of(bytes.begin(), bytes.end(), [](std::uint8_t b) { return b != 0; });
}

void put(std::vector<Attribute>& attributes, std::string_view key, AttributeValue value) {
    for (auto& attribute : attributes) {
        if (attribute.key == key) {
            attribute.value = std::move(value);
            return;
        }
    }
    attributes.push_back(Attribute{std::string(key), std::move(value)});
}

}  // namespace

TraceId randomTraceId() {
    return randomNonZeroBytes<16>();
}
SpanId randomSpanId() {
    return randomNonZeroBytes<8>();
}

bool isValid(const TraceId& id) {
    return anyNonZero(id);
}
bool isValid(const SpanId& id) {
    return anyNonZero(id);
}

std::string toHex(const TraceId& id) {
    return hexOf(id);
}
std::string toHex(const SpanId& id) {
    return hexOf(id);
}

std::optional<TraceId> traceIdFromHex(std::string_view hex) {
    return bytesFromHex<16>(hex);
}
std::optional<SpanId> spanIdFromHex(std::string_view hex) {
    return bytesFromHex<8>(hex);
}

void Span::setAttribute(std::string_view key, std::string_view value) {
    put(attributes, key, AttributeValue(std::in_place_type<std::string>, value));
}
void Span::setAttribute(std::string_view key, std::int64_t value) {
    put(attributes, key, AttributeValue(std::in_place_type<std::int64_t>, value));
}
void Span::setAttribute(std::string_view key, std::uint64_t value) {
    constexpr auto kMax = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
    setAttribute(key, static_cast<std::int64_t>(std::min(value, kMax)));
}
void Span::setAttribute(std::string_view key, bool value) {
    put(attributes, key, AttributeValue(std::in_place_type<bool>, value));
}
void Span::setAttribute(std::string_view key, double value) {
    put(attributes, key, AttributeValue(std::in_place_type<double>, value));
}

const AttributeValue* Span::attribute(std::string_view key) const {
    for (const auto& attribute : attributes)
        if (attribute.key == key) return &attribute.value;
    return nullptr;
}

std::uint64_t unixNanosNow() {
    const auto since_epoch = std::chrono::system_clock::now().time_since_epoch();
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(since_epoch).count());
}

}  // namespace hotgate::telemetry
