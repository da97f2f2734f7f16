// A fleet host reaching etcd over TLS (config_source.etcd.tls, docs/fleet.md): a member that
// serves https:// and requires client certificates (--client-cert-auth), all signed by a CA the
// test makes. The host reads, watches and reports through it, and gwctl fleet finds the same
// TLS settings in the host's file; a client without a certificate, one that trusts another
// CA, and a plain http:// client are refused, each saying why.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "fleet/etcd_client.h"
#include "gateway_fixture.h"
#include "support/etcd_server.h"
#include "support/fleet_documents.h"
#include "support/test_certificates.h"

namespace hotgate::test {
namespace {

using namespace std::chrono_literals;

constexpr const char* kPrefix = "/tls-test";

class FleetTlsTest : public GatewayFixture {
protected:
    void SetUp() override {
        GatewayFixture::SetUp();
        const auto dir = (gateway_.dir() / "pki").string();
        std::filesystem::create_directories(dir);
        ca_ = std::make_unique<TestCa>(dir, "etcd-test");
        const auto server = ca_->issue("etcd-server", {"127.0.0.1"});
        const auto client = ca_->issue("hotgate-client", {"hotgate-client"});
        tls_ = EtcdTlsConfig{.ca_file = ca_->caFile(), .cert_file = client.certificate_file, .key_file = client.key_file};
        etcd_.useTls(tls_, server.certificate_file, server.key_file);
        std::string error;
        ASSERT_TRUE(etcd_.start(gateway_.dir(), error)) << error;
        last_good_ = gateway_.dir() / "state" / "last-good.yaml";
        std::filesystem::create_directories(last_good_.parent_path());
        config_.host_part_only = true;
        config_.extra = "config_source:\n  etcd:\n    endpoints: [\"" + etcd_.url() + "\"]\n    prefix: " + kPrefix +
                        "\n    host_id: gw-tls\n    last_good: \"" + last_good_.string() +
                        "\"\n    tls:\n      ca_file: \"" + tls_.ca_file + "\"\n      cert_file: \"" + tls_.cert_file +
                        "\"\n      key_file: \"" + tls_.key_file + "\"\n";
    }
    void TearDown() override {
        GatewayFixture::TearDown();
        etcd_.stop();
    }
    std::string fleetDocument(const std::string& body) const { return test::fleetDocument(config_, body); }
    std::int64_t putConfig(const std::string& text) {
        fleet::EtcdClient client({etcd_.url()}, 3000ms, tls_);
        auto revision = client.put(std::string(kPrefix) + "/config", text);
        EXPECT_TRUE(revision.has_value()) << (revision ? "" : revision.error().message);
        return revision.value_or(0);
    }
    std::string fleetBody() {
        auto result = httpGet(port(), "/fleet");
        return result.ok() ? result.response.body() : "(" + result.error() + ")";
    }

    std::unique_ptr<TestCa> ca_;
    EtcdTlsConfig tls_;
    EtcdServer etcd_;
    std::filesystem::path last_good_;
};

TEST_F(FleetTlsTest, TheHostReadsWatchesAndReportsOverTlsWithAClientCertificate) {
    putConfig(fleetDocument("v1\n"));
    ASSERT_TRUE(startGateway());
    EXPECT_EQ(fleetBody(), "v1\n");
    const auto revision = putConfig(fleetDocument("v2\n"));
    EXPECT_TRUE(eventually([&] { return fleetBody() == "v2\n"; }, 2s)) << fleetBody();
    // Its status arrives through TLS too; gwctl takes the TLS settings from the host's file.
    EXPECT_TRUE(eventually(
        [&] {
            const auto listed = runCommand(
                {gwctlBinary(), "fleet", "status", "--json", "--host-config", gateway_.configFile().string()},
                gateway_.dir(), 15s);
            const auto json = nlohmann::json::parse(listed.out, nullptr, false);
            return listed.exit_code == 0 && json.is_object() && json["hosts"].size() == 1 &&
                   json["hosts"][0].value("revision", std::int64_t{0}) == revision &&
                   json["hosts"][0].value("state", "") == "serving";
        },
        10s));
    const auto by_flags = runCommand({gwctlBinary(), "fleet", "status", "--etcd", etcd_.url(), "--prefix", kPrefix,
                                      "--cacert", tls_.ca_file, "--cert", tls_.cert_file, "--key", tls_.key_file},
                                     gateway_.dir(), 15s);
    EXPECT_EQ(by_flags.exit_code, 0) << by_flags.err;
    EXPECT_NE(by_flags.out.find("gw-tls"), std::string::npos) << by_flags.out;
}

TEST_F(FleetTlsTest, ClientsWithoutTheRightCredentialsAreRefusedAndSayWhy) {
    const std::string key = std::string(kPrefix) + "/config";
    // No client certificate: the member requires one.
    fleet::EtcdClient anonymous({etcd_.url()}, 3000ms, EtcdTlsConfig{.ca_file = tls_.ca_file});
    auto read = anonymous.get(key);
    ASSERT_FALSE(read);
    EXPECT_NE(read.error().message.find(etcd_.url()), std::string::npos) << read.error().message;
    // A CA that did not sign the member's certificate.
    TestCa other((gateway_.dir() / "pki").string(), "other");
    fleet::EtcdClient mistrusting({etcd_.url()}, 3000ms, EtcdTlsConfig{.ca_file = other.caFile()});
    read = mistrusting.get(key);
    ASSERT_FALSE(read);
    EXPECT_NE(read.error().message.find("TLS handshake: certificate verify failed"), std::string::npos)
        << read.error().message;
    // Files that are not there: every call says which.
    fleet::EtcdClient missing({etcd_.url()}, 3000ms, EtcdTlsConfig{.ca_file = "/nonexistent/ca.pem"});
    read = missing.get(key);
    ASSERT_FALSE(read);
    EXPECT_NE(read.error().message.find("etcd tls: ca_file /nonexistent/ca.pem"), std::string::npos)
        << read.error().message;
    // Plain HTTP to a TLS member.
    fleet::EtcdClient plain({"http://127.0.0.1:" + std::to_string(etcd_.clientPort())}, 3000ms);
    EXPECT_FALSE(plain.get(key));
    // The right credentials.
    fleet::EtcdClient trusted({etcd_.url()}, 3000ms, tls_);
    EXPECT_TRUE(trusted.get(key)) << trusted.get(key).error().message;
}

}  // namespace
}  // namespace hotgate::test
