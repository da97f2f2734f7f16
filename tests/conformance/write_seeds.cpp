// write_seeds DIR: writes the bytes each conformance case sends as one file a case into DIR: the
// request path fuzzer's seed corpus.
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "corpus.h"

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    std::vector<std::string> errors;
    const auto cases = hotgate::test::loadCorpus(HOTGATE_CONFORMANCE_DIR, errors);
    for (const auto& e : errors) std::fprintf(stderr, "%s\n", e.c_str());
    if (!errors.empty()) return 1;
    int written = 0;
    for (const auto& c : cases) {
        if (c.send.empty()) continue;  // response cases send the default request
        std::ofstream(std::string(argv[1]) + "/" + c.name, std::ios::binary) << c.send;
        ++written;
    }
    std::printf("%d seeds from %zu conformance cases\n", written, cases.size());
    return written > 0 ? 0 : 1;
}
