// TLS termination end to end with the real binaries: real handshakes from an OpenSSL client on
// 127.0.0.1, certificates made by the test's own CA. SNI selection, certificate reload under a
// load of new connections, bad certificate files refused while the old ones keep serving, and
// session resumption across a cutover to another version and across a ticket key rotation.
#include <atomic>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "gateway_fixture.h"
#include "support/child_process.h"
#include "support/test_certificates.h"
#include "support/tls_client.h"
#include "tls/ticket_keys.h"

namespace hotgate::test {
namespace {

using namespace std::chrono_literals;

std::string hotgateBBinary() { return std::string(HOTGATE_BIN_DIR) + "/hotgate_b"; }

class TlsTest : public GatewayFixture {
protected:
    void SetUp() override {
        GatewayFixture::SetUp();
        ca_ = std::make_unique<TestCa>(gateway_.dir().string());
        api_ = ca_->issue("api", {"api.example.test"});
        shop_ = ca_->issue("shop", {"shop.example.test", "*.shop.example.test"});
        admin_ = ca_->issue("admin", {"admin.example.test"});
        config_.tls_certificates = {{api_.certificate_file, api_.key_file, {}},
                                    {shop_.certificate_file, shop_.key_file, {}},
                                    {admin_.certificate_file, admin_.key_file, {}}};
    }

    void TearDown() override {
        for (pid_t pid : started_pids_) ::kill(pid, SIGKILL);
        GatewayFixture::TearDown();
    }

    // Handshake + one request; returns the serial the client saw ("" and `error` on failure).
    std::string serialFor(const std::string& sni, std::string* error = nullptr) {
        TlsClient client;
        if (!client.connect(port(), sni, ca_->caFile())) {
            if (error) *error = client.error();
            return {};
        }
        const TlsResponse response = client.get("/direct");
        if (!response.ok || response.status != 200) {
            if (error) *error = response.ok ? "status " + std::to_string(response.status) : response.error;
            return {};
        }
        return client.peerSerial();
    }

    // Replaces a certificate's files the way an operator's tooling does: write beside, rename over.
    void replaceFiles(const IssuedCertificate& target, const IssuedCertificate& source) {
        std::filesystem::copy_file(source.certificate_file, target.certificate_file + ".new",
                                   std::filesystem::copy_options::overwrite_existing);
        std::filesystem::copy_file(source.key_file, target.key_file + ".new",
                                   std::filesystem::copy_options::overwrite_existing);
        std::filesystem::rename(target.certificate_file + ".new", target.certificate_file);
        std::filesystem::rename(target.key_file + ".new", target.key_file);
    }

    std::unique_ptr<TestCa> ca_;
    IssuedCertificate api_, shop_, admin_;
    std::vector<pid_t> started_pids_;
};

TEST_F(TlsTest, SniChoosesAmongThreeCertificatesAndUnknownNamesGetTheDefault) {
    ASSERT_TRUE(startGateway());
    EXPECT_EQ(serialFor("api.example.test"), api_.serial_hex);
    EXPECT_EQ(serialFor("shop.example.test"), shop_.serial_hex);
    EXPECT_EQ(serialFor("cart.shop.example.test"), shop_.serial_hex);
    EXPECT_EQ(serialFor("ADMIN.example.test"), admin_.serial_hex);
    // No SNI: the default (first) certificate. An unknown name gets it too, which the client
    // (checking the name) refuses: the handshake fails on the client's side only.
    EXPECT_EQ(serialFor(""), api_.serial_hex);
    std::string error;
    EXPECT_EQ(serialFor("unknown.example.test", &error), "");
    EXPECT_NE(error.find("certificate verify failed"), std::string::npos) << error;

    EXPECT_TRUE(metricReaches("hotgate_tls_handshakes_total", {{"result", "ok"}, {"session", "full"}}, 5));
    // The expiry gauge has one series per SNI name, and /status lists the serials (no keys).
    const auto samples = metrics();
    EXPECT_GT(sumSamples(samples, "hotgate_tls_certificate_expiry_timestamp_seconds", {{"name", "api.example.test"}}),
              static_cast<double>(std::time(nullptr)));
    auto status = nlohmann::json::parse(httpGet(adminPort(), "/status").response.body());
    ASSERT_TRUE(status.contains("tls")) << status.dump();
    std::set<std::string> serials;
    for (const auto& cert : status["tls"]["listeners"][0]["certificates"]) serials.insert(cert["serial"]);
    EXPECT_EQ(serials, (std::set<std::string>{api_.serial_hex, shop_.serial_hex, admin_.serial_hex}));
    EXPECT_EQ(status["tls"]["session_ticket_keys"].size(), 1u);
}

// OpenSSL 3 clients drop a session whose connection ended without close_notify (an "unexpected
// EOF" is an error to them): the gateway must close TLS cleanly or nobody resumes.
TEST_F(TlsTest, TheUpstreamIsToldTheClientCameOverHttps) {
    ASSERT_TRUE(startGateway());
    TlsClient client;
    ASSERT_TRUE(client.connect(port(), "api.example.test", ca_->caFile())) << client.error();
    const TlsResponse response = client.get("/headers");
    ASSERT_TRUE(response.ok) << response.error;
    EXPECT_EQ(response.status, 200);
    auto seen = upstream_.lastRequest();
    ASSERT_TRUE(seen.has_value());
    EXPECT_EQ(seen->values("x-forwarded-proto"), std::vector<std::string>{"https"});
    ASSERT_EQ(seen->values("forwarded").size(), 1u);
    EXPECT_NE(seen->values("forwarded")[0].find(";proto=https"), std::string::npos) << seen->values("forwarded")[0];
}

TEST_F(TlsTest, ConnectionsEndWithCloseNotifySoTheirSessionsStayResumable) {
    ASSERT_TRUE(startGateway());
    TlsClient client;
    ASSERT_TRUE(client.connect(port(), "api.example.test", ca_->caFile())) << client.error();
    std::string error;
    EXPECT_TRUE(client.getUntilClosedCleanly("/direct", error)) << error;
    const TlsSession session = client.session();
    ASSERT_TRUE(session);
    EXPECT_TRUE(SSL_SESSION_is_resumable(session.get()));
    TlsClient again;
    ASSERT_TRUE(again.connect(port(), "api.example.test", ca_->caFile(), session)) << again.error();
    EXPECT_TRUE(again.resumed());
    EXPECT_TRUE(metricReaches("hotgate_tls_handshakes_total", {{"session", "resumed"}}, 1));
}

TEST_F(TlsTest, CertificateReloadUnderNewConnectionsLosesNoHandshakeAndKeepsOldConnections) {
    ASSERT_TRUE(startGateway());
    TlsClient old_connection;
    ASSERT_TRUE(old_connection.connect(port(), "api.example.test", ca_->caFile())) << old_connection.error();
    ASSERT_TRUE(old_connection.get("/direct").ok);

    // New TLS connections, one after another, for at most 20 s or until told to stop.
    std::atomic<bool> stop{false};
    std::atomic<int> handshakes{0}, failures{0};
    std::set<std::string> seen;
    std::mutex seen_mutex;
    std::string first_failure;
    std::thread load([&] {
        const auto until = std::chrono::steady_clock::now() + 20s;
        while (!stop && std::chrono::steady_clock::now() < until) {
            std::string error;
            const std::string serial = serialFor("api.example.test", &error);
            ++handshakes;
            std::lock_guard lock(seen_mutex);
            if (serial.empty()) {
                if (failures++ == 0) first_failure = error;
            } else {
                seen.insert(serial);
            }
        }
    });
    std::this_thread::sleep_for(500ms);
    const IssuedCertificate renewed = ca_->issue("api-renewed", {"api.example.test"});
    replaceFiles(api_, renewed);
    auto reloaded = gwctl({"certs", "reload"});
    EXPECT_EQ(reloaded.exit_code, 0) << reloaded.out << reloaded.err;
    EXPECT_NE(reloaded.out.find(renewed.serial_hex), std::string::npos) << reloaded.out;
    EXPECT_TRUE(eventually([&] { return serialFor("api.example.test") == renewed.serial_hex; }));
    std::this_thread::sleep_for(500ms);
    stop = true;
    load.join();
    EXPECT_EQ(failures.load(), 0) << "first failure: " << first_failure;
    EXPECT_GT(handshakes.load(), 20);
    EXPECT_EQ(seen, (std::set<std::string>{api_.serial_hex, renewed.serial_hex}));

    // The connection made before the reload goes on, with the certificate it was made with.
    const TlsResponse again = old_connection.get("/direct");
    EXPECT_TRUE(again.ok) << again.error;
    EXPECT_EQ(old_connection.peerSerial(), api_.serial_hex);
}

// The config engine's way: a config whose certificate files changed applies in place; one whose
// certificate does not check out is refused and changes nothing.
TEST_F(TlsTest, ConfigApplySwapsCertificatesInPlaceAndRefusesABadOne) {
    ASSERT_TRUE(startGateway());
    const IssuedCertificate renewed = ca_->issue("admin-renewed", {"admin.example.test"});
    GatewayConfig next = gateway_.writtenConfig();
    next.tls_certificates[2] = {renewed.certificate_file, renewed.key_file, {}};
    const auto file = gateway_.writeFile("renewed.yaml", next.toYaml()).string();
    auto applied = gwctl({"config", "apply", file});
    EXPECT_EQ(applied.exit_code, 0) << applied.out << applied.err;
    EXPECT_EQ(serialFor("admin.example.test"), renewed.serial_hex);
    EXPECT_EQ(serialFor("api.example.test"), api_.serial_hex);

    next.tls_certificates[2].key = shop_.key_file;  // a key that is not this certificate's
    const auto bad = gateway_.writeFile("mismatch.yaml", next.toYaml()).string();
    auto refused = gwctl({"config", "apply", bad});
    EXPECT_NE(refused.exit_code, 0);
    EXPECT_NE((refused.out + refused.err).find("does not match the certificate"), std::string::npos)
        << refused.out << refused.err;
    EXPECT_EQ(serialFor("admin.example.test"), renewed.serial_hex);
}

// No gwctl: replacing the files is enough (inotify), and a bad replacement changes nothing.
TEST_F(TlsTest, ReplacedCertificateFilesAreReloadedByThemselves) {
    ASSERT_TRUE(startGateway());
    ASSERT_EQ(serialFor("shop.example.test"), shop_.serial_hex);
    const IssuedCertificate renewed = ca_->issue("shop-renewed", {"shop.example.test", "*.shop.example.test"});
    replaceFiles(shop_, renewed);
    EXPECT_TRUE(eventually([&] { return serialFor("shop.example.test") == renewed.serial_hex; }));
    const IssuedCertificate other = ca_->issue("other", {"shop.example.test"});
    std::filesystem::copy_file(other.key_file, shop_.key_file + ".new");
    std::filesystem::rename(shop_.key_file + ".new", shop_.key_file);  // key without its certificate
    EXPECT_TRUE(eventually([&] { return gateway_.stderrText().find("reload was refused") != std::string::npos; }));
    EXPECT_EQ(serialFor("shop.example.test"), renewed.serial_hex);
}

TEST_F(TlsTest, BadCertificateFilesAreRefusedWithTheReasonAndTheOldCertificateKeepsServing) {
    ASSERT_TRUE(startGateway());
    const IssuedCertificate other = ca_->issue("other", {"api.example.test"});
    const IssuedCertificate expired =
        ca_->issue("expired", {"api.example.test"}, std::chrono::hours(-48), std::chrono::hours(-1));
    const std::string garbage = (gateway_.dir() / "garbage.pem").string();
    std::ofstream(garbage) << "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n";

    struct Case {
        const char* what;
        std::function<void()> damage;
        const char* reason;
    };
    const std::string cert = api_.certificate_file, key = api_.key_file;
    const Case cases[] = {
        {"key of another certificate", [&] { std::filesystem::copy_file(other.key_file, key, std::filesystem::copy_options::overwrite_existing); },
         "does not match the certificate"},
        {"expired certificate", [&] { replaceFiles(api_, expired); }, "expired on"},
        {"unreadable file", [&] { std::filesystem::remove(cert); }, "cannot open"},
        {"garbage PEM", [&] { std::filesystem::copy_file(garbage, cert, std::filesystem::copy_options::overwrite_existing); },
         "no PEM certificate"},
    };
    const std::string original_cert = readFile(cert), original_key = readFile(key);
    for (const Case& c : cases) {
        SCOPED_TRACE(c.what);
        c.damage();
        auto reloaded = gwctl({"certs", "reload"});
        EXPECT_EQ(reloaded.exit_code, 1) << reloaded.out;
        EXPECT_NE(reloaded.err.find(c.reason), std::string::npos) << reloaded.err;
        EXPECT_NE(reloaded.err.find("nothing changed"), std::string::npos) << reloaded.err;
        EXPECT_EQ(serialFor("api.example.test"), api_.serial_hex);
        std::ofstream(cert) << original_cert;
        std::ofstream(key) << original_key;
    }
    EXPECT_NE(gateway_.stderrText().find("certificate reload refused"), std::string::npos);
    EXPECT_TRUE(gateway_.running());
}

TEST_F(TlsTest, StartupRefusesABadCertificateNamingTheFile) {
    const IssuedCertificate other = ca_->issue("other", {"api.example.test"});
    config_.tls_certificates[1].key = other.key_file;
    // --check-config loads the certificates too (like nginx -t), and so does the start.
    auto check = runCommand({hotgateBinary(), "--check-config", gateway_.writeFile("bad.yaml", config_.toYaml()).string()},
                            gateway_.dir(), 20s);
    EXPECT_EQ(check.exit_code, 1);
    EXPECT_NE(check.err.find(shop_.certificate_file), std::string::npos) << check.err;
    EXPECT_NE(check.err.find("does not match"), std::string::npos) << check.err;
    GatewayProcess process;
    EXPECT_FALSE(process.start(config_, 5s));
    EXPECT_NE(process.stderrText().find(shop_.certificate_file), std::string::npos) << process.stderrText();
    EXPECT_NE(process.stderrText().find("does not match"), std::string::npos) << process.stderrText();
}

// A client that got a ticket from version A resumes on version B after the cutover, without a
// full handshake: A handed its ticket keys to B over the control socket. After B rotates its
// key, the old ticket still resumes (and is renewed).
TEST_F(TlsTest, SessionResumesOnTheNextVersionAfterCutoverAndAfterKeyRotation) {
    config_.workers = 2;
    config_.drain = "20s";
    ASSERT_TRUE(startGateway());
    TlsClient first;
    ASSERT_TRUE(first.connect(port(), "api.example.test", ca_->caFile())) << first.error();
    const TlsResponse from_a = first.get("/direct");
    ASSERT_TRUE(from_a.ok) << from_a.error;
    const TlsSession ticket = first.session();
    ASSERT_TRUE(ticket);
    ASSERT_TRUE(SSL_SESSION_is_resumable(ticket.get()));
    TlsClient keep_alive;  // a keep-alive connection to A, used again after the commit
    ASSERT_TRUE(keep_alive.connect(port(), "api.example.test", ca_->caFile()));
    ASSERT_TRUE(keep_alive.get("/direct").ok);

    auto upgraded = gwctl({"upgrade", "--binary", hotgateBBinary(), "--config", gateway_.configFile().string()});
    if (auto at = upgraded.out.find("(pid "); at != std::string::npos)
        started_pids_.push_back(std::atoi(upgraded.out.c_str() + at + 5));
    ASSERT_EQ(upgraded.exit_code, 0) << upgraded.out << upgraded.err;
    ASSERT_EQ(gwctl({"cutover"}).exit_code, 0);

    TlsClient resumed;
    ASSERT_TRUE(resumed.connect(port(), "api.example.test", ca_->caFile(), ticket)) << resumed.error();
    const TlsResponse from_b = resumed.get("/direct");
    ASSERT_TRUE(from_b.ok) << from_b.error;
    EXPECT_NE(from_b.version, from_a.version) << "the new connection should reach version B";
    EXPECT_TRUE(resumed.resumed()) << "B did not resume A's session";

    gateway_.expectExit();
    auto committed = gwctl({"commit"});
    ASSERT_EQ(committed.exit_code, 0) << committed.out << committed.err;
    // A TLS connection cannot move to B: once A drains (the commit reply may come just before),
    // A answers its next request with Connection: close. Every request on it succeeds.
    TlsResponse last_on_a;
    EXPECT_TRUE(eventually(
        [&] {
            last_on_a = keep_alive.get("/direct");
            return !last_on_a.ok || last_on_a.connection == "close";
        },
        10s));
    EXPECT_TRUE(last_on_a.ok) << last_on_a.error;
    EXPECT_EQ(last_on_a.version, from_a.version);
    EXPECT_EQ(last_on_a.connection, "close");

    // B now owns the control socket. Rotate: the old ticket still resumes.
    ASSERT_TRUE(eventually([&] { return gwctl({"status"}).out.find(from_b.version) != std::string::npos; }, 15s));
    auto rotated = gwctl({"tls", "rotate-ticket-key"});
    ASSERT_EQ(rotated.exit_code, 0) << rotated.out << rotated.err;
    TlsClient after_rotation;
    ASSERT_TRUE(after_rotation.connect(port(), "api.example.test", ca_->caFile(), ticket));
    ASSERT_TRUE(after_rotation.get("/direct").ok);
    EXPECT_TRUE(after_rotation.resumed()) << "a ticket under the previous key must still resume";
}

// Ticket keys are secrets: the key file's lines never show up in logs, /status, /metrics or
// gwctl's output, before or after a rotation (which rewrites the file, 0600).
TEST_F(TlsTest, TicketKeysNeverAppearInLogsStatusOrMetrics) {
    const auto key_file = gateway_.dir() / "ticket.keys";
    auto ring = tls::TicketKeyRing::generate();
    ASSERT_TRUE(ring);
    std::ofstream(key_file) << "# test keys\n" << ring->serialize();
    config_.session_ticket_keys = key_file.string();
    ASSERT_TRUE(startGateway());
    auto rotated = gwctl({"tls", "rotate-ticket-key"});
    ASSERT_EQ(rotated.exit_code, 0) << rotated.err;
    EXPECT_EQ(std::filesystem::status(key_file).permissions() & std::filesystem::perms::all,
              std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    auto after = tls::TicketKeyRing::loadFile(key_file.string());
    ASSERT_TRUE(after) << after.error().message;
    ASSERT_EQ(after->keys.size(), 2u);
    const std::string seen = httpGet(adminPort(), "/status").response.body() +
                             httpGet(adminPort(), "/metrics").response.body() + gateway_.stderrText() +
                             rotated.out + rotated.err;
    std::istringstream lines(after->serialize());
    for (std::string line; std::getline(lines, line);) {
        ASSERT_GE(line.size(), 100u);
        EXPECT_EQ(seen.find(line.substr(0, 24)), std::string::npos) << "key material leaked";
    }
    EXPECT_NE(seen.find(after->fingerprints()[0]), std::string::npos) << "fingerprints are shown instead";
}

// TLS to upstreams: a second hotgate terminating TLS with a certificate of the test CA is the
// backend; the gateway under test reaches it through clusters with different TLS settings.
TEST_F(TlsTest, UpstreamTlsVerifiesTheCaAndTheNameUnlessTold) {
    GatewayProcess backend;
    GatewayConfig backend_config = defaultGatewayConfig(pickFreePort(), pickFreePort(), upstream_.port(), down_port_);
    const IssuedCertificate backend_cert = ca_->issue("backend", {"backend.example.test"});
    backend_config.tls_certificates = {{backend_cert.certificate_file, backend_cert.key_file, {}}};
    backend_config.routes = {{"all", "{ path_prefix: / }", "", 200, "from the TLS backend\n"}};
    backend_config.clusters.clear();
    ASSERT_TRUE(backend.start(backend_config));

    TestCa other_ca(gateway_.dir().string(), "other");
    const std::string endpoint = "127.0.0.1:" + std::to_string(backend.port());
    auto cluster = [&](std::string name, std::string ca, std::string sni, bool verify) {
        GatewayConfig::Cluster c{name, {endpoint}, 64};
        c.tls = true;
        c.tls_ca_file = std::move(ca);
        c.tls_sni = std::move(sni);
        c.tls_verify = verify;
        return c;
    };
    config_.clusters.push_back(cluster("good", ca_->caFile(), "backend.example.test", true));
    config_.clusters.push_back(cluster("badname", ca_->caFile(), "other.example.test", true));
    config_.clusters.push_back(cluster("badca", other_ca.caFile(), "backend.example.test", true));
    config_.clusters.push_back(cluster("noverify", other_ca.caFile(), "", false));
    for (const char* name : {"good", "badname", "badca", "noverify"})
        config_.routes.insert(config_.routes.begin(), {name, std::string("{ path: /") + name + " }", name, 0, ""});
    config_.tls_certificates.clear();  // plain HTTP in front: the TLS here is toward the backend
    ASSERT_TRUE(startGateway());

    for (int i = 0; i < 3; ++i) {  // the second and third reuse the pooled TLS connection
        auto good = httpGet(port(), "/good");
        ASSERT_TRUE(good.ok()) << good.error();
        EXPECT_EQ(good.status(), 200);
        EXPECT_EQ(good.response.body(), "from the TLS backend\n");
    }
    for (const char* path : {"/badname", "/badca"}) {
        auto refused = httpGet(port(), path);
        EXPECT_EQ(refused.status(), 502) << path;
        EXPECT_NE(refused.response.body().find("upstream TLS handshake failed"), std::string::npos)
            << path << ": " << refused.response.body();
    }
    auto unverified = httpGet(port(), "/noverify");
    EXPECT_EQ(unverified.status(), 200);
    EXPECT_EQ(unverified.response.body(), "from the TLS backend\n");
    EXPECT_TRUE(metricReaches("hotgate_upstream_connect_errors_total", {{"cluster", "badname"}}, 1));
    EXPECT_TRUE(metricReaches("hotgate_upstream_connect_errors_total", {{"cluster", "badca"}}, 1));
}

}  // namespace
}  // namespace hotgate::test
