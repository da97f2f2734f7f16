#include "corpus.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

namespace hotgate::test {
namespace {

// What hotgate appends for a client on 127.0.0.1 of a plain listener (RFC 7239 quotes a host
// that is not a token, e.g. "x:8080").
std::string forwardingFields(const std::string& host) {
    static const std::string kTokenChars =
        "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    const bool token = !host.empty() && host.find_first_not_of(kTokenChars) == std::string::npos;
    return "X-Forwarded-For: 127.0.0.1\r\nForwarded: for=127.0.0.1;proto=http;host=" +
           (token ? host : "\"" + host + "\"") + "\r\nX-Forwarded-Proto: http\r\nX-Forwarded-Host: " + host +
           "\r\nX-Request-Id: {id}\r\n";
}

int hexValue(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

}  // namespace

std::optional<std::string> expandText(const std::string& text, std::string* error) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (c == '{') {
            const auto close = text.find('}', i);
            if (close == std::string::npos) {
                *error = "unclosed {";
                return std::nullopt;
            }
            const std::string name = text.substr(i + 1, close - i - 1);
            if (name == "fwd") {
                out += forwardingFields("x");
            } else if (name.rfind("fwd:", 0) == 0) {
                out += forwardingFields(name.substr(4));
            } else if (name == "id" || name == "upstream") {
                out += "{" + name + "}";  // filled in by the runner
            } else if (name.rfind("repeat:", 0) == 0) {
                const auto colon = name.find(':', 7);
                if (colon == std::string::npos || colon + 2 != name.size()) {
                    *error = "{repeat:N:C} takes a count and one character";
                    return std::nullopt;
                }
                out.append(std::stoul(name.substr(7, colon - 7)), name.back());
            } else {
                *error = "unknown placeholder {" + name + "}";
                return std::nullopt;
            }
            i = close;
            continue;
        }
        if (c != '\\') {
            out += c;
            continue;
        }
        if (++i >= text.size()) {
            *error = "a lone backslash at the end";
            return std::nullopt;
        }
        switch (text[i]) {
            case 'r': out += '\r'; break;
            case 'n': out += '\n'; break;
            case 't': out += '\t'; break;
            case '0': out += '\0'; break;
            case '\\': out += '\\'; break;
            case '{': out += '{'; break;
            case 'x': {
                const int high = i + 1 < text.size() ? hexValue(text[i + 1]) : -1;
                const int low = i + 2 < text.size() ? hexValue(text[i + 2]) : -1;
                if (high < 0 || low < 0) {
                    *error = "\\x needs two hex digits";
                    return std::nullopt;
                }
                out += static_cast<char>(high * 16 + low);
                i += 2;
                break;
            }
            default: *error = std::string("unknown escape \\") + text[i]; return std::nullopt;
        }
    }
    return out;
}

std::vector<ConformanceCase> loadCorpus(const std::string& directory, std::vector<std::string>& errors) {
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(directory))
        if (entry.path().extension() == ".cases") files.push_back(entry.path());
    std::sort(files.begin(), files.end());
    std::vector<ConformanceCase> cases;
    for (const auto& path : files) {
        std::ifstream in(path);
        std::string line;
        int number = 0;
        const std::string file = path.filename().string();
        auto fail = [&](const std::string& why) { errors.push_back(file + ":" + std::to_string(number) + ": " + why); };
        while (std::getline(in, line)) {
            ++number;
            if (line.empty() || line.front() == '#') continue;
            const auto space = line.find(' ');
            const std::string directive = line.substr(0, space);
            const std::string rest = space == std::string::npos ? "" : line.substr(space + 1);
            if (directive == "case") {
                ConformanceCase c;
                c.file = file;
                c.line = number;
                c.name = rest;
                cases.push_back(std::move(c));
                continue;
            }
            if (cases.empty() || cases.back().file != file) {
                fail("'" + directive + "' before the first case");
                continue;
            }
            auto& c = cases.back();
            std::string error;
            auto text = [&]() -> std::string {
                auto expanded = expandText(rest, &error);
                if (!expanded) fail(error);
                return expanded.value_or("");
            };
            if (directive == "send") {
                c.send += text();
            } else if (directive == "expect") {
                std::istringstream words(rest);
                std::string closes;
                words >> c.status >> closes;
                if (c.status < 100 || c.status > 599 || (closes != "close" && closes != "keep"))
                    fail("expect takes a status and close|keep");
                c.closes = closes == "close";
            } else if (directive == "upstream") {
                if (rest == "none") {
                    c.upstream.reset();
                } else {
                    c.upstream = c.upstream.value_or("") + text();
                }
            } else if (directive == "reply" || directive == "reply-close") {
                c.reply = c.reply.value_or("") + text();
                c.reply_closes = directive == "reply-close";
            } else if (directive == "client-body") {
                c.client_body = c.client_body.value_or("") + text();
            } else if (directive == "client-has") {
                c.client_has.push_back(rest);
            } else if (directive == "client-lacks") {
                c.client_lacks.push_back(rest);
            } else if (directive == "interim") {
                c.interim = std::stoi(rest);
            } else if (directive == "nopipe") {
                c.pipeline = false;
            } else if (directive == "head") {
                c.head = true;
            } else {
                fail("unknown directive '" + directive + "'");
            }
        }
    }
    for (const auto& c : cases)
        if (c.status == 0) errors.push_back(c.file + ":" + std::to_string(c.line) + ": case " + c.name + " has no expect");
    return cases;
}

std::string withRequestIdsMasked(std::string bytes) {
    static const std::regex uuid("X-Request-Id: [0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\r\n");
    return std::regex_replace(bytes, uuid, "X-Request-Id: {id}\r\n");
}

}  // namespace hotgate::test
