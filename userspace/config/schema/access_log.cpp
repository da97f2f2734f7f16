// access_log: where each answered request is logged, one line per sink (docs/operations.md
// "Access log"). Every key applies in place: a sink's file is opened before the snapshot that
// names it is published, and a file that cannot be opened refuses the config.
#include "config/access_fields.h"
#include "config/schema/tables.h"

namespace hotgate::schema {
namespace {

// The fields of the issue that asked for the log, in its order: what a payment SRE reads first.
constexpr std::string_view kDefaultFields =
    "[time, client_ip, method, path, status, bytes_sent, duration_ms, route, cluster, upstream, upstream_ms, "
    "attempts, version, request_id, traceparent, tls_version, sni]";

Choice<AccessField> fieldChoice() {
    Choice<AccessField> choice;
    for (const auto& [name, field] : kAccessFieldNames) choice.words.emplace_back(name, field);
    return choice;
}

void checkSink(Reader& reader, const YAML::Node& map, const std::string& path, const AccessLogConfig& sink) {
    if (sink.path != "-" && (sink.path.empty() || sink.path.front() != '/'))
        reader.problem(map, Reader::join(path, "path"),
                       "must be an absolute file path or \"-\" (standard output), got \"" + sink.path + "\"");
    if (sink.format == AccessLogFormat::Combined && Reader::child(map, "fields").IsDefined())
        reader.problem(map, Reader::join(path, "fields"),
                       "choose the keys of a json line; the combined format has a fixed layout");
}

Table<AccessLogConfig> sinkTable() {
    using enum Applies;
    Table<AccessLogConfig> table{{
        // key, member, type and bounds, default, applies, doc
        {"path", &AccessLogConfig::path, Text{}, kRequired, InPlace,
         "the file lines are appended to (created 0640 if absent), or \"-\" for standard output; "
         "reopened on SIGUSR1 and gwctl logs reopen (logrotate)"},
        {"format", &AccessLogConfig::format,
         Choice<AccessLogFormat>{{{"json", AccessLogFormat::Json}, {"combined", AccessLogFormat::Combined}}},
         Default::addedLater("json"), InPlace,
         "json: one object a line with `fields`; combined: NGINX/Apache combined, then the serving version "
         "in quotes"},
        {"fields", &AccessLogConfig::fields,
         ListOf<Choice<AccessField>>{
             .members = {.item = fieldChoice(), .noun = "field", .duplicates = Duplicates::Refused,
                         .at_least_one = true}},
         Default::addedLater(kDefaultFields), InPlace,
         "a json line's keys, in this order (also protocol, host, user_agent, referer); a value the request "
         "does not have is null"},
        {"sample", &AccessLogConfig::sample, Number{0, 1}, Default::addedLater("1"), InPlace,
         "share of requests logged, chosen at random; answers of 500 and above are always logged"},
    }};
    table.checks.push_back(checkSink);
    return table;
}

}  // namespace

Row<Config> accessLogRow() {
    Row<Config> row = list("access_log", &Config::access_log, sinkTable(), kEmpty, "",
                           "where each answered request is logged, one line per sink; absent: no access log. "
                           "Lines are written by a thread of their own: when the disk cannot keep up they are "
                           "dropped and counted (hotgate_access_log_lines_total), requests never wait",
                           ListShape::SequenceOrMapping);
    // Two sinks on one file would interleave two formats: refused.
    row.read = [read = row.read](Reader& reader, const YAML::Node& parent, const std::string& parent_path,
                                 Config& config) {
        const bool ok = read(reader, parent, parent_path, config);
        const auto& sinks = config.access_log;
        for (std::size_t i = 0; i < sinks.size(); ++i)
            for (std::size_t j = 0; j < i; ++j)
                if (sinks[i].path == sinks[j].path)
                    reader.problem(Reader::child(parent, "access_log"), "access_log[" + std::to_string(i) + "].path",
                                   "\"" + sinks[i].path + "\" is also access_log[" + std::to_string(j) +
                                       "]'s: one sink a file");
        return ok;
    };
    return row;
}

}  // namespace hotgate::schema
