// release/artifact_verify.h: the SHA-256 of a file, operator-given digests, and detached
// signatures (Ed25519 and ECDSA P-256) made with fresh keys, good and bad, and keys that are
// refused. The last test signs with the openssl commands docs/operations.md gives.
#include <gtest/gtest.h>
#include <openssl/sha.h>
#include <unistd.h>

#include <fstream>

#include "release/artifact_verify.h"
#include "support/child_process.h"
#include "support/signing_key.h"

namespace hotgate::release {
namespace {

using test::SigningKey;
using test::SigningKeyType;

class ArtifactVerify : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = test::makeTempDir("hotgate-artifact-verify");
        ASSERT_FALSE(dir_.empty());
        binary_ = write("hotgate", std::string(100'000, 'x') + "a release");
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }

    std::filesystem::path write(const std::string& name, const std::string& bytes) {
        std::ofstream(dir_ / name, std::ios::binary | std::ios::trunc) << bytes;
        return dir_ / name;
    }

    // The verdict for `signature` over binary_ with `key`'s public key.
    Result<SignatureVerdict> verifyWith(const SigningKey& key, const std::filesystem::path& signature) {
        return verifySignature(binary_, signature, key.writePublicKey(dir_ / "key.pub"));
    }

    std::filesystem::path dir_;
    std::filesystem::path binary_;
};

TEST_F(ArtifactVerify, Sha256OfAFileIsTheDigestOfItsBytes) {
    EXPECT_EQ(sha256OfFile(write("abc", "abc")),
              std::string("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
    EXPECT_EQ(sha256OfFile(write("empty", "")),
              std::string("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
    // Larger than one read: the same digest as OpenSSL's one-shot SHA256 over the bytes.
    const std::string bytes(300'000, 'q');
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), digest);
    EXPECT_EQ(sha256OfFile(write("big", bytes)), lowerHex(digest, sizeof digest));

    const auto missing = sha256OfFile(dir_ / "missing");
    ASSERT_FALSE(missing);
    EXPECT_NE(missing.error().message.find((dir_ / "missing").string()), std::string::npos);
    EXPECT_EQ(missing.error().errnum, ENOENT);
}

TEST_F(ArtifactVerify, Sha256HexIsAcceptedInEitherCaseAndMalformedIsRefused) {
    const std::string lower = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    std::string upper = lower;
    for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    EXPECT_EQ(parseSha256Hex(upper), lower);
    EXPECT_EQ(parseSha256Hex(lower), lower);

    const auto short_one = parseSha256Hex(lower.substr(1));
    ASSERT_FALSE(short_one);
    EXPECT_NE(short_one.error().message.find("64 hex digits expected, got 63"), std::string::npos)
        << short_one.error().message;
    const auto not_hex = parseSha256Hex("g" + lower.substr(1));
    ASSERT_FALSE(not_hex);
    EXPECT_NE(not_hex.error().message.find("'g' at position 1 is not a hex digit"), std::string::npos)
        << not_hex.error().message;
    EXPECT_FALSE(parseSha256Hex(""));
    EXPECT_FALSE(parseSha256Hex(lower + " "));
}

TEST_F(ArtifactVerify, Ed25519SignatureVerifiesAndATamperedFileOrOtherKeyDoesNot) {
    const SigningKey key(SigningKeyType::Ed25519);
    const auto signature = key.signFile(binary_, dir_ / "hotgate.sig");
    const auto good = verifyWith(key, signature);
    ASSERT_TRUE(good) << good.error().message;
    EXPECT_TRUE(good->valid);
    EXPECT_EQ(good->algorithm, SignatureAlgorithm::Ed25519);

    const SigningKey other(SigningKeyType::Ed25519);
    const auto wrong_key = verifyWith(other, signature);
    ASSERT_TRUE(wrong_key) << wrong_key.error().message;
    EXPECT_FALSE(wrong_key->valid);

    std::ofstream(binary_, std::ios::binary | std::ios::app) << "!";
    const auto tampered = verifyWith(key, signature);
    ASSERT_TRUE(tampered) << tampered.error().message;
    EXPECT_FALSE(tampered->valid);

    const auto garbage = verifyWith(key, write("garbage.sig", "not a signature"));
    ASSERT_TRUE(garbage) << garbage.error().message;
    EXPECT_FALSE(garbage->valid);
}

TEST_F(ArtifactVerify, EcdsaP256SignatureVerifiesAndATamperedFileOrOtherKeyDoesNot) {
    const SigningKey key(SigningKeyType::EcdsaP256);
    const auto signature = key.signFile(binary_, dir_ / "hotgate.sig");
    const auto good = verifyWith(key, signature);
    ASSERT_TRUE(good) << good.error().message;
    EXPECT_TRUE(good->valid);
    EXPECT_EQ(good->algorithm, SignatureAlgorithm::EcdsaP256Sha256);

    const SigningKey other(SigningKeyType::EcdsaP256);
    const auto wrong_key = verifyWith(other, signature);
    ASSERT_TRUE(wrong_key) << wrong_key.error().message;
    EXPECT_FALSE(wrong_key->valid);

    // An Ed25519 signature is no ECDSA signature (it is not even DER).
    const SigningKey ed25519(SigningKeyType::Ed25519);
    const auto crossed = verifyWith(key, ed25519.signFile(binary_, dir_ / "ed25519.sig"));
    ASSERT_TRUE(crossed) << crossed.error().message;
    EXPECT_FALSE(crossed->valid);

    std::ofstream(binary_, std::ios::binary | std::ios::app) << "!";
    const auto tampered = verifyWith(key, signature);
    ASSERT_TRUE(tampered) << tampered.error().message;
    EXPECT_FALSE(tampered->valid);
}

TEST_F(ArtifactVerify, KeysOfAnotherTypeOrCurveAndUnreadableFilesAreRefusedByName) {
    const SigningKey rsa(SigningKeyType::Rsa2048);
    const auto rsa_refused = verifyWith(rsa, rsa.signFile(binary_, dir_ / "rsa.sig"));
    ASSERT_FALSE(rsa_refused);
    EXPECT_NE(rsa_refused.error().message.find("expected Ed25519 or ECDSA P-256"), std::string::npos)
        << rsa_refused.error().message;
    EXPECT_NE(rsa_refused.error().message.find("key.pub"), std::string::npos) << rsa_refused.error().message;

    const SigningKey p384(SigningKeyType::EcdsaP384);
    const auto p384_refused = verifyWith(p384, p384.signFile(binary_, dir_ / "p384.sig"));
    ASSERT_FALSE(p384_refused);
    EXPECT_NE(p384_refused.error().message.find("curve"), std::string::npos) << p384_refused.error().message;

    const auto not_a_key = verifySignature(binary_, binary_, write("junk.pem", "hello"));
    ASSERT_FALSE(not_a_key);
    EXPECT_NE(not_a_key.error().message.find("junk.pem holds no PEM or DER public key"), std::string::npos)
        << not_a_key.error().message;

    const SigningKey key(SigningKeyType::Ed25519);
    const auto no_signature = verifyWith(key, dir_ / "missing.sig");
    ASSERT_FALSE(no_signature);
    EXPECT_NE(no_signature.error().message.find("signature " + (dir_ / "missing.sig").string()), std::string::npos)
        << no_signature.error().message;
    EXPECT_EQ(no_signature.error().errnum, ENOENT);
}

// The commands of docs/operations.md#signed-artifacts, run as written.
TEST_F(ArtifactVerify, SignaturesMadeWithTheOpensslCommandsVerify) {
    const std::string openssl = "/usr/bin/openssl";
    if (::access(openssl.c_str(), X_OK) != 0) GTEST_SKIP() << "needs the openssl command (tools/deps installs it)";
    auto run = [&](std::vector<std::string> argv) {
        argv.insert(argv.begin(), openssl);
        const auto result = test::runCommand(argv, dir_);
        EXPECT_EQ(result.exit_code, 0) << result.err;
    };
    const auto key = (dir_ / "key.pem").string();
    const auto pub = (dir_ / "key.pub").string();
    const auto sig = (dir_ / "hotgate.sig").string();

    run({"genpkey", "-algorithm", "ed25519", "-out", key});
    run({"pkey", "-in", key, "-pubout", "-out", pub});
    run({"pkeyutl", "-sign", "-rawin", "-inkey", key, "-in", binary_.string(), "-out", sig});
    auto verdict = verifySignature(binary_, sig, pub);
    ASSERT_TRUE(verdict) << verdict.error().message;
    EXPECT_TRUE(verdict->valid);
    EXPECT_EQ(verdict->algorithm, SignatureAlgorithm::Ed25519);

    run({"genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", key});
    run({"pkey", "-in", key, "-pubout", "-out", pub});
    run({"dgst", "-sha256", "-sign", key, "-out", sig, binary_.string()});
    verdict = verifySignature(binary_, sig, pub);
    ASSERT_TRUE(verdict) << verdict.error().message;
    EXPECT_TRUE(verdict->valid);
    EXPECT_EQ(verdict->algorithm, SignatureAlgorithm::EcdsaP256Sha256);

    // The private key in place of the public one: refused with a hint.
    const auto private_given = verifySignature(binary_, sig, key);
    ASSERT_FALSE(private_given);
    EXPECT_NE(private_given.error().message.find("private key"), std::string::npos) << private_given.error().message;
}

}  // namespace
}  // namespace hotgate::release
