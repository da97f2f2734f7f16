// HTTP/2 requests written as HTTP/1.1 for the engine, and its responses read back as HTTP/2
// fields (proxy/h2/message_translation.h): nothing a field carries may end up as framing.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "proxy/h2/frame_budget.h"
#include "proxy/h2/message_translation.h"
#include "proxy/http1_framing.h"

namespace hotgate::h2 {
namespace {

RequestFields get(std::string path, std::vector<Field> fields = {}) {
    return {"GET", std::move(path), "api.example.test", std::move(fields)};
}

TEST(Http2Translation, PseudoFieldsBecomeTheRequestLineAndHost) {
    const auto out = toHttp1(get("/a?b=c", {{"accept", "*/*"}}), true);
    ASSERT_TRUE(out);
    EXPECT_EQ(out->head, "GET /a?b=c HTTP/1.1\r\nhost: api.example.test\r\naccept: */*\r\n\r\n");
    EXPECT_EQ(out->body, RequestBody::None);
}

TEST(Http2Translation, AuthorityWinsOverHostAndHostAloneIsUsed) {
    auto both = toHttp1(get("/", {{"host", "other.test"}}), true);
    ASSERT_TRUE(both);
    EXPECT_EQ(both->head, "GET / HTTP/1.1\r\nhost: api.example.test\r\n\r\n");
    RequestFields host_only{"GET", "/", "", {{"host", "only.test"}}};
    auto only = toHttp1(host_only, true);
    ASSERT_TRUE(only);
    EXPECT_EQ(only->head, "GET / HTTP/1.1\r\nhost: only.test\r\n\r\n");
    RequestFields two_hosts{"GET", "/", "", {{"host", "a.test"}, {"host", "b.test"}}};
    EXPECT_FALSE(toHttp1(two_hosts, true));
}

TEST(Http2Translation, CookieFieldsAreJoinedIntoOne) {
    auto out = toHttp1(get("/", {{"cookie", "a=1"}, {"x", "y"}, {"cookie", "b=2"}}), true);
    ASSERT_TRUE(out);
    EXPECT_EQ(out->head, "GET / HTTP/1.1\r\nhost: api.example.test\r\nx: y\r\ncookie: a=1; b=2\r\n\r\n");
}

TEST(Http2Translation, BodyFramingFollowsTheStream) {
    RequestFields post{"POST", "/up", "h.test", {{"content-length", "12"}}};
    auto with_length = toHttp1(post, false);
    ASSERT_TRUE(with_length);
    EXPECT_EQ(with_length->body, RequestBody::Length);
    EXPECT_EQ(with_length->head, "POST /up HTTP/1.1\r\nhost: h.test\r\ncontent-length: 12\r\n\r\n");
    post.fields.clear();
    auto chunked = toHttp1(post, false);
    ASSERT_TRUE(chunked);
    EXPECT_EQ(chunked->body, RequestBody::Chunked);
    EXPECT_EQ(chunked->head, "POST /up HTTP/1.1\r\nhost: h.test\r\ntransfer-encoding: chunked\r\n\r\n");
    EXPECT_EQ(chunkHeader(255), "ff\r\n");
}

TEST(Http2Translation, NothingThatCouldFrameASecondRequestPasses) {
    EXPECT_FALSE(toHttp1(get("/a\r\nGET /b"), true));
    EXPECT_FALSE(toHttp1(get("/a b"), true));
    EXPECT_FALSE(toHttp1(get("/", {{"x", "a\r\nx-injected: 1"}}), true));
    EXPECT_FALSE(toHttp1(get("/", {{"x", std::string("a\0b", 3)}}), true));
    EXPECT_FALSE(toHttp1(get("/", {{"X-Upper", "a"}}), true));
    EXPECT_FALSE(toHttp1(get("/", {{"transfer-encoding", "chunked"}}), false));
    EXPECT_FALSE(toHttp1(get("/", {{"content-length", "1, 2"}}), false));
    EXPECT_FALSE(toHttp1(get("/", {{"content-length", "1"}, {"content-length", "1"}}), false));
    EXPECT_FALSE(toHttp1({"GET", "/", "a b.test", {}}, true));
    EXPECT_FALSE(toHttp1({"G ET", "/", "a.test", {}}, true));
    const auto connect = toHttp1({"CONNECT", "", "a.test:443", {}}, true);
    ASSERT_FALSE(connect);
    EXPECT_EQ(connect.error().status, 501u);
    // te: trailers is allowed in HTTP/2 and dropped (hop-by-hop).
    auto te = toHttp1(get("/", {{"te", "trailers"}}), true);
    ASSERT_TRUE(te);
    EXPECT_EQ(te->head.find("te:"), std::string::npos);
}

// Requests built from adversarial pieces (line ends, NUL, spaces, framing fields, a second
// request line): every head toHttp1 writes ends where its first empty line is, and hotgate's own
// HTTP/1.1 reader, if it takes it, reads the same method, target and body framing, with no
// field the request did not have.
TEST(Http2Translation, EveryHeadItWritesReadsBackAsTheSameSingleRequest) {
    std::mt19937 random(20261206);
    const std::vector<std::string> pieces{"a", "/", "GET", " ", "\r", "\n", "\r\n", std::string(1, '\0'), ":",
                                          "\t", "x-y", "Host", "host", "content-length", "transfer-encoding",
                                          "chunked", "12", "-1", "1,2", "\xc3\xa9", "\x7f", "?q=1", "cookie", "te",
                                          "trailers", "%0d%0a", "HTTP/1.1", "GET / HTTP/1.1", "\r\n\r\n"};
    const std::vector<std::string> names{"accept", "cookie", "content-length", "te", "host", "x-a", "transfer-encoding"};
    auto pick = [&](const std::vector<std::string>& from) { return from[random() % from.size()]; };
    auto text = [&](unsigned most) {
        std::string out;
        for (unsigned n = random() % (most + 1); n > 0; --n) out += pick(pieces);
        return out;
    };
    int accepted = 0, read_back = 0;
    for (int i = 0; i < 20000; ++i) {
        RequestFields request;
        request.method = random() % 4 ? std::string(random() % 2 ? "GET" : "POST") : text(2);
        request.path = random() % 3 ? "/" + text(3) : text(3);
        request.authority = random() % 4 ? "h.test" : text(2);
        for (unsigned n = random() % 4; n > 0; --n)
            request.fields.push_back({random() % 2 ? pick(names) : text(2), random() % 2 ? "12" : text(3)});
        const bool ends_stream = random() % 2;
        const auto out = toHttp1(request, ends_stream);
        if (!out) continue;
        ++accepted;
        ASSERT_EQ(http1::findHeaderEnd(out->head), out->head.size()) << "a second message in: " << out->head;
        http1::RequestParser parser;
        parser.header_limit(1 << 20);
        parser.body_limit(std::uint64_t{1} << 40);
        const auto framing = http1::readRequestHead(out->head, parser);
        if (!framing) continue;  // refused there (400): nothing reaches an upstream
        ++read_back;
        EXPECT_EQ(parser.get().method_string(), request.method) << out->head;
        EXPECT_EQ(parser.get().target(), request.path) << out->head;
        std::size_t given = 0;  // fields the request gave, as written (cookies joined, te dropped)
        bool cookie = false;
        for (const Field& field : request.fields) {
            if (field.name == "cookie") cookie = cookie || !field.value.empty();
            else if (field.name != "te" && field.name != "host") ++given;
        }
        const std::size_t host = request.authority.empty() && std::none_of(request.fields.begin(), request.fields.end(),
                                                                           [](const Field& f) { return f.name == "host"; })
                                     ? 0
                                     : 1;
        const std::size_t chunked = out->body == RequestBody::Chunked ? 1 : 0;
        EXPECT_EQ(static_cast<std::size_t>(std::distance(parser.get().begin(), parser.get().end())),
                  given + (cookie ? 1 : 0) + host + chunked)
            << out->head;
        switch (out->body) {
            case RequestBody::Chunked: EXPECT_EQ(framing->kind, http1::BodyKind::Chunked) << out->head; break;
            case RequestBody::Length: EXPECT_EQ(framing->kind, http1::BodyKind::Length) << out->head; break;
            case RequestBody::None:
                EXPECT_TRUE(framing->kind == http1::BodyKind::None || framing->kind == http1::BodyKind::Length)
                    << out->head;
                break;
        }
    }
    // The generator must reach the interesting cases, not only refusals.
    EXPECT_GT(accepted, 2000);
    EXPECT_GT(read_back, 1000);
}

TEST(Http2Translation, ResponsesLoseConnectionSpecificFields) {
    http::response_header<> head;
    head.result(http::status::ok);
    head.set(http::field::content_type, "text/plain");
    head.set(http::field::connection, "keep-alive, X-Hop");
    head.set("X-Hop", "1");
    head.set(http::field::keep_alive, "timeout=5");
    head.set(http::field::transfer_encoding, "chunked");
    head.set("X-Hotgate-Version", "v1");
    const auto fields = toHttp2(head);
    ASSERT_EQ(fields.size(), 3u);
    EXPECT_EQ(fields[0].name, ":status");
    EXPECT_EQ(fields[0].value, "200");
    EXPECT_EQ(fields[1].name, "content-type");
    EXPECT_EQ(fields[2].name, "x-hotgate-version");
    EXPECT_EQ(fields[2].value, "v1");
}

TEST(FrameBudget, SpendsTheBurstThenRefillsAtItsRate) {
    const auto start = FrameBudget::Clock::now();
    FrameBudget budget(3, 10, start);
    EXPECT_TRUE(budget.spend(start));
    EXPECT_TRUE(budget.spend(start));
    EXPECT_TRUE(budget.spend(start));
    EXPECT_FALSE(budget.spend(start));
    EXPECT_TRUE(budget.spend(start + std::chrono::milliseconds(100)));  // one token back after 1/10 s
    EXPECT_FALSE(budget.spend(start + std::chrono::milliseconds(100)));
    EXPECT_TRUE(budget.spend(start + std::chrono::seconds(10)));  // capped at the burst
    EXPECT_TRUE(budget.spend(start + std::chrono::seconds(10)));
    EXPECT_FALSE(budget.spend(start + std::chrono::seconds(10)) && budget.spend(start + std::chrono::seconds(10)));
}

}  // namespace
}  // namespace hotgate::h2
