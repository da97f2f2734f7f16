// W3C Trace Context traceparent: the spec's own examples parse to the ids and sampled flag it
// states, formatting round-trips, and each rule of the grammar refuses what it should, with
// the reason in the message.
#include "telemetry/traceparent.h"

#include <gtest/gtest.h>

#include <string>

namespace hotgate::telemetry {
namespace {

TEST(Traceparent, ParsesTheSpecExampleSampled) {
    // https://www.w3.org/TR/trace-context/#examples-of-http-traceparent-headers
    const auto parsed = parseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    ASSERT_TRUE(parsed) << parsed.error().message;
    EXPECT_EQ(toHex(parsed->trace_id), "4bf92f3577b34da6a3ce929d0e0e4736");
    EXPECT_EQ(toHex(parsed->parent_id), "00f067aa0ba902b7");
    EXPECT_TRUE(parsed->sampled);
}

TEST(Traceparent, ParsesTheSpecExampleNotSampled) {
    const auto parsed = parseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
    ASSERT_TRUE(parsed) << parsed.error().message;
    EXPECT_FALSE(parsed->sampled);
}

TEST(Traceparent, ParsesTheSpecHeaderExample) {
    // The example of the traceparent header section (version-format).
    const auto parsed = parseTraceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    ASSERT_TRUE(parsed) << parsed.error().message;
    EXPECT_EQ(toHex(parsed->trace_id), "0af7651916cd43dd8448eb211c80319c");
    EXPECT_EQ(toHex(parsed->parent_id), "b7ad6b7169203331");
    EXPECT_TRUE(parsed->sampled);
}

TEST(Traceparent, SampledIsBitZeroOfTheFlagsOnly) {
    // Other flag bits (e.g. Level 2's random-trace-id, 0x02) do not change sampling.
    const auto random_only = parseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-02");
    ASSERT_TRUE(random_only);
    EXPECT_FALSE(random_only->sampled);
    const auto both = parseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03");
    ASSERT_TRUE(both);
    EXPECT_TRUE(both->sampled);
}

TEST(Traceparent, FormatRoundTrips) {
    for (const std::string value : {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                                    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"}) {
        const auto parsed = parseTraceparent(value);
        ASSERT_TRUE(parsed) << value;
        EXPECT_EQ(formatTraceparent(*parsed), value);
    }
}

TEST(Traceparent, FormatsFreshIdsThatParseBack) {
    const TraceContext context{randomTraceId(), randomSpanId(), true};
    const std::string value = formatTraceparent(context);
    EXPECT_EQ(value.size(), 55u);
    const auto parsed = parseTraceparent(value);
    ASSERT_TRUE(parsed) << parsed.error().message;
    EXPECT_EQ(parsed->trace_id, context.trace_id);
    EXPECT_EQ(parsed->parent_id, context.parent_id);
    EXPECT_TRUE(parsed->sampled);
}

TEST(Traceparent, AFutureVersionIsReadAsVersion00) {
    // The spec's forward compatibility: a higher version is parsed by the version-00 layout,
    // and what follows the flags must start with a dash.
    const auto longer =
        parseTraceparent("cc-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-what-the-future-will-be-like");
    ASSERT_TRUE(longer) << longer.error().message;
    EXPECT_EQ(toHex(longer->trace_id), "0af7651916cd43dd8448eb211c80319c");
    EXPECT_TRUE(longer->sampled);
    EXPECT_TRUE(parseTraceparent("01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"));
    EXPECT_FALSE(parseTraceparent("cc-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01.what-the-future"));
}

struct Rejected {
    const char* value;
    const char* reason;  // a part of the error message
};

TEST(Traceparent, RejectsWhatTheGrammarForbids) {
    const Rejected cases[] = {
        // version ff is forbidden
        {"ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "version ff"},
        // all-zero ids
        {"00-00000000000000000000000000000000-b7ad6b7169203331-01", "trace id is all zeros"},
        {"00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01", "parent id is all zeros"},
        // uppercase hex
        {"00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01", "trace id"},
        {"00-0af7651916cd43dd8448eb211c80319c-B7AD6B7169203331-01", "parent id"},
        {"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-0A", "flags"},
        {"0A-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "version"},
        // non-hex characters
        {"00-0af7651916cd43dd8448eb211c80319g-b7ad6b7169203331-01", "trace id"},
        {"00-0af7651916cd43dd8448eb211c80319c-b7ad6b716920333z-01", "parent id"},
        {"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-0x", "flags"},
        // lengths
        {"00-0af7651916cd43dd8448eb211c80319-b7ad6b7169203331-01", "characters"},               // short trace id
        {"00-0af7651916cd43dd8448eb211c80319cc-b7ad6b7169203331-01", "version 00 is exactly"},  // long trace id
        {"00-0af7651916cd43dd8448eb211c80319c-b7ad6b716920333-01", "characters"},               // short parent id
        {"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-", "version 00 is exactly"},  // trailing data
        {"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-1", "characters"},               // one flag digit
        {"", "characters"},
        // separators
        {"00_0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "'-' expected"},
        {"00-0af7651916cd43dd8448eb211c80319c_b7ad6b7169203331-01", "'-' expected"},
        {"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331_01", "'-' expected"},
        // whitespace is the HTTP layer's to trim, not ours
        {" 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "version ' 0'"},
    };
    for (const auto& c : cases) {
        const auto parsed = parseTraceparent(c.value);
        ASSERT_FALSE(parsed) << "accepted '" << c.value << "'";
        EXPECT_NE(parsed.error().message.find(c.reason), std::string::npos)
            << "'" << c.value << "': " << parsed.error().message << " (expected to mention '" << c.reason << "')";
    }
}

}  // namespace
}  // namespace hotgate::telemetry
