#include "config/schema/schema.h"

#include "config/schema/reader.h"
#include "config/schema/tables.h"

namespace hotgate::schema {

void readConfig(Reader& reader, const YAML::Node& root, Config& config) {
    if (!root.IsMap()) {
        reader.problem(root, "", "the config must be a mapping at the top level");
        return;
    }
    std::vector<std::string_view> keys;
    for (const auto& section : sections()) keys.push_back(section.row.key);
    reader.checkKeys(root, "", keys);
    for (const auto& section : sections()) section.row.read(reader, root, "", config);
    reader.finish(config);
}

CanonicalForm canonicalForm(const Config& config) {
    CanonicalWriter writer;
    for (const auto& section : sections()) {
        writer.beginSection(section.id);
        section.row.write(writer, "", config);
    }
    return std::move(writer.form);
}

}  // namespace hotgate::schema
