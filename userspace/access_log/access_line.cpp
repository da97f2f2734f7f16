#include "access_log/access_line.h"

#include <array>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <ctime>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "config/access_fields.h"

namespace hotgate {
namespace {

constexpr char kHex[] = "0123456789abcdef";

// The time formatted to the second, kept per thread: a second holds many lines.
struct SecondText {
    std::int64_t second = -1;
    char text[32] = {};
    std::size_t size = 0;
};

std::int64_t unixSecond(std::chrono::system_clock::time_point time) {
    return std::chrono::duration_cast<std::chrono::seconds>(time.time_since_epoch()).count();
}

std::tm utcOf(std::int64_t second) {
    const std::time_t t = static_cast<std::time_t>(second);
    std::tm tm{};
    gmtime_r(&t, &tm);
    return tm;
}

// "2026-12-06T09:30:01.123Z" into `out` (24 bytes); returns its end.
char* formatRfc3339(char* out, std::chrono::system_clock::time_point time) {
    thread_local SecondText cached;
    const std::int64_t second = unixSecond(time);
    if (second != cached.second) {
        const std::tm tm = utcOf(second);
        cached.size = std::strftime(cached.text, sizeof cached.text, "%Y-%m-%dT%H:%M:%S", &tm);
        cached.second = second;
    }
    std::memcpy(out, cached.text, cached.size);
    out += cached.size;
    const auto millis =
        std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count() % 1000;
    *out++ = '.';
    *out++ = static_cast<char>('0' + millis / 100);
    *out++ = static_cast<char>('0' + millis / 10 % 10);
    *out++ = static_cast<char>('0' + millis % 10);
    *out++ = 'Z';
    return out;
}

// "06/Dec/2026:09:30:01 +0000", NGINX's $time_local in UTC.
void appendCommonLogTime(std::string& out, std::chrono::system_clock::time_point time) {
    thread_local SecondText cached;
    const std::int64_t second = unixSecond(time);
    if (second != cached.second) {
        const std::tm tm = utcOf(second);
        static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
        const int n = std::snprintf(cached.text, sizeof cached.text, "%02d/%s/%04d:%02d:%02d:%02d +0000", tm.tm_mday,
                                    kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
        cached.size = n > 0 ? static_cast<std::size_t>(n) : 0;
        cached.second = second;
    }
    out.append(cached.text, cached.size);
}

void appendUnsigned(std::string& out, std::uint64_t value) {
    char digits[24];
    const auto end = std::to_chars(digits, digits + sizeof digits, value).ptr;
    out.append(digits, end);
}

// The length of the valid UTF-8 sequence starting at s[i] (RFC 3629), 0 if there is none.
std::size_t utf8Sequence(std::string_view s, std::size_t i) {
    const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
    const auto continuation = [&](std::size_t k) { return k < s.size() && (byte(k) & 0xC0) == 0x80; };
    const unsigned char lead = byte(i);
    std::size_t length = 0;
    unsigned char low = 0x80;
    unsigned char high = 0xBF;  // the second byte's range
    if (lead >= 0xC2 && lead <= 0xDF) {
        length = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
        length = 3;
        if (lead == 0xE0) low = 0xA0;   // overlong
        if (lead == 0xED) high = 0x9F;  // surrogates
    } else if (lead >= 0xF0 && lead <= 0xF4) {
        length = 4;
        if (lead == 0xF0) low = 0x90;   // overlong
        if (lead == 0xF4) high = 0x8F;  // above U+10FFFF
    } else {
        return 0;
    }
    if (i + 1 >= s.size() || byte(i + 1) < low || byte(i + 1) > high) return 0;
    for (std::size_t k = i + 2; k < i + length; ++k)
        if (!continuation(k)) return 0;
    return length;
}

// What a byte needs inside a JSON string: nothing, an escape, or a UTF-8 check.
enum ByteClass : unsigned char { kPlain, kEscape, kHigh };
constexpr std::array<unsigned char, 256> kByteClass = [] {
    std::array<unsigned char, 256> table{};
    for (int c = 0; c < 256; ++c) table[c] = c < 0x20 || c == '"' || c == '\\' ? kEscape : c >= 0x80 ? kHigh : kPlain;
    return table;
}();

// Writes a JSON line into a string grown once to a bound of the line's size: no capacity check
// per character on the request path.
class JsonWriter {
public:
    JsonWriter(std::string& out, std::size_t bound) : out_(out), start_(out.size()) {
        out_.resize(start_ + bound);
        at_ = out_.data() + start_;
    }
    void finish() { out_.resize(static_cast<std::size_t>(at_ - out_.data())); }

    void raw(std::string_view text) {
        std::memcpy(at_, text.data(), text.size());
        at_ += text.size();
    }
    void put(char c) { *at_++ = c; }
    void number(std::uint64_t value) { at_ = std::to_chars(at_, at_ + 20, value).ptr; }
    void time(std::chrono::system_clock::time_point when) { at_ = formatRfc3339(at_, when); }
    // Milliseconds with three decimals: "12.345".
    void millis(std::chrono::nanoseconds duration) {
        const auto micros = static_cast<std::uint64_t>(std::max<std::int64_t>(0, duration.count() / 1000));
        number(micros / 1000);
        const auto rest = micros % 1000;
        put('.');
        put(static_cast<char>('0' + rest / 100));
        put(static_cast<char>('0' + rest / 10 % 10));
        put(static_cast<char>('0' + rest % 10));
    }
    void string(std::string_view s) {
        put('"');
        for (std::size_t i = 0; i < s.size();) {
            const std::size_t plain = plainRun(s.substr(i));
            raw(s.substr(i, plain));
            i += plain;
            if (i == s.size()) break;
            const auto c = static_cast<unsigned char>(s[i]);  // not plain: escaped, or UTF-8
            if (kByteClass[c] == kHigh) {
                if (const std::size_t n = utf8Sequence(s, i); n > 0) {
                    raw(s.substr(i, n));
                    i += n;
                    continue;
                }
            }
            put('\\');
            if (c == '"' || c == '\\') {
                put(static_cast<char>(c));
            } else if (c == '\n') {
                put('n');
            } else if (c == '\r') {
                put('r');
            } else if (c == '\t') {
                put('t');
            } else {
                raw("u00");
                put(kHex[c >> 4]);
                put(kHex[c & 0xF]);
            }
            ++i;
        }
        put('"');
    }
    void stringOrNull(std::string_view s) {
        if (s.empty())
            raw("null");
        else
            string(s);
    }

    // How many bytes at the start of `s` go into a JSON string as they are (printable ASCII
    // but `"` and `\`): 16 at a time where SSE2 is there (x86-64 always has it).
    static std::size_t plainRun(std::string_view s) {
        std::size_t n = 0;
#if defined(__SSE2__)
        const __m128i below_space = _mm_set1_epi8(0x20);
        const __m128i quote = _mm_set1_epi8('"');
        const __m128i backslash = _mm_set1_epi8('\\');
        for (; n + 16 <= s.size(); n += 16) {
            const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s.data() + n));
            // Signed: bytes of 0x80 and above are negative, so "below 0x20" takes them too.
            const __m128i special = _mm_or_si128(_mm_cmplt_epi8(bytes, below_space),
                                                 _mm_or_si128(_mm_cmpeq_epi8(bytes, quote),
                                                              _mm_cmpeq_epi8(bytes, backslash)));
            if (const int mask = _mm_movemask_epi8(special); mask != 0) return n + static_cast<std::size_t>(__builtin_ctz(static_cast<unsigned>(mask)));
        }
#endif
        while (n < s.size() && kByteClass[static_cast<unsigned char>(s[n])] == kPlain) ++n;
        return n;
    }

    // The most a string value of `size` bytes takes (every byte \u00XX, quotes).
    static constexpr std::size_t bound(std::size_t size) { return 6 * size + 2; }

private:
    std::string& out_;
    std::size_t start_;
    char* at_ = nullptr;
};

std::string_view protocolName(unsigned http_version) {
    switch (http_version) {
        case 10: return "HTTP/1.0";
        case 20: return "HTTP/2.0";
        default: return "HTTP/1.1";
    }
}

// NGINX's escaping of a logged variable: `"`, `\` and bytes outside printable ASCII as \xXX.
void appendCommonLogText(std::string& out, std::string_view s) {
    for (const char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        if (c >= 0x20 && c < 0x7F && c != '"' && c != '\\') {
            out += ch;
        } else {
            const char escaped[] = {'\\', 'x', kHex[c >> 4], kHex[c & 0xF]};
            out.append(escaped, sizeof escaped);
        }
    }
}

void appendQuotedOrDash(std::string& out, std::string_view s) {
    out += '"';
    if (s.empty())
        out += '-';
    else
        appendCommonLogText(out, s);
    out += '"';
}

// The most a line of `record` takes with `fields` keys: every text escaped six-fold, once.
std::size_t lineBound(const AccessRecord& r, std::size_t fields) {
    const std::size_t text = r.client_ip.size() + r.method.size() + r.path.size() + r.host.size() + r.route.size() +
                             r.cluster.size() + r.upstream.size() + r.version.size() + r.request_id.size() +
                             r.traceparent.size() + r.tls_version.size() + r.sni.size() + r.user_agent.size() +
                             r.referer.size();
    constexpr std::size_t kPerField = 64;  // its key, quotes or null, a time or a number
    return JsonWriter::bound(text) + kPerField * fields + 3;
}

void writeField(JsonWriter& out, const AccessRecord& r, AccessField field) {
    switch (field) {
        case AccessField::Time:
            out.put('"');
            out.time(r.time);
            out.put('"');
            return;
        case AccessField::ClientIp: return out.stringOrNull(r.client_ip);
        case AccessField::Method: return out.stringOrNull(r.method);
        case AccessField::Path: return out.stringOrNull(r.path);
        case AccessField::Protocol:
            if (r.method.empty()) return out.raw("null");
            return out.string(protocolName(r.http_version));
        case AccessField::Host: return out.stringOrNull(r.host);
        case AccessField::Status: return out.number(r.status);
        case AccessField::BytesSent: return out.number(r.bytes_sent);
        case AccessField::DurationMs: return out.millis(r.duration);
        case AccessField::Route: return out.stringOrNull(r.route);
        case AccessField::Cluster: return out.stringOrNull(r.cluster);
        case AccessField::Upstream: return out.stringOrNull(r.upstream);
        case AccessField::UpstreamMs:
            if (r.upstream_time) return out.millis(*r.upstream_time);
            return out.raw("null");
        case AccessField::Attempts: return out.number(r.attempts);
        case AccessField::Version: return out.stringOrNull(r.version);
        case AccessField::RequestId: return out.stringOrNull(r.request_id);
        case AccessField::Traceparent: return out.stringOrNull(r.traceparent);
        case AccessField::TlsVersion: return out.stringOrNull(r.tls_version);
        case AccessField::Sni: return out.stringOrNull(r.sni);
        case AccessField::UserAgent: return out.stringOrNull(r.user_agent);
        case AccessField::Referer: return out.stringOrNull(r.referer);
    }
    out.raw("null");
}

}  // namespace

void appendJsonLine(std::string& out, const AccessRecord& record, std::span<const AccessField> fields) {
    // ,"name": of each field, made once.
    static const auto kKeys = [] {
        std::array<std::string, kAccessFieldNames.size()> keys;
        for (const auto& [name, field] : kAccessFieldNames)
            keys[static_cast<std::size_t>(field)] = ",\"" + std::string(name) + "\":";
        return keys;
    }();
    JsonWriter writer(out, lineBound(record, fields.size()));
    writer.put('{');
    bool first = true;
    for (const AccessField field : fields) {
        const std::string_view key = kKeys[static_cast<std::size_t>(field)];
        writer.raw(first ? key.substr(1) : key);
        first = false;
        writeField(writer, record, field);
    }
    writer.raw("}\n");
    writer.finish();
}

void appendCombinedLine(std::string& out, const AccessRecord& r) {
    out += r.client_ip.empty() ? std::string_view("-") : r.client_ip;
    out += " - - [";
    appendCommonLogTime(out, r.time);
    out += "] \"";
    if (r.method.empty()) {
        out += '-';
    } else {
        appendCommonLogText(out, r.method);
        out += ' ';
        appendCommonLogText(out, r.path);
        out += ' ';
        out += protocolName(r.http_version);
    }
    out += "\" ";
    appendUnsigned(out, r.status);
    out += ' ';
    appendUnsigned(out, r.bytes_sent);
    out += ' ';
    appendQuotedOrDash(out, r.referer);
    out += ' ';
    appendQuotedOrDash(out, r.user_agent);
    out += ' ';
    appendQuotedOrDash(out, r.version);
    out += '\n';
}

}  // namespace hotgate
