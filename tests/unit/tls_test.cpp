// TLS building blocks with real OpenSSL handshakes between a client SSL and the gateway's server
// contexts over an in-memory BIO pair (no sockets): certificate checks, SNI selection, ALPN, and
// session-ticket resumption across key rings (what a cutover and a key rotation do).
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "support/child_process.h"
#include "support/test_certificates.h"
#include "tls/certificate.h"
#include "tls/server_contexts.h"
#include "tls/ticket_keys.h"

namespace hotgate::tls {
namespace {

using test::IssuedCertificate;
using test::TestCa;

struct Handshake {
    bool ok = false;
    std::string error;
    std::string peer_serial;  // lower-case hex
    std::string alpn;
    bool resumed = false;
    SSL_SESSION* session = nullptr;  // the client's session after the handshake (owned by caller)
};

// Pumps bytes between a client SSL and a server SSL through a BIO pair until both finish the
// handshake (or one fails), then has the server send one byte so the client reads the TLS 1.3
// session tickets that follow the handshake.
Handshake handshake(const ServerContexts& server, const std::string& ca_file, const char* sni,
                    SSL_SESSION* resume = nullptr, int max_version = TLS1_3_VERSION,
                    const std::vector<unsigned char>& alpn = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'}) {
    Handshake result;
    SSL_CTX* client_ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_max_proto_version(client_ctx, max_version);
    SSL_CTX_load_verify_locations(client_ctx, ca_file.c_str(), nullptr);
    SSL_CTX_set_verify(client_ctx, SSL_VERIFY_PEER, nullptr);
    // No client-side cache: the test keeps the session itself (SSL_CTX_free would flush a cache
    // and mark its sessions not resumable).
    SSL_CTX_set_session_cache_mode(client_ctx, SSL_SESS_CACHE_OFF);
    SSL* client = SSL_new(client_ctx);
    SSL* srv = SSL_new(server.defaultContext().native_handle());
    if (sni) {
        SSL_set_tlsext_host_name(client, sni);
        SSL_set1_host(client, sni);
    }
    if (!alpn.empty()) SSL_set_alpn_protos(client, alpn.data(), static_cast<unsigned>(alpn.size()));
    if (resume) SSL_set_session(client, resume);
    BIO *client_bio = nullptr, *server_bio = nullptr;
    BIO_new_bio_pair(&client_bio, 0, &server_bio, 0);
    SSL_set_bio(client, client_bio, client_bio);
    SSL_set_bio(srv, server_bio, server_bio);
    SSL_set_connect_state(client);
    SSL_set_accept_state(srv);

    bool client_done = false, server_done = false;
    for (int round = 0; round < 100 && !(client_done && server_done); ++round) {
        if (!client_done) {
            const int rc = SSL_do_handshake(client);
            if (rc == 1) client_done = true;
            else if (SSL_get_error(client, rc) != SSL_ERROR_WANT_READ) {
                result.error = "client: " + drainOpensslErrors();
                break;
            }
        }
        if (!server_done) {
            const int rc = SSL_do_handshake(srv);
            if (rc == 1) server_done = true;
            else if (SSL_get_error(srv, rc) != SSL_ERROR_WANT_READ) {
                result.error = "server: " + drainOpensslErrors();
                break;
            }
        }
    }
    if (client_done && server_done) {
        result.ok = true;
        SSL_write(srv, "x", 1);
        char byte;
        SSL_read(client, &byte, 1);
        X509* peer = SSL_get1_peer_certificate(client);
        result.peer_serial = serialHex(peer);
        X509_free(peer);
        const unsigned char* proto = nullptr;
        unsigned proto_len = 0;
        SSL_get0_alpn_selected(client, &proto, &proto_len);
        result.alpn.assign(reinterpret_cast<const char*>(proto), proto_len);
        result.resumed = SSL_session_reused(client) == 1;
        result.session = SSL_get1_session(client);
        // A clean close: freeing an SSL that was not shut down marks its session not resumable.
        SSL_shutdown(client);
        SSL_shutdown(srv);
    }
    SSL_free(client);
    SSL_free(srv);
    SSL_CTX_free(client_ctx);
    return result;
}

class TlsTest : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = test::makeTempDir("hotgate-tls").string();
        ca_ = std::make_unique<TestCa>(dir_);
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }

    static CertificateSource sourceOf(const IssuedCertificate& issued, std::vector<std::string> names = {}) {
        return {issued.certificate_file, issued.key_file, std::move(names)};
    }

    std::string dir_;
    std::unique_ptr<TestCa> ca_;
};

TEST_F(TlsTest, SniChoosesAmongThreeCertificatesWithTheFirstAsDefault) {
    const auto api = ca_->issue("api", {"api.example.test"});
    const auto shop = ca_->issue("shop", {"shop.example.test", "*.shop.example.test"});
    const auto admin = ca_->issue("admin", {"admin.example.test"});
    auto keys = TicketKeyRing::generate();
    ASSERT_TRUE(keys);
    TicketKeyStore store(*keys);
    auto server = ServerContexts::build({{sourceOf(api), sourceOf(shop), sourceOf(admin)}}, store);
    ASSERT_TRUE(server) << server.error().message;

    EXPECT_EQ(handshake(**server, ca_->caFile(), "api.example.test").peer_serial, api.serial_hex);
    EXPECT_EQ(handshake(**server, ca_->caFile(), "SHOP.example.test").peer_serial, shop.serial_hex);
    EXPECT_EQ(handshake(**server, ca_->caFile(), "cart.shop.example.test").peer_serial, shop.serial_hex);
    EXPECT_EQ(handshake(**server, ca_->caFile(), "admin.example.test").peer_serial, admin.serial_hex);
    // Unknown name and no SNI: the default (first) certificate. The client verifies the name, so
    // an unknown name fails verification on the client, as it should: check the serial it saw.
    EXPECT_EQ(handshake(**server, ca_->caFile(), nullptr).peer_serial, api.serial_hex);
    const Handshake unknown = handshake(**server, ca_->caFile(), "other.example.test");
    EXPECT_FALSE(unknown.ok);
    EXPECT_NE(unknown.error.find("certificate verify failed"), std::string::npos) << unknown.error;
}

TEST_F(TlsTest, NegotiatesTls12And13WithAlpnHttp11) {
    const auto api = ca_->issue("api", {"api.example.test"});
    auto keys = TicketKeyRing::generate();
    TicketKeyStore store(*keys);
    auto server = ServerContexts::build({{sourceOf(api)}}, store);
    ASSERT_TRUE(server) << server.error().message;
    const Handshake tls13 = handshake(**server, ca_->caFile(), "api.example.test");
    ASSERT_TRUE(tls13.ok) << tls13.error;
    EXPECT_EQ(tls13.alpn, "http/1.1");
    const Handshake tls12 = handshake(**server, ca_->caFile(), "api.example.test", nullptr, TLS1_2_VERSION);
    ASSERT_TRUE(tls12.ok) << tls12.error;
    EXPECT_EQ(SSL_SESSION_get_protocol_version(tls12.session), TLS1_2_VERSION);
    EXPECT_EQ(SSL_SESSION_get_protocol_version(tls13.session), TLS1_3_VERSION);
    // A client that offers only h2 gets the no_application_protocol alert, not HTTP/1.1 bytes.
    const Handshake h2_only =
        handshake(**server, ca_->caFile(), "api.example.test", nullptr, TLS1_3_VERSION, {2, 'h', '2'});
    EXPECT_FALSE(h2_only.ok);
    SSL_SESSION_free(tls13.session);
    SSL_SESSION_free(tls12.session);
}

// What a cutover does: the next version builds its own contexts from the keys it was handed;
// a ticket from the first resumes on the second. And what rotation does: old tickets resume
// (and are renewed) until their key is dropped.
TEST_F(TlsTest, TicketsResumeAcrossContextSetsSharingKeysAndAcrossRotationUntilDropped) {
    const auto api = ca_->issue("api", {"api.example.test"});
    auto keys = TicketKeyRing::generate();
    ASSERT_TRUE(keys);
    TicketKeyStore version_a(*keys);
    auto server_a = ServerContexts::build({{sourceOf(api)}}, version_a);
    ASSERT_TRUE(server_a);
    for (int max_version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
        SCOPED_TRACE(max_version == TLS1_2_VERSION ? "TLS 1.2" : "TLS 1.3");
        const Handshake first = handshake(**server_a, ca_->caFile(), "api.example.test", nullptr, max_version);
        ASSERT_TRUE(first.ok) << first.error;
        ASSERT_FALSE(first.resumed);
        ASSERT_TRUE(SSL_SESSION_is_resumable(first.session));

        auto handed = TicketKeyRing::parse(keys->serialize(), "handover");
        ASSERT_TRUE(handed) << handed.error().message;
        TicketKeyStore version_b(*handed);
        auto server_b = ServerContexts::build({{sourceOf(api)}}, version_b);
        ASSERT_TRUE(server_b);
        const Handshake resumed = handshake(**server_b, ca_->caFile(), "api.example.test", first.session, max_version);
        ASSERT_TRUE(resumed.ok) << resumed.error;
        EXPECT_TRUE(resumed.resumed);

        // Rotation: the old key now only decrypts; the ticket still resumes.
        TicketKeyRing rotated = *handed;
        ASSERT_TRUE(rotated.rotate());
        ASSERT_EQ(rotated.keys.size(), 2u);
        version_b.replace(rotated);
        const Handshake after_rotation =
            handshake(**server_b, ca_->caFile(), "api.example.test", first.session, max_version);
        ASSERT_TRUE(after_rotation.ok);
        EXPECT_TRUE(after_rotation.resumed);

        // Dropping the old key: the old ticket no longer resumes (full handshake, still succeeds).
        rotated.keys.pop_back();
        version_b.replace(rotated);
        const Handshake after_drop =
            handshake(**server_b, ca_->caFile(), "api.example.test", first.session, max_version);
        ASSERT_TRUE(after_drop.ok) << after_drop.error;
        EXPECT_FALSE(after_drop.resumed);

        // Keys unrelated to version A's: no resumption either.
        auto foreign = TicketKeyRing::generate();
        TicketKeyStore version_c(*foreign);
        auto server_c = ServerContexts::build({{sourceOf(api)}}, version_c);
        const Handshake foreign_try = handshake(**server_c, ca_->caFile(), "api.example.test", first.session, max_version);
        ASSERT_TRUE(foreign_try.ok);
        EXPECT_FALSE(foreign_try.resumed);

        for (SSL_SESSION* s : {first.session, resumed.session, after_rotation.session, after_drop.session,
                               foreign_try.session})
            SSL_SESSION_free(s);
    }
}

TEST_F(TlsTest, BadCertificateInputsAreRejectedWithTheReason) {
    const auto good = ca_->issue("good", {"good.example.test"});
    const auto other = ca_->issue("other", {"other.example.test"});
    const auto expired = ca_->issue("expired", {"old.example.test"}, std::chrono::hours(-48), std::chrono::hours(-1));
    const auto future = ca_->issue("future", {"new.example.test"}, std::chrono::hours(24), std::chrono::hours(48));
    const std::string garbage = dir_ + "/garbage.pem";
    std::ofstream(garbage) << "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n";

    auto expectError = [](const CertificateSource& source, const std::string& needle) {
        auto loaded = Certificate::load(source);
        ASSERT_FALSE(loaded) << "loaded " << source.certificate_file;
        EXPECT_NE(loaded.error().message.find(needle), std::string::npos) << loaded.error().message;
    };
    expectError({good.certificate_file, other.key_file, {}}, "does not match the certificate");
    expectError(sourceOf(expired), "expired on");
    expectError(sourceOf(future), "not valid before");
    expectError({dir_ + "/missing.crt", good.key_file, {}}, "cannot open");
    expectError({garbage, good.key_file, {}}, "no PEM certificate");
    expectError({good.certificate_file, garbage, {}}, "no PEM private key");
    expectError(sourceOf(good, {"shop.example.test"}), "is not among the certificate's names");

    auto loaded = Certificate::load(sourceOf(good, {"GOOD.example.test"}));
    ASSERT_TRUE(loaded) << loaded.error().message;
    EXPECT_EQ(loaded->serialHex(), good.serial_hex);
    EXPECT_TRUE(loaded->serves("good.example.test"));
    EXPECT_EQ(loaded->chain().size(), 1u);  // the CA after the leaf

    // A set with one bad certificate among good ones is not built at all.
    auto keys = TicketKeyRing::generate();
    TicketKeyStore store(*keys);
    auto set = ServerContexts::build({{sourceOf(good), sourceOf(expired)}}, store);
    ASSERT_FALSE(set);
    EXPECT_NE(set.error().message.find("expired"), std::string::npos);
}

TEST(TicketKeyRingTest, ParsesRoundTripsAndRejectsWithoutLeakingKeys) {
    auto ring = TicketKeyRing::generate();
    ASSERT_TRUE(ring);
    ASSERT_TRUE(ring->rotate());
    ASSERT_EQ(ring->keys.size(), 2u);
    auto parsed = TicketKeyRing::parse("# rotated daily\n\n" + ring->serialize(), "keys.txt");
    ASSERT_TRUE(parsed) << parsed.error().message;
    EXPECT_EQ(parsed->keys, ring->keys);
    EXPECT_EQ(parsed->fingerprints(), ring->fingerprints());
    EXPECT_EQ(ring->fingerprints()[0].size(), 8u);

    const std::string short_key = "c2hvcnQ=";  // "short"
    auto bad = TicketKeyRing::parse("# k\n" + short_key + "\n", "keys.txt");
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().message,
              "keys.txt:2: session ticket key is 5 bytes, expected 80 (generate one with: openssl rand 80 | base64 -w0)");
    auto not_base64 = TicketKeyRing::parse("!!!!\n", "keys.txt");
    ASSERT_FALSE(not_base64);
    EXPECT_NE(not_base64.error().message.find("keys.txt:1"), std::string::npos);
    EXPECT_FALSE(TicketKeyRing::parse("# nothing\n", "keys.txt"));
    const std::string line = ring->serialize().substr(0, ring->serialize().find('\n'));
    auto duplicate = TicketKeyRing::parse(line + "\n" + line + "\n", "keys.txt");
    ASSERT_FALSE(duplicate);
    EXPECT_EQ(duplicate.error().message.find(line), std::string::npos);

    for (std::size_t i = 0; i < TicketKeyRing::kMaxKeys + 3; ++i) ASSERT_TRUE(ring->rotate());
    EXPECT_EQ(ring->keys.size(), TicketKeyRing::kMaxKeys);
}

}  // namespace
}  // namespace hotgate::tls
