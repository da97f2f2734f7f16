// The framing conformance corpus: table-driven cases read from tests/conformance/*.cases.
// The file format is described in tests/conformance/README.md.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace hotgate::test {

struct ConformanceCase {
    std::string file;
    int line = 0;  // where the case starts
    std::string name;
    std::string send;                      // raw bytes the client sends (escapes expanded)
    unsigned status = 0;                   // the first final response's status
    bool closes = false;                   // the connection closes after it
    std::optional<std::string> upstream;   // exact bytes the upstream receives; nullopt: nothing
    std::optional<std::string> reply;      // scripted upstream answer to the request
    bool reply_closes = false;             // the upstream closes after the scripted answer
    std::optional<std::string> client_body;  // the first final response's body, when given
    std::vector<std::string> client_has;     // header fields the client must see
    std::vector<std::string> client_lacks;   // and must not
    int interim = 0;                       // 1xx responses before the final one
    bool pipeline = true;                  // a clean request follows the case's bytes
    bool head = false;                     // the request is HEAD (the client's parser skips bodies)
};

// Expands the escapes of one TEXT field: \r \n \t \0 \\ \xHH, and the placeholders
// {fwd} / {fwd:HOST} (the forwarding fields hotgate adds, for Host "x" or HOST), {id} (a request
// id), {upstream} (the upstream's address, left for the runner) and {repeat:N:C} (N copies of C). nullopt with `error` on a malformed escape.
std::optional<std::string> expandText(const std::string& text, std::string* error);

// Every case of every *.cases file in `directory`, in file and line order; problems (unknown
// directive, malformed escape, case without expect) are returned in `errors` as file:line: why.
std::vector<ConformanceCase> loadCorpus(const std::string& directory, std::vector<std::string>& errors);

// `bytes` with every X-Request-Id value that is a version 4 UUID replaced by "{id}", the way
// expected bytes write it.
std::string withRequestIdsMasked(std::string bytes);

}  // namespace hotgate::test
