#include "support/signing_key.h"

#include <openssl/evp.h>
#include <openssl/pem.h>

#include <fstream>
#include <iterator>
#include <memory>
#include <stdexcept>
#include <vector>

namespace hotgate::test {
namespace {

EVP_PKEY* generate(SigningKeyType type) {
    switch (type) {
        case SigningKeyType::Ed25519:
            return EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
        case SigningKeyType::EcdsaP256:
            return EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
        case SigningKeyType::EcdsaP384:
            return EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384");
        case SigningKeyType::Rsa2048:
            return EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<std::size_t>(2048));
    }
    return nullptr;
}

}  // namespace

SigningKey::SigningKey(SigningKeyType type) : type_(type), key_(generate(type)) {
    if (!key_) throw std::runtime_error("OpenSSL could not generate a test signing key");
}

SigningKey::~SigningKey() {
    EVP_PKEY_free(static_cast<EVP_PKEY*>(key_));
}

std::filesystem::path SigningKey::writePublicKey(const std::filesystem::path& file) const {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_file(file.c_str(), "w"), BIO_free);
    if (!bio || PEM_write_bio_PUBKEY(bio.get(), static_cast<EVP_PKEY*>(key_)) != 1)
        throw std::runtime_error("cannot write public key " + file.string());
    return file;
}

std::filesystem::path SigningKey::signFile(const std::filesystem::path& file,
                                           const std::filesystem::path& signature_file) const {
    std::ifstream in(file, std::ios::binary);
    const std::vector<unsigned char> message((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    const EVP_MD* digest = type_ == SigningKeyType::Ed25519 ? nullptr : EVP_sha256();
    std::size_t length = 0;
    if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, digest, nullptr, static_cast<EVP_PKEY*>(key_)) != 1 ||
        EVP_DigestSign(ctx.get(), nullptr, &length, message.data(), message.size()) != 1)
        throw std::runtime_error("cannot sign " + file.string());
    std::vector<unsigned char> signature(length);
    if (EVP_DigestSign(ctx.get(), signature.data(), &length, message.data(), message.size()) != 1)
        throw std::runtime_error("cannot sign " + file.string());
    std::ofstream out(signature_file, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(signature.data()), static_cast<std::streamsize>(length));
    if (!out) throw std::runtime_error("cannot write signature " + signature_file.string());
    return signature_file;
}

}  // namespace hotgate::test
