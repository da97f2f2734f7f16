#include "proxy/http1_head.h"

#include <array>

namespace hotgate::http1 {
namespace {

constexpr std::string_view kOws = " \t";

constexpr std::array<bool, 256> makeTokenTable() {
    std::array<bool, 256> table{};
    for (int c = '0'; c <= '9'; ++c) table[c] = true;
    for (int c = 'a'; c <= 'z'; ++c) table[c] = true;
    for (int c = 'A'; c <= 'Z'; ++c) table[c] = true;
    for (char c : std::string_view("!#$%&'*+-.^_`|~")) table[static_cast<unsigned char>(c)] = true;
    return table;
}
constexpr auto kTokenChar = makeTokenTable();

bool isDigit(char c) { return c >= '0' && c <= '9'; }
bool isHexDigit(char c) { return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
bool isAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
// VCHAR / obs-text: what may appear in a field value or reason phrase besides SP and HTAB.
bool isVisibleOrObsText(unsigned char c) { return (c > 0x20 && c < 0x7f) || c >= 0x80; }

// field-value bytes (RFC 9110 5.5): VCHAR, obs-text, SP, HTAB.
constexpr std::array<bool, 256> makeValueTable() {
    std::array<bool, 256> table{};
    for (int c = 0x21; c < 0x7f; ++c) table[c] = true;
    for (int c = 0x80; c < 0x100; ++c) table[c] = true;
    table[' '] = table['\t'] = true;
    return table;
}
constexpr auto kValueChar = makeValueTable();

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

FramingError refuse(Direction direction, std::string reason) {
    return {direction == Direction::Request ? 400u : 502u, std::move(reason)};
}

std::string_view headName(Direction direction) { return direction == Direction::Request ? "request" : "response"; }

// A NUL or a CR that is not part of a line end, named as such (the lines handed to the checks
// below end before their CRLF, so any CR in them is a bare one).
std::optional<FramingError> nulOrBareCr(std::string_view text, Direction direction) {
    for (char c : text) {
        if (c == '\0') return refuse(direction, "NUL byte in " + std::string(headName(direction)) + " header");
        if (c == '\r') return refuse(direction, "bare CR in " + std::string(headName(direction)) + " header");
    }
    return std::nullopt;
}

// "HTTP/1.1" -> 11. nullopt when it is not HTTP-version syntax; the caller decides whether a
// well-formed version other than 1.0 and 1.1 is supported.
std::optional<unsigned> parseVersion(std::string_view text) {
    if (text.size() != 8 || text.substr(0, 5) != "HTTP/" || !isDigit(text[5]) || text[6] != '.' || !isDigit(text[7]))
        return std::nullopt;
    return static_cast<unsigned>((text[5] - '0') * 10 + (text[7] - '0'));
}

bool isUnreservedOrSubDelim(char c) {
    return isAlpha(c) || isDigit(c) || std::string_view("-._~!$&'()*+,;=").find(c) != std::string_view::npos;
}

std::optional<FramingError> checkRequestLine(std::string_view line, HeadFacts& facts) {
    for (unsigned char c : line)
        if (c < 0x20 || c == 0x7f) {
            if (auto named = nulOrBareCr(line, Direction::Request)) return named;
            break;  // another control byte: the part it is in says what is wrong
        }
    const auto first_space = line.find(' ');
    const auto last_space = line.rfind(' ');
    if (first_space == std::string_view::npos || first_space == last_space ||
        line.find(' ', first_space + 1) != last_space)
        return FramingError{400, "malformed request line (method SP target SP version)"};
    const auto method = line.substr(0, first_space);
    const auto target = line.substr(first_space + 1, last_space - first_space - 1);
    const auto version_text = line.substr(last_space + 1);
    if (method.empty() || !isToken(method)) return FramingError{400, "malformed method \"" + printable(method) + "\""};
    const auto version = parseVersion(version_text);
    if (!version) return FramingError{400, "malformed HTTP version \"" + printable(version_text) + "\""};
    if (*version != 10 && *version != 11)
        return FramingError{505, "HTTP version " + std::string(version_text) + " is not supported"};
    if (target.empty()) return FramingError{400, "empty request-target"};
    for (unsigned char c : target) {
        if (c <= 0x20 || c >= 0x7f) return FramingError{400, "invalid byte in request-target \"" + printable(target) + "\""};
        if (c == '#') return FramingError{400, "fragment in request-target"};
    }
    facts.version = *version;
    facts.method = method;
    facts.target = target;
    if (method == "CONNECT") return FramingError{501, "CONNECT is not supported"};
    if (target == "*") {
        if (method != "OPTIONS") return FramingError{400, "asterisk-form request-target with a method other than OPTIONS"};
        return std::nullopt;
    }
    if (target.front() == '/') return std::nullopt;
    if (!absoluteFormParts(target)) return FramingError{400, "malformed request-target \"" + printable(target) + "\""};
    return std::nullopt;
}

std::optional<FramingError> checkStatusLine(std::string_view line, HeadFacts& facts) {
    // HTTP-version SP 3DIGIT SP reason-phrase (which may be empty).
    if (auto named = nulOrBareCr(line, Direction::Response)) return named;
    const auto version = parseVersion(line.substr(0, 8));
    if (!version || (*version != 10 && *version != 11))
        return FramingError{502, "malformed or unsupported status line \"" + printable(line) + "\""};
    if (line.size() < 12 || line[8] != ' ' || !isDigit(line[9]) || !isDigit(line[10]) || !isDigit(line[11]))
        return FramingError{502, "malformed status line \"" + printable(line) + "\""};
    const unsigned code = static_cast<unsigned>((line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0'));
    if (code < 100 || code > 599) return FramingError{502, "status code " + std::to_string(code) + " out of range"};
    if (line.size() < 13 || line[12] != ' ')
        return FramingError{502, "malformed status line \"" + printable(line) + "\" (no space after the code)"};
    for (unsigned char c : line.substr(13))
        if (c != '\t' && c != ' ' && !isVisibleOrObsText(c)) return FramingError{502, "control byte in reason phrase"};
    facts.version = *version;
    facts.status = code;
    return std::nullopt;
}

std::optional<FramingError> checkFieldLine(std::string_view line, Direction direction, HeadFacts& facts) {
    if (line.front() == ' ' || line.front() == '\t') return refuse(direction, "obsolete line folding in header");
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) {
        if (auto named = nulOrBareCr(line, direction)) return named;
        return refuse(direction, "header line without a colon");
    }
    const auto name = line.substr(0, colon);
    if (name.empty()) return refuse(direction, "empty header name");
    if (name.back() == ' ' || name.back() == '\t')
        return refuse(direction, "white space between header name and colon");
    if (!isToken(name)) {
        if (auto named = nulOrBareCr(name, direction)) return named;
        return refuse(direction, "invalid header name \"" + printable(name) + "\"");
    }
    for (unsigned char c : line.substr(colon + 1))
        if (!kValueChar[c]) {
            if (auto named = nulOrBareCr(line.substr(colon + 1), direction)) return named;
            return refuse(direction, "control byte in the value of " + std::string(name));
        }
    const auto value = trimOws(line.substr(colon + 1));
    if (iequals(name, "content-length")) {
        facts.content_length.push_back(value);
    } else if (iequals(name, "transfer-encoding")) {
        facts.transfer_encoding.push_back(value);
    } else if (iequals(name, "host")) {
        facts.host.push_back(value);
    } else if (iequals(name, "connection")) {
        facts.connection.push_back(value);
    }
    return std::nullopt;
}

}  // namespace

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (lower(a[i]) != lower(b[i])) return false;
    return true;
}

std::string_view trimOws(std::string_view text) {
    const auto first = text.find_first_not_of(kOws);
    if (first == std::string_view::npos) return {};
    const auto last = text.find_last_not_of(kOws);
    return text.substr(first, last - first + 1);
}

std::string printable(std::string_view text) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (unsigned char c : text.substr(0, 64)) {
        if (c >= 0x20 && c < 0x7f) {
            out += static_cast<char>(c);
        } else {
            out += "\\x";
            out += kHex[c >> 4];
            out += kHex[c & 15];
        }
    }
    if (text.size() > 64) out += "...";
    return out;
}

// uri-host [ ":" port ] (RFC 9110 7.2): a reg-name, an IPv4 address or a bracketed IP literal.
bool isValidAuthority(std::string_view text) {
    std::string_view port;
    if (!text.empty() && text.front() == '[') {
        const auto close = text.find(']');
        if (close == std::string_view::npos || close == 1) return false;
        for (char c : text.substr(1, close - 1))
            if (!isHexDigit(c) && c != ':' && c != '.') return false;
        const auto rest = text.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':') return false;
            port = rest.substr(1);
        }
    } else {
        const auto colon = text.find(':');
        const auto host = text.substr(0, colon);
        if (host.empty()) return false;
        for (std::size_t i = 0; i < host.size(); ++i) {
            if (host[i] == '%') {
                if (i + 2 >= host.size() || !isHexDigit(host[i + 1]) || !isHexDigit(host[i + 2])) return false;
                i += 2;
            } else if (!isUnreservedOrSubDelim(host[i])) {
                return false;
            }
        }
        if (colon != std::string_view::npos) port = text.substr(colon + 1);
    }
    if (port.size() > 5) return false;
    for (char c : port)
        if (!isDigit(c)) return false;
    return true;
}

bool isToken(std::string_view name) {
    if (name.empty()) return false;
    for (unsigned char c : name)
        if (!kTokenChar[c]) return false;
    return true;
}

std::optional<std::uint64_t> parseContentLength(std::string_view text) {
    text = trimOws(text);
    if (text.empty()) return std::nullopt;
    std::uint64_t value = 0;
    for (char c : text) {
        if (!isDigit(c)) return std::nullopt;
        if (value > (std::uint64_t{1} << 59)) return std::nullopt;  // x10 would pass 2^63
        value = value * 10 + static_cast<unsigned>(c - '0');
    }
    return value;
}

std::optional<AbsoluteForm> absoluteFormParts(std::string_view target) {
    const auto scheme_end = target.find("://");
    if (scheme_end == std::string_view::npos) return std::nullopt;
    const auto scheme = target.substr(0, scheme_end);
    if (!iequals(scheme, "http") && !iequals(scheme, "https")) return std::nullopt;
    const auto rest = target.substr(scheme_end + 3);
    const auto path_start = rest.find_first_of("/?");
    const auto authority = rest.substr(0, path_start);
    // userinfo ("user@host") is deprecated for http(s) and a classic confusion: refused.
    if (authority.find('@') != std::string_view::npos || !isValidAuthority(authority)) return std::nullopt;
    AbsoluteForm parts{std::string(authority), "/"};
    if (path_start != std::string_view::npos) {
        parts.origin_form = rest.substr(path_start);
        if (parts.origin_form.front() == '?') parts.origin_form.insert(0, "/");
    }
    return parts;
}

std::size_t findHeaderEnd(std::string_view data) {
    for (std::size_t i = 0; i < data.size(); ++i) {
        if (data[i] != '\n') continue;
        if (i + 1 < data.size() && data[i + 1] == '\n') return i + 2;
        if (i + 2 < data.size() && data[i + 1] == '\r' && data[i + 2] == '\n') return i + 3;
    }
    return std::string_view::npos;
}

std::size_t leadingEmptyLines(std::string_view data) {
    std::size_t n = 0;
    while (data.substr(n, 2) == "\r\n") n += 2;
    return n;
}

std::optional<FramingError> scanHead(std::string_view block, Direction direction, HeadFacts& facts) {
    // One pass, line by line: every line must end in CRLF, and the checks of each part refuse
    // any byte their grammar does not allow (a bare CR or a NUL among them, named as such).
    std::size_t start = 0;
    bool start_line = true;
    while (start < block.size()) {
        const std::size_t lf = block.find('\n', start);
        if (lf == std::string_view::npos) break;
        if (lf == start || block[lf - 1] != '\r') {
            if (auto named = nulOrBareCr(block.substr(start, lf - start), direction)) return named;
            return refuse(direction, "bare LF in " + std::string(headName(direction)) + " header (CRLF required)");
        }
        const auto line = block.substr(start, lf - 1 - start);
        start = lf + 1;
        if (start_line) {
            start_line = false;
            auto problem = direction == Direction::Request ? checkRequestLine(line, facts) : checkStatusLine(line, facts);
            if (problem) return problem;
            continue;
        }
        if (line.empty()) {
            if (start == block.size()) return std::nullopt;
            break;
        }
        if (auto problem = checkFieldLine(line, direction, facts)) return problem;
    }
    return refuse(direction, "incomplete " + std::string(headName(direction)) + " header");
}

}  // namespace hotgate::http1
