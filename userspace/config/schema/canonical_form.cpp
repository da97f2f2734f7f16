#include "config/schema/canonical_form.h"

namespace hotgate::schema {

std::string CanonicalForm::text() const {
    std::string out;
    for (const auto& line : lines) {
        if (!line.in_text) continue;
        out += line.path;
        out += line.set_member ? " += " : " = ";
        out += line.value;
        out += '\n';
    }
    return out;
}

void CanonicalWriter::beginSection(ConfigSection section) {
    section_ = section;
    entry_.clear();
}

void CanonicalWriter::beginEntry(const std::string& path, const std::string& name, Applies applies) {
    entry_ = name;
    form.entries[{section_, name}] = CanonicalEntry{path, applies};
}

void CanonicalWriter::endEntry() { entry_.clear(); }

void CanonicalWriter::value(const std::string& path, std::string value, Applies applies, bool in_text) {
    form.lines.push_back({section_, entry_, path, std::move(value), false, applies, in_text});
}

void CanonicalWriter::member(const std::string& path, std::string member, Applies applies) {
    form.lines.push_back({section_, entry_, path, std::move(member), true, applies, true});
}

std::string quoted(std::string_view text) {
    static const char* kHex = "0123456789abcdef";
    std::string out = "\"";
    for (const unsigned char c : text) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c == '\n') {
            out += "\\n";
        } else if (c < 0x20 || c >= 0x7f) {
            out += "\\x";
            out += kHex[c >> 4];
            out += kHex[c & 0xf];
        } else {
            out += static_cast<char>(c);
        }
    }
    return out + "\"";
}

}  // namespace hotgate::schema
