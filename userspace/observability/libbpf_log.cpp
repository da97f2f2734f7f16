#include "observability/libbpf_log.h"

#include <bpf/libbpf.h>

#include <cstdio>
#include <string>

#include "observability/logging.h"

namespace hotgate::log {
namespace {

int forward(enum libbpf_print_level level, const char* format, va_list args) {
    if (level == LIBBPF_DEBUG) return 0;  // verifier chatter: too much even for our debug level
    char text[1024];
    const int n = std::vsnprintf(text, sizeof text, format, args);
    std::string line(text, n > 0 ? std::min<std::size_t>(static_cast<std::size_t>(n), sizeof text - 1) : 0);
    while (!line.empty() && line.back() == '\n') line.pop_back();
    debug("libbpf: ", line);
    return n;
}

}  // namespace

void routeLibbpfMessages() { libbpf_set_print(forward); }

}  // namespace hotgate::log
