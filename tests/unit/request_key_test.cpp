// A request's balancing key (lb.hash_key): which bytes of a header, a cookie, the client's
// address or the path a hashing cluster places the request by, and when a request has none.
#include "proxy/lb/request_key.h"

#include <gtest/gtest.h>

#include <string>

namespace hotgate::lb {
namespace {

using Kind = HashKeySource::Kind;

http::request_header<> request(std::string target = "/") {
    http::request_header<> header;
    header.method(http::verb::get);
    header.target(target);
    header.version(11);
    header.set(http::field::host, "example.com");
    return header;
}

const HashKeySource kUserHeader{Kind::Header, "x-user-id"};
const HashKeySource kSessionCookie{Kind::Cookie, "session"};

TEST(RequestKeyHeader, IsTheFieldValue) {
    auto header = request();
    header.set("x-user-id", "alice");
    EXPECT_EQ(requestKey(kUserHeader, header, "10.0.0.1"), "alice");
}

TEST(RequestKeyHeader, MatchesTheFieldNameWhateverItsCase) {
    auto header = request();
    header.set("X-User-ID", "alice");
    EXPECT_EQ(requestKey(kUserHeader, header, "10.0.0.1"), "alice");
    EXPECT_EQ(requestKey(HashKeySource{Kind::Header, "X-USER-ID"}, header, "10.0.0.1"), "alice");
}

TEST(RequestKeyHeader, AFieldGivenTwiceGivesItsFirstValue) {
    auto header = request();
    header.insert("x-user-id", "alice");
    header.insert(http::field::accept, "*/*");
    header.insert("X-User-Id", "mallory");
    EXPECT_EQ(requestKey(kUserHeader, header, "10.0.0.1"), "alice");
}

TEST(RequestKeyHeader, AnEmptyFieldIsAnEmptyKeyNotAMissingOne) {
    auto header = request();
    header.set("x-user-id", "");
    EXPECT_EQ(requestKey(kUserHeader, header, "10.0.0.1"), "");
}

TEST(RequestKeyHeader, AbsentFieldIsNoKey) {
    auto header = request();
    header.set("x-user", "alice");  // a prefix of the name is another field
    EXPECT_EQ(requestKey(kUserHeader, header, "10.0.0.1"), std::nullopt);
}

TEST(RequestKeyCookie, IsTheNamedCookieAmongSeveral) {
    auto header = request();
    header.set(http::field::cookie, "theme=dark; session=abc123; lang=en");
    EXPECT_EQ(requestKey(kSessionCookie, header, "10.0.0.1"), "abc123");
}

TEST(RequestKeyCookie, IgnoresBlanksAroundPairsAndTheEqualsSign) {
    auto header = request();
    header.set(http::field::cookie, "  theme=dark ;\tsession = abc123 ;lang=en");
    EXPECT_EQ(requestKey(kSessionCookie, header, "10.0.0.1"), "abc123");
}

TEST(RequestKeyCookie, LooksInEveryCookieField) {
    // HTTP/2 clients may split cookies over several fields (RFC 9113 8.2.3).
    auto header = request();
    header.insert(http::field::cookie, "theme=dark");
    header.insert(http::field::accept, "*/*");
    header.insert(http::field::cookie, "session=abc123");
    EXPECT_EQ(requestKey(kSessionCookie, header, "10.0.0.1"), "abc123");
}

TEST(RequestKeyCookie, AbsentCookieOrFieldIsNoKey) {
    auto header = request();
    EXPECT_EQ(requestKey(kSessionCookie, header, "10.0.0.1"), std::nullopt);
    header.set(http::field::cookie, "theme=dark; sessionid=x; xsession=y");
    EXPECT_EQ(requestKey(kSessionCookie, header, "10.0.0.1"), std::nullopt);
}

TEST(RequestKeyClientIp, IsTheClientAddress) {
    EXPECT_EQ(requestKey(HashKeySource{Kind::ClientIp, ""}, request(), "2001:db8::7"), "2001:db8::7");
    EXPECT_EQ(requestKey(HashKeySource{Kind::ClientIp, ""}, request(), "10.0.0.1"), "10.0.0.1");
}

TEST(RequestKeyPath, IsThePathWithoutTheQuery) {
    const HashKeySource path{Kind::Path, ""};
    EXPECT_EQ(requestKey(path, request("/cart/42?utm=x&y=1"), "10.0.0.1"), "/cart/42");
    EXPECT_EQ(requestKey(path, request("/cart/42"), "10.0.0.1"), "/cart/42");
    EXPECT_EQ(requestKey(path, request("/cart/42?"), "10.0.0.1"), "/cart/42");
    // Two requests for the same path land together whatever their queries.
    EXPECT_EQ(requestKey(path, request("/a?x=1"), "10.0.0.1"), requestKey(path, request("/a?x=2"), "10.0.0.2"));
}

TEST(RequestKeyNone, NoSourceIsNoKey) {
    auto header = request();
    header.set("x-user-id", "alice");
    EXPECT_EQ(requestKey(HashKeySource{}, header, "10.0.0.1"), std::nullopt);
}

TEST(CookieValue, FindsTheFirstCookieOfThatName) {
    EXPECT_EQ(cookieValue("a=1; b=2; a=3", "a"), "1");
    EXPECT_EQ(cookieValue("a=1; b=2; a=3", "b"), "2");
}

TEST(CookieValue, NamesMatchWholeAndCaseSensitively) {
    EXPECT_EQ(cookieValue("Session=1", "session"), std::nullopt);
    EXPECT_EQ(cookieValue("session_id=1", "session"), std::nullopt);
    EXPECT_EQ(cookieValue("my_session=1", "session"), std::nullopt);
}

TEST(CookieValue, KeepsEverythingAfterTheFirstEqualsSign) {
    EXPECT_EQ(cookieValue("token=a=b==; x=1", "token"), "a=b==");
    EXPECT_EQ(cookieValue("q=\"quoted value\"", "q"), "\"quoted value\"");
}

TEST(CookieValue, AnEmptyValueIsPresent) {
    EXPECT_EQ(cookieValue("a=; b=2", "a"), "");
    EXPECT_EQ(cookieValue("b=2; a=", "a"), "");
}

TEST(CookieValue, SkipsPairsWithoutEqualsAndEmptyPieces) {
    EXPECT_EQ(cookieValue("flag; ;; a=1;", "a"), "1");
    EXPECT_EQ(cookieValue("a", "a"), std::nullopt);
    EXPECT_EQ(cookieValue("", "a"), std::nullopt);
    EXPECT_EQ(cookieValue(";;;", "a"), std::nullopt);
}

TEST(CookieValue, TrimsSpacesAndTabs) {
    EXPECT_EQ(cookieValue(" \t a \t= \t1 \t; b=2", "a"), "1");
    EXPECT_EQ(cookieValue("b=2;a=1", "a"), "1");
}

}  // namespace
}  // namespace hotgate::lb
