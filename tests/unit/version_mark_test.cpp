// VersionMark (health/version_mark.h): encoding and decoding the version mark, setting and
// reading it on a real socket, and the rule that nothing else in the gateway sets a receive
// timeout: the gateway's sources (userspace/, bpf/) are scanned, comments and string literals
// aside, for any SO_RCVTIMEO outside version_mark.cpp.
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/unique_fd.h"
#include "health/version_mark.h"

namespace hotgate::health {
namespace {

constexpr std::uint64_t kBase = HEALTH_MARK_SECONDS + 7 * HEALTH_MARK_CODES;

TEST(VersionMark, EveryCodeRoundTrips) {
    for (std::uint32_t slot = 0; slot < HEALTH_SLOTS; ++slot)
        for (std::uint32_t index = 0; index < HEALTH_MAX_INDEX; ++index) {
            auto mark = VersionMark::make(kBase, slot, index);
            ASSERT_TRUE(mark) << mark.error().what();
            EXPECT_EQ(mark->seconds(), kBase + slot * HEALTH_MAX_INDEX + index);
            EXPECT_EQ(mark->timeout().tv_sec, static_cast<time_t>(mark->seconds()));
            EXPECT_EQ(mark->timeout().tv_usec, 0);
            auto decoded = VersionMark::decode(kBase, mark->seconds());
            ASSERT_TRUE(decoded) << "slot " << slot << " index " << index;
            EXPECT_EQ(*decoded, *mark);
        }
}

TEST(VersionMark, OutOfRangeIsRefusedByName) {
    auto slot = VersionMark::make(kBase, HEALTH_SLOTS, 0);
    ASSERT_FALSE(slot);
    EXPECT_NE(slot.error().what().find("health slot " + std::to_string(HEALTH_SLOTS)), std::string::npos)
        << slot.error().what();
    auto index = VersionMark::make(kBase, 0, HEALTH_MAX_INDEX);
    ASSERT_FALSE(index);
    EXPECT_NE(index.error().what().find("listener index " + std::to_string(HEALTH_MAX_INDEX)), std::string::npos)
        << index.error().what();
    auto base = VersionMark::make(HEALTH_MARK_SECONDS - 1, 0, 0);
    ASSERT_FALSE(base);
    EXPECT_NE(base.error().what().find("no version-mark base"), std::string::npos) << base.error().what();
}

// Another pin set's marks (another base), no mark at all, and ordinary timeouts never decode.
TEST(VersionMark, ForeignTimeoutsDoNotDecode) {
    EXPECT_FALSE(VersionMark::decode(kBase, 0));
    EXPECT_FALSE(VersionMark::decode(kBase, 5));
    EXPECT_FALSE(VersionMark::decode(kBase, kBase - 1));
    EXPECT_FALSE(VersionMark::decode(kBase, kBase + HEALTH_MARK_CODES));
    const std::uint64_t other_base = kBase + HEALTH_MARK_CODES;
    auto theirs = VersionMark::make(other_base, 1, 2);
    ASSERT_TRUE(theirs);
    EXPECT_FALSE(VersionMark::decode(kBase, theirs->seconds())) << "another gateway's mark decoded as ours";
    EXPECT_TRUE(VersionMark::decode(other_base, theirs->seconds()));
    EXPECT_FALSE(VersionMark::decode(HEALTH_MARK_SECONDS - 1, HEALTH_MARK_SECONDS)) << "a base below the marks";
}

TEST(VersionMark, SetOnASocketReadsBack) {
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    ASSERT_TRUE(fd) << std::strerror(errno);
    auto unmarked = VersionMark::readFrom(fd.get(), kBase);
    ASSERT_TRUE(unmarked) << unmarked.error().what();
    EXPECT_FALSE(*unmarked) << "a fresh socket carries no mark";

    auto mark = VersionMark::make(kBase, 2, 17);
    ASSERT_TRUE(mark);
    ASSERT_TRUE(mark->applyTo(fd.get()));
    auto read = VersionMark::readFrom(fd.get(), kBase);
    ASSERT_TRUE(read) << read.error().what();
    ASSERT_TRUE(*read);
    EXPECT_EQ(**read, *mark);

    UniqueFd not_a_socket(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    auto refused = mark->applyTo(not_a_socket.get());
    ASSERT_FALSE(refused);
    EXPECT_NE(refused.error().what().find("listening fd " + std::to_string(not_a_socket.get())), std::string::npos)
        << refused.error().what();
    EXPECT_EQ(refused.error().errnum, ENOTSOCK);
}

TEST(VersionMark, KernelHzIsAWholeNumberOfJiffiesPerSecond) {
    auto hz = VersionMark::measureKernelHz();
    ASSERT_TRUE(hz) << hz.error().what();
    EXPECT_GE(*hz, 100u);
    EXPECT_LE(*hz, 1000u);
}

TEST(VersionMark, NewBasesAreMarkBases) {
    for (int i = 0; i < 100; ++i) {
        const std::uint64_t base = VersionMark::newBase();
        EXPECT_GE(base, HEALTH_MARK_SECONDS);
        EXPECT_EQ((base - HEALTH_MARK_SECONDS) % HEALTH_MARK_CODES, 0u);
        EXPECT_LT(base + HEALTH_MARK_CODES, std::uint64_t{1} << 31) << "marks must stay below 2^31 s";
    }
}

// The source text of a C or C++ file without its comments and the contents of its string and
// character literals, so that only code remains.
std::string codeOnly(const std::string& text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text.compare(i, 2, "//") == 0) {
            i = text.find('\n', i);
            if (i == std::string::npos) break;
            out += '\n';
        } else if (text.compare(i, 2, "/*") == 0) {
            i = text.find("*/", i + 2);
            if (i == std::string::npos) break;
            ++i;
            out += ' ';
        } else if (text[i] == '"' || text[i] == '\'') {
            const char quote = text[i];
            out += quote;
            for (++i; i < text.size() && text[i] != quote; ++i)
                if (text[i] == '\\') ++i;
            out += quote;
        } else {
            out += text[i];
        }
    }
    return out;
}

// Every way code can name a receive timeout: the constant and its _OLD/_NEW variants, or the
// raw option numbers (20, 66) at SOL_SOCKET.
bool setsReceiveTimeout(const std::string& code) {
    static const std::regex kReceiveTimeout(R"(\bSO_RCVTIMEO\w*\b|\bSOL_SOCKET\s*,\s*(20|66)\b)");
    return std::regex_search(code, kReceiveTimeout);
}

TEST(VersionMark, TheScanSeesCodeNotComments) {
    EXPECT_TRUE(setsReceiveTimeout(codeOnly("::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));")));
    EXPECT_TRUE(setsReceiveTimeout(codeOnly("setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO_NEW, &t, sizeof t);")));
    EXPECT_TRUE(setsReceiveTimeout(codeOnly("setsockopt(fd, SOL_SOCKET,20, &tv, sizeof tv);")));
    EXPECT_TRUE(setsReceiveTimeout(codeOnly("asio::detail::socket_option::integer<SOL_SOCKET, SO_RCVTIMEO> t;")));
    EXPECT_FALSE(setsReceiveTimeout(codeOnly("// the mark is the receive timeout (SO_RCVTIMEO)\nint x;")));
    EXPECT_FALSE(setsReceiveTimeout(codeOnly("/* SO_RCVTIMEO\n */ int y;")));
    EXPECT_FALSE(setsReceiveTimeout(codeOnly("fail(\"mark fd (SO_RCVTIMEO)\");")));
    EXPECT_FALSE(setsReceiveTimeout(codeOnly("setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);")));
}

// The gateway's receive timeouts are version marks, and only VersionMark sets them: a socket
// given another timeout would be mistaken for (or hide) a version's connections, and a raw
// setsockopt would bypass the range checks. Add a receive timeout anywhere else and this fails.
TEST(VersionMark, NoOtherGatewayCodeSetsAReceiveTimeout) {
    const std::filesystem::path source(HOTGATE_SOURCE_DIR);
    const std::filesystem::path allowed = source / "userspace" / "health" / "version_mark.cpp";
    std::vector<std::string> offenders;
    std::size_t scanned = 0;
    for (const char* tree : {"userspace", "bpf"}) {
        for (const auto& entry : std::filesystem::recursive_directory_iterator(source / tree)) {
            const auto ext = entry.path().extension().string();
            if (!entry.is_regular_file() || (ext != ".cpp" && ext != ".h" && ext != ".c" && ext != ".in")) continue;
            ++scanned;
            std::ifstream in(entry.path());
            std::stringstream text;
            text << in.rdbuf();
            if (entry.path() != allowed && setsReceiveTimeout(codeOnly(text.str())))
                offenders.push_back(std::filesystem::relative(entry.path(), source).string());
        }
    }
    EXPECT_GT(scanned, 50u) << "the scan found too few sources under " << source;
    std::string list;
    for (const auto& o : offenders) list += "\n  " + o;
    EXPECT_TRUE(offenders.empty()) << "SO_RCVTIMEO outside health/version_mark.cpp (use VersionMark):" << list;
    std::ifstream in(allowed);
    std::stringstream text;
    text << in.rdbuf();
    EXPECT_TRUE(setsReceiveTimeout(codeOnly(text.str()))) << "the scan no longer recognises VersionMark's own setsockopt";
}

}  // namespace
}  // namespace hotgate::health
