// gwctl upgrade --binary URL with --sha256, --signature/--public-key and the running version's
// upgrade.require_signature, against a running gateway: a binary that fails any check is refused
// before anything runs it (not even --check-config) and the running version serves on; one that
// passes every check is downloaded into the test's bundle directory and reaches ready. Takeover
// mode only: the artifact step is the same in both modes, and takeover needs no privilege.
#include <sys/stat.h>

#include <fstream>

#include "release/artifact_verify.h"
#include "support/file_server.h"
#include "upgrade_fixture.h"

namespace hotgate::test {
namespace {

using namespace std::chrono_literals;

class UpgradeArtifactTest : public UpgradeTest {
protected:
    void SetUp() override {
        UpgradeTest::SetUp();
        if (IsSkipped() || HasFatalFailure()) return;
        served_ = gateway_.dir() / "served";
        bundles_ = gateway_.dir() / "bundles";  // never the default /var/lib/hotgate/bundles
        ran_marker_ = gateway_.dir() / "binary-ran";
        std::filesystem::create_directories(served_);
    }

    // A copy of hotgate in the served directory, and its SHA-256.
    std::string serveCopyOfHotgate(const std::string& name = "hotgate") {
        std::filesystem::copy_file(hotgateBinary(), served_ / name, std::filesystem::copy_options::overwrite_existing);
        const auto digest = release::sha256OfFile(served_ / name);
        EXPECT_TRUE(digest) << digest.error().message;
        return digest.value_or("");
    }

    // A script in the served directory that leaves `ran_marker_` behind if anything runs it
    // (--check-config included), then behaves as hotgate.
    std::filesystem::path serveTracedBinary(const std::string& name = "traced") {
        const auto file = served_ / name;
        std::ofstream(file) << "#!/bin/sh\ntouch '" << ran_marker_.string() << "'\nexec '" << hotgateBinary()
                            << "' \"$@\"\n";
        ::chmod(file.c_str(), 0755);
        return file;
    }

    // Runs an openssl command in the test's directory (the commands docs/operations.md gives).
    void openssl(std::vector<std::string> args) {
        args.insert(args.begin(), "/usr/bin/openssl");
        const auto result = runCommand(args, gateway_.dir());
        ASSERT_EQ(result.exit_code, 0) << result.err;
    }

    // An Ed25519 key pair made with openssl: key.pem, key.pub (or under another stem).
    void makeEd25519Key(const std::string& stem = "key") {
        openssl({"genpkey", "-algorithm", "ed25519", "-out", (gateway_.dir() / (stem + ".pem")).string()});
        openssl({"pkey", "-in", (gateway_.dir() / (stem + ".pem")).string(), "-pubout", "-out",
                 (gateway_.dir() / (stem + ".pub")).string()});
    }
    std::filesystem::path signEd25519(const std::filesystem::path& file, const std::string& stem = "key") {
        const auto signature = gateway_.dir() / (file.filename().string() + "." + stem + ".sig");
        openssl({"pkeyutl", "-sign", "-rawin", "-inkey", (gateway_.dir() / (stem + ".pem")).string(), "-in",
                 file.string(), "-out", signature.string()});
        return signature;
    }

    // The upgrade was refused with every one of `reasons` on stderr, nothing of it ran, nothing
    // landed in the bundle directory, and the running version serves on alone.
    void expectRefusedAndUntouched(const CommandResult& result, const std::vector<std::string>& reasons) {
        EXPECT_NE(result.exit_code, 0) << result.out;
        EXPECT_NE(result.exit_code, -1) << "gwctl hung";
        for (const auto& reason : reasons)
            EXPECT_NE(result.err.find(reason), std::string::npos) << "no '" << reason << "' in stderr:\n" << result.err;
        EXPECT_EQ(result.out.find("started "), std::string::npos) << result.out;
        EXPECT_FALSE(std::filesystem::exists(ran_marker_)) << "the refused binary was run";
        EXPECT_FALSE(std::filesystem::exists(bundles_) && !std::filesystem::is_empty(bundles_))
            << "a refused download stayed in the bundle directory";
        const auto versions = controlStatus().value("versions", nlohmann::json::array());
        ASSERT_EQ(versions.size(), 1u) << versions.dump();
        EXPECT_EQ(versions[0].value("pid", 0), gateway_.pid());
        const auto answer = httpGet(port(), "/");
        EXPECT_EQ(answer.status(), 200) << "the running version must serve on";
    }

    std::vector<std::string> bundleArgs() const { return {"--bundle-dir", bundles_.string()}; }

    std::filesystem::path served_;
    std::filesystem::path bundles_;
    std::filesystem::path ran_marker_;
};

// (a) A file:// URL whose bytes are not the --sha256 given.
TEST_P(UpgradeArtifactTest, WrongSha256IsRefusedNamingBothDigests) {
    ASSERT_TRUE(startGateway());
    const auto actual = serveCopyOfHotgate();
    const std::string wrong(64, 'e');
    auto extra = bundleArgs();
    extra.insert(extra.end(), {"--sha256", wrong});
    const auto url = "file://" + (served_ / "hotgate").string();
    const auto result = upgrade(url, gateway_.configFile().string(), extra);
    expectRefusedAndUntouched(result, {"sha256 mismatch for " + url, "expected " + wrong, "got " + actual});

    // A traced binary with a wrong digest (upper case, as operators paste them) never runs.
    const auto traced = serveTracedBinary();
    std::string upper = wrong;
    for (auto& c : upper) c = 'E';
    extra = bundleArgs();
    extra.insert(extra.end(), {"--sha256", upper});
    expectRefusedAndUntouched(upgrade("file://" + traced.string(), gateway_.configFile().string(), extra),
                              {"sha256 mismatch", "expected " + wrong});
}

// (b) http:// from a server on 127.0.0.1, with the right digest and a valid Ed25519 signature.
TEST_P(UpgradeArtifactTest, SignedHttpDownloadReachesReadyAndServesAfterRollback) {
    ASSERT_TRUE(startGateway());
    const std::string old_version(httpGet(port(), "/").response["x-hotgate-version"]);
    const auto sha256 = serveCopyOfHotgate();
    ASSERT_NO_FATAL_FAILURE(makeEd25519Key());
    const auto signature = signEd25519(served_ / "hotgate");
    FileServer server(served_);
    ASSERT_NE(server.port(), 0);

    auto extra = bundleArgs();
    extra.insert(extra.end(), {"--sha256", sha256, "--signature", signature.string(), "--public-key",
                               (gateway_.dir() / "key.pub").string()});
    const auto result = upgrade(server.url("hotgate"), gateway_.configFile().string(), extra);
    ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
    const auto bundled = bundles_ / sha256 / "hotgate";
    EXPECT_NE(result.out.find("artifact: " + bundled.string()), std::string::npos) << result.out;
    EXPECT_NE(result.out.find("Ed25519 signature valid"), std::string::npos) << result.out;
    EXPECT_NE(result.out.find("started " + bundled.string()), std::string::npos) << result.out;
    EXPECT_NE(result.out.find("ready: "), std::string::npos) << result.out;
    EXPECT_TRUE(result.err.empty()) << "no progress line when stderr is not a terminal: " << result.err;
    struct stat st {};
    ASSERT_EQ(::stat(bundled.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0755u);
    EXPECT_EQ(release::sha256OfFile(bundled).value_or(""), sha256);
    EXPECT_EQ(controlStatus().value("versions", nlohmann::json::array()).size(), 2u);

    const auto rolled = gwctl({"rollback"});
    ASSERT_EQ(rolled.exit_code, 0) << rolled.out << rolled.err;
    EXPECT_TRUE(onlyOneVersionLeft());
    const auto answer = httpGet(port(), "/");
    EXPECT_EQ(answer.status(), 200);
    EXPECT_EQ(std::string(answer.response["x-hotgate-version"]), old_version);
}

// (c) The running version's upgrade.require_signature refuses an unsigned binary.
TEST_P(UpgradeArtifactTest, RequireSignatureRefusesAnUnsignedBinary) {
    config_.extra = "upgrade:\n  require_signature: true\n";
    ASSERT_TRUE(startGateway());
    EXPECT_EQ(controlStatus().value("require_signature", false), true);
    const auto traced = serveTracedBinary();
    expectRefusedAndUntouched(upgrade(traced.string(), gateway_.configFile().string(), bundleArgs()),
                              {"require_signature", "--signature"});
    // The same with a digest: a digest is not a signature.
    const auto sha256 = release::sha256OfFile(traced);
    ASSERT_TRUE(sha256);
    auto extra = bundleArgs();
    extra.insert(extra.end(), {"--sha256", *sha256});
    expectRefusedAndUntouched(upgrade(traced.string(), gateway_.configFile().string(), extra), {"require_signature"});
}

// (d) A signature by another key, and one over other bytes.
TEST_P(UpgradeArtifactTest, BadSignatureIsRefused) {
    ASSERT_TRUE(startGateway());
    const auto traced = serveTracedBinary();
    ASSERT_NO_FATAL_FAILURE(makeEd25519Key("trusted"));
    ASSERT_NO_FATAL_FAILURE(makeEd25519Key("stranger"));
    FileServer server(served_);
    ASSERT_NE(server.port(), 0);
    const auto trusted_key = (gateway_.dir() / "trusted.pub").string();

    auto extra = bundleArgs();
    const auto by_stranger = signEd25519(traced, "stranger");
    extra.insert(extra.end(), {"--signature", by_stranger.string(), "--public-key", trusted_key});
    expectRefusedAndUntouched(upgrade(server.url("traced"), gateway_.configFile().string(), extra),
                              {"signature " + by_stranger.string() + " does not verify over " + server.url("traced"),
                               "Ed25519 public key " + trusted_key});

    const auto other_bytes = gateway_.writeFile("other", "other bytes");
    extra = bundleArgs();
    extra.insert(extra.end(),
                 {"--signature", signEd25519(other_bytes, "trusted").string(), "--public-key", trusted_key});
    expectRefusedAndUntouched(upgrade(traced.string(), gateway_.configFile().string(), extra), {"does not verify"});
    EXPECT_GE(server.requests(), 1u);
}

// (e) Larger than --max-download-size, announced (Content-Length) or not; and a server that
// never answers within --download-timeout.
TEST_P(UpgradeArtifactTest, OversizedOrStalledDownloadIsRefused) {
    ASSERT_TRUE(startGateway());
    serveTracedBinary();
    std::ofstream(served_ / "big", std::ios::binary) << std::string(8192, 'z');
    FileServer server(served_);
    ASSERT_NE(server.port(), 0);
    for (const std::string name : {"big", "nolength/big"}) {
        SCOPED_TRACE(name);
        auto extra = bundleArgs();
        extra.insert(extra.end(), {"--max-download-size", "4k"});
        expectRefusedAndUntouched(upgrade(server.url(name), gateway_.configFile().string(), extra),
                                  {"download " + server.url(name), "larger than the limit of 4096 bytes"});
    }
    auto extra = bundleArgs();
    extra.insert(extra.end(), {"--download-timeout", "500ms"});
    const auto started = std::chrono::steady_clock::now();
    expectRefusedAndUntouched(upgrade(server.url("stall"), gateway_.configFile().string(), extra),
                              {"download " + server.url("stall"), "not done within 500 ms"});
    EXPECT_LT(std::chrono::steady_clock::now() - started, 10s);
    expectRefusedAndUntouched(upgrade(server.url("missing"), gateway_.configFile().string(), bundleArgs()),
                              {"HTTP 404"});
}

// Malformed options are refused before gwctl asks the running version anything.
TEST_P(UpgradeArtifactTest, MalformedArtifactOptionsAreRefusedClearly) {
    ASSERT_TRUE(startGateway());
    const auto traced = serveTracedBinary();
    auto extra = bundleArgs();
    extra.insert(extra.end(), {"--sha256", "abc123"});
    expectRefusedAndUntouched(upgrade(traced.string(), gateway_.configFile().string(), extra),
                              {"--sha256: 'abc123' is not a SHA-256 digest: 64 hex digits expected, got 6"});
    extra = bundleArgs();
    extra.insert(extra.end(), {"--signature", (gateway_.dir() / "x.sig").string()});
    expectRefusedAndUntouched(upgrade(traced.string(), gateway_.configFile().string(), extra),
                              {"--signature needs --public-key"});
    extra = bundleArgs();
    extra.insert(extra.end(), {"--public-key", (gateway_.dir() / "x.pub").string()});
    expectRefusedAndUntouched(upgrade(traced.string(), gateway_.configFile().string(), extra),
                              {"--public-key needs --signature"});
}

INSTANTIATE_TEST_SUITE_P(Modes, UpgradeArtifactTest, ::testing::Values("off"),
                         [](const auto&) { return std::string("Takeover"); });

}  // namespace
}  // namespace hotgate::test
