// release/artifact.h: the artifact step of gwctl upgrade with file:// URLs and paths (no
// sockets; the http:// path runs in tests/integration/upgrade_artifact_test.cpp). A download
// lands at <bundle>/<sha256>/hotgate, 0755, only when every check passed.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "release/artifact.h"
#include "release/artifact_bundle.h"
#include "support/child_process.h"
#include "support/signing_key.h"

namespace hotgate::release {
namespace {

class Artifact : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = test::makeTempDir("hotgate-artifact");
        ASSERT_FALSE(dir_.empty());
        binary_ = dir_ / "release" / "hotgate";
        std::filesystem::create_directories(binary_.parent_path());
        std::ofstream(binary_, std::ios::binary) << std::string(5000, 'b');
        const auto digest = sha256OfFile(binary_);
        ASSERT_TRUE(digest);
        sha256_ = *digest;
        request_.source = "file://" + binary_.string();
        request_.bundle_dir = dir_ / "bundles";
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }

    // Everything in the bundle directory, staging files included.
    std::vector<std::string> bundleEntries() const {
        std::vector<std::string> names;
        if (!std::filesystem::exists(request_.bundle_dir)) return names;
        for (const auto& entry : std::filesystem::recursive_directory_iterator(request_.bundle_dir))
            names.push_back(entry.path().lexically_relative(request_.bundle_dir).string());
        return names;
    }

    std::filesystem::path dir_;
    std::filesystem::path binary_;
    std::string sha256_;
    ArtifactRequest request_;
};

TEST_F(Artifact, FileUrlIsDownloadedIntoTheBundleUnderItsDigest) {
    request_.expected_sha256 = sha256_;
    const test::SigningKey key(test::SigningKeyType::Ed25519);
    request_.signature =
        SignatureFiles{key.signFile(binary_, dir_ / "hotgate.sig"), key.writePublicKey(dir_ / "key.pub")};
    const auto report = prepareArtifact(request_);
    ASSERT_TRUE(report.ok()) << report.error->message;
    EXPECT_EQ(report.origin, ArtifactOrigin::Downloaded);
    EXPECT_EQ(report.binary.string(), (request_.bundle_dir / sha256_ / "hotgate").string());
    EXPECT_EQ(report.sha256, sha256_);
    EXPECT_EQ(report.bytes, 5000u);
    EXPECT_EQ(report.signature, SignatureCheck::Valid);
    EXPECT_EQ(report.signature_algorithm, SignatureAlgorithm::Ed25519);
    EXPECT_EQ(sha256OfFile(report.binary), sha256_);
    struct stat st {};
    ASSERT_EQ(::stat(report.binary.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0755u);
    EXPECT_EQ(bundleEntries(), (std::vector<std::string>{sha256_, sha256_ + "/hotgate"})) << "no staging file left";

    // Without a digest to match, the download still lands under its own.
    request_.expected_sha256.reset();
    request_.signature.reset();
    const auto again = prepareArtifact(request_);
    ASSERT_TRUE(again.ok()) << again.error->message;
    EXPECT_EQ(again.binary.string(), report.binary.string());
    EXPECT_EQ(again.signature, SignatureCheck::NotChecked);
}

TEST_F(Artifact, WrongDigestOrSignatureRefusesAndLeavesNothingInTheBundle) {
    const std::string wrong(64, 'a');
    request_.expected_sha256 = wrong;
    const auto mismatch = prepareArtifact(request_);
    ASSERT_FALSE(mismatch.ok());
    const auto& message = mismatch.error->message;
    EXPECT_NE(message.find("sha256 mismatch for " + request_.source), std::string::npos) << message;
    EXPECT_NE(message.find("expected " + wrong), std::string::npos) << message;
    EXPECT_NE(message.find("got " + sha256_), std::string::npos) << message;
    EXPECT_EQ(bundleEntries(), std::vector<std::string>{});

    request_.expected_sha256 = sha256_;
    const test::SigningKey signer(test::SigningKeyType::EcdsaP256);
    const test::SigningKey other(test::SigningKeyType::EcdsaP256);
    request_.signature =
        SignatureFiles{signer.signFile(binary_, dir_ / "hotgate.sig"), other.writePublicKey(dir_ / "other.pub")};
    const auto bad = prepareArtifact(request_);
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.signature, SignatureCheck::Invalid);
    EXPECT_NE(bad.error->message.find("does not verify over " + request_.source), std::string::npos)
        << bad.error->message;
    EXPECT_NE(bad.error->message.find("ECDSA P-256"), std::string::npos) << bad.error->message;
    EXPECT_EQ(bundleEntries(), std::vector<std::string>{});
}

TEST_F(Artifact, DownloadLargerThanTheLimitOrMissingIsRefusedByUrl) {
    request_.limits.max_bytes = 4096;
    const auto too_large = prepareArtifact(request_);
    ASSERT_FALSE(too_large.ok());
    EXPECT_NE(too_large.error->message.find("larger than the limit of 4096 bytes"), std::string::npos)
        << too_large.error->message;
    EXPECT_EQ(bundleEntries(), std::vector<std::string>{});

    request_.limits.max_bytes = 1 << 20;
    request_.source = "file://" + (dir_ / "missing").string();
    const auto missing = prepareArtifact(request_);
    ASSERT_FALSE(missing.ok());
    EXPECT_NE(missing.error->message.find("download " + request_.source), std::string::npos) << missing.error->message;
    EXPECT_EQ(bundleEntries(), std::vector<std::string>{});
}

TEST_F(Artifact, PathIsVerifiedInPlaceAndNotCopied) {
    request_.source = binary_.string();
    const auto unchecked = prepareArtifact(request_);
    ASSERT_TRUE(unchecked.ok()) << unchecked.error->message;
    EXPECT_EQ(unchecked.origin, ArtifactOrigin::LocalPath);
    EXPECT_EQ(unchecked.binary.string(), binary_.string());
    EXPECT_TRUE(unchecked.sha256.empty()) << "nobody asked: not read";

    request_.expected_sha256 = sha256_;
    const test::SigningKey key(test::SigningKeyType::EcdsaP256);
    request_.signature =
        SignatureFiles{key.signFile(binary_, dir_ / "hotgate.sig"), key.writePublicKey(dir_ / "key.pub")};
    const auto verified = prepareArtifact(request_);
    ASSERT_TRUE(verified.ok()) << verified.error->message;
    EXPECT_EQ(verified.binary.string(), binary_.string());
    EXPECT_EQ(verified.signature, SignatureCheck::Valid);
    EXPECT_EQ(bundleEntries(), std::vector<std::string>{});

    request_.expected_sha256 = std::string(64, '0');
    const auto mismatch = prepareArtifact(request_);
    ASSERT_FALSE(mismatch.ok());
    EXPECT_NE(mismatch.error->message.find("sha256 mismatch for " + binary_.string()), std::string::npos);

    request_.source = (dir_ / "missing").string();
    const auto missing = prepareArtifact(request_);
    ASSERT_FALSE(missing.ok());
    EXPECT_EQ(missing.error->errnum, ENOENT);
}

}  // namespace
}  // namespace hotgate::release
