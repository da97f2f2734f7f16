// An OTLP/HTTP endpoint URL taken apart; also what the config schema checks
// telemetry.otlp.endpoint with (so it needs nothing but the standard library).
#pragma once

#include <string>
#include <string_view>

#include "common/error.h"

namespace hotgate::telemetry {

// Where to POST: "http://host[:port][/path]" taken apart. The port defaults to 80 and the
// path to "/"; an IPv6 host is written in brackets ("http://[::1]:4318/v1/traces").
struct HttpEndpoint {
    std::string host;    // without brackets
    std::string port;    // decimal
    std::string target;  // "/v1/traces"
    std::string url;     // as given, for messages
};

// Fails, saying why, for another scheme (https is not supported), an empty host, a port that
// is not 1..65535, or a query or fragment.
Result<HttpEndpoint> parseHttpEndpoint(std::string_view url);

}  // namespace hotgate::telemetry
