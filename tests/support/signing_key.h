// SigningKey: a fresh key pair made with OpenSSL's APIs, to sign test files the way
// docs/operations.md#signed-artifacts signs a release (Ed25519 over the bytes, ECDSA P-256 as DER
// over their SHA-256) and to write its public key as PEM. RSA exists only to be refused.
#pragma once

#include <filesystem>
#include <string>

namespace hotgate::test {

enum class SigningKeyType { Ed25519, EcdsaP256, EcdsaP384, Rsa2048 };

class SigningKey {
public:
    // Generates a key; throws std::runtime_error when OpenSSL cannot.
    explicit SigningKey(SigningKeyType type);
    ~SigningKey();
    SigningKey(const SigningKey&) = delete;
    SigningKey& operator=(const SigningKey&) = delete;

    // Writes the public key ("-----BEGIN PUBLIC KEY-----") to `file`; returns it.
    std::filesystem::path writePublicKey(const std::filesystem::path& file) const;
    // Signs the bytes of `file` and writes the signature to `signature_file`; returns it.
    std::filesystem::path signFile(const std::filesystem::path& file,
                                   const std::filesystem::path& signature_file) const;

private:
    SigningKeyType type_;
    void* key_;  // EVP_PKEY*
};

}  // namespace hotgate::test
