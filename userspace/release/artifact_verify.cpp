#include "release/artifact_verify.h"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/pem.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cctype>
#include <memory>

#include "common/unique_fd.h"

namespace hotgate::release {
namespace {

// A signature or key file is small; anything bigger is not one.
constexpr std::size_t kMaxSmallFileBytes = 64 * 1024;

struct PkeyFree {
    void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct MdCtxFree {
    void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};
struct BioFree {
    void operator()(BIO* bio) const { BIO_free(bio); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;
using BioPtr = std::unique_ptr<BIO, BioFree>;

// The newest OpenSSL error as text, clearing the queue ("" when there is none).
std::string opensslError() {
    std::string text;
    while (const unsigned long code = ERR_get_error()) {
        char buffer[256];
        ERR_error_string_n(code, buffer, sizeof buffer);
        text = buffer;
    }
    return text;
}

Result<std::string> readSmallFile(const std::filesystem::path& file, const char* what) {
    UniqueFd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return sysError(errno, "open ", what, " ", file.string());
    std::string text;
    char buffer[4096];
    while (true) {
        const ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return sysError(errno, "read ", what, " ", file.string());
        if (n == 0) break;
        text.append(buffer, static_cast<std::size_t>(n));
        if (text.size() > kMaxSmallFileBytes)
            return fail(what, " ", file.string(), " is larger than ", kMaxSmallFileBytes, " bytes: not a ", what);
    }
    return text;
}

// A whole file mapped read-only: EVP_DigestVerify takes Ed25519's message in one piece, and a
// binary of a few hundred MB need not be copied for it.
class MappedFile {
public:
    static Result<MappedFile> open(const std::filesystem::path& file) {
        UniqueFd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
        if (!fd) return sysError(errno, "open ", file.string());
        struct stat st {};
        if (::fstat(fd.get(), &st) != 0) return sysError(errno, "stat ", file.string());
        MappedFile mapped;
        mapped.size_ = static_cast<std::size_t>(st.st_size);
        if (mapped.size_ == 0) return mapped;  // mmap refuses a length of 0
        void* at = ::mmap(nullptr, mapped.size_, PROT_READ, MAP_PRIVATE, fd.get(), 0);
        if (at == MAP_FAILED) return sysError(errno, "map ", file.string());
        mapped.data_ = static_cast<const unsigned char*>(at);
        return mapped;
    }
    MappedFile(MappedFile&& other) noexcept
        : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}
    MappedFile& operator=(MappedFile&&) = delete;
    MappedFile(const MappedFile&) = delete;
    ~MappedFile() {
        if (data_) ::munmap(const_cast<unsigned char*>(data_), size_);
    }
    const unsigned char* data() const { return data_ ? data_ : reinterpret_cast<const unsigned char*>(""); }
    std::size_t size() const { return size_; }

private:
    MappedFile() = default;
    const unsigned char* data_ = nullptr;
    std::size_t size_ = 0;
};

// Reads a public key, PEM first, then DER; the scheme follows from its type (and curve).
Result<std::pair<PkeyPtr, SignatureAlgorithm>> readPublicKey(const std::filesystem::path& file) {
    auto text = readSmallFile(file, "public key");
    if (!text) return tl::unexpected(text.error());
    BioPtr pem(BIO_new_mem_buf(text->data(), static_cast<int>(text->size())));
    PkeyPtr key(PEM_read_bio_PUBKEY(pem.get(), nullptr, nullptr, nullptr));
    if (!key) {
        const auto* der = reinterpret_cast<const unsigned char*>(text->data());
        key.reset(d2i_PUBKEY(nullptr, &der, static_cast<long>(text->size())));
    }
    if (!key) {
        const auto why = opensslError();
        return fail("public key ", file.string(), " holds no PEM or DER public key",
                    text->find("PRIVATE KEY") != std::string::npos ? " (it is a private key: give the public one, "
                                                                     "openssl pkey -in key.pem -pubout)"
                                                                   : "",
                    why.empty() ? "" : ": ", why);
    }
    switch (EVP_PKEY_get_base_id(key.get())) {
        case EVP_PKEY_ED25519:
            return std::pair{std::move(key), SignatureAlgorithm::Ed25519};
        case EVP_PKEY_EC: {
            char curve[80] = {};
            std::size_t length = 0;
            if (EVP_PKEY_get_utf8_string_param(key.get(), "group", curve, sizeof curve, &length) != 1)
                return fail("public key ", file.string(), " is an EC key without a named curve; expected P-256");
            if (std::string_view(curve) != SN_X9_62_prime256v1 && std::string_view(curve) != "P-256")
                return fail("public key ", file.string(), " is an EC key on curve ", curve,
                            "; expected P-256 (prime256v1) or Ed25519");
            return std::pair{std::move(key), SignatureAlgorithm::EcdsaP256Sha256};
        }
        default: {
            const char* type = OBJ_nid2sn(EVP_PKEY_get_base_id(key.get()));
            return fail("public key ", file.string(), " is of type ", type ? type : "unknown",
                        "; expected Ed25519 or ECDSA P-256");
        }
    }
}

}  // namespace

std::string lowerHex(const unsigned char* bytes, std::size_t size) {
    static const char* kDigits = "0123456789abcdef";
    std::string out;
    out.reserve(size * 2);
    for (std::size_t i = 0; i < size; ++i) {
        out += kDigits[bytes[i] >> 4];
        out += kDigits[bytes[i] & 0xf];
    }
    return out;
}

Result<std::string> parseSha256Hex(std::string_view text) {
    constexpr std::size_t kDigits = 64;
    if (text.size() != kDigits)
        return fail("'", text, "' is not a SHA-256 digest: ", kDigits, " hex digits expected, got ", text.size(),
                    " characters");
    std::string lower;
    lower.reserve(kDigits);
    for (std::size_t i = 0; i < text.size(); ++i) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (!std::isxdigit(c))
            return fail("'", text, "' is not a SHA-256 digest: '", text[i], "' at position ", i + 1,
                        " is not a hex digit");
        lower += static_cast<char>(std::tolower(c));
    }
    return lower;
}

Result<std::string> sha256OfFile(const std::filesystem::path& file) {
    UniqueFd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return sysError(errno, "open ", file.string());
    MdCtxPtr ctx(EVP_MD_CTX_new());
    if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1)
        return fail("SHA-256 of ", file.string(), ": ", opensslError());
    std::array<char, 1 << 16> buffer;
    while (true) {
        const ssize_t n = ::read(fd.get(), buffer.data(), buffer.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return sysError(errno, "read ", file.string());
        if (n == 0) break;
        EVP_DigestUpdate(ctx.get(), buffer.data(), static_cast<std::size_t>(n));
    }
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    if (EVP_DigestFinal_ex(ctx.get(), digest, &length) != 1)
        return fail("SHA-256 of ", file.string(), ": ", opensslError());
    return lowerHex(digest, length);
}

std::string_view signatureAlgorithmName(SignatureAlgorithm algorithm) {
    switch (algorithm) {
        case SignatureAlgorithm::Ed25519:
            return "Ed25519";
        case SignatureAlgorithm::EcdsaP256Sha256:
            return "ECDSA P-256";
    }
    return "?";
}

Result<SignatureVerdict> verifySignature(const std::filesystem::path& file, const std::filesystem::path& signature_file,
                                         const std::filesystem::path& public_key_file) {
    auto key = readPublicKey(public_key_file);
    if (!key) return tl::unexpected(key.error());
    auto signature = readSmallFile(signature_file, "signature");
    if (!signature) return tl::unexpected(signature.error());
    auto message = MappedFile::open(file);
    if (!message) return tl::unexpected(message.error());

    const SignatureAlgorithm algorithm = key->second;
    // Ed25519 hashes inside the scheme (no digest of ours); ECDSA signs SHA-256 of the bytes.
    const EVP_MD* digest = algorithm == SignatureAlgorithm::Ed25519 ? nullptr : EVP_sha256();
    MdCtxPtr ctx(EVP_MD_CTX_new());
    if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, digest, nullptr, key->first.get()) != 1)
        return fail("verify ", file.string(), " with ", public_key_file.string(), ": ", opensslError());
    const int verified = EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature->data()),
                                          signature->size(), message->data(), message->size());
    // 0 is a signature that does not verify; a negative result (e.g. a malformed DER signature)
    // is one too: either way the artifact is refused.
    opensslError();  // what OpenSSL queued about a bad signature is not this call's failure
    return SignatureVerdict{algorithm, verified == 1};
}

}  // namespace hotgate::release
