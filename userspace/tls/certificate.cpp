#include "tls/certificate.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <ctime>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

namespace hotgate::tls {
namespace {

struct BioFree {
    void operator()(BIO* b) const { BIO_free(b); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;

std::string lower(std::string_view text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
    return out;
}

Result<BioPtr> openFile(const std::string& path, const char* what) {
    errno = 0;
    BioPtr bio(BIO_new_file(path.c_str(), "r"));
    if (!bio) {
        const int err = errno ? errno : ENOENT;
        drainOpensslErrors();
        return sysError(err, what, " ", path, ": cannot open");
    }
    return bio;
}

std::chrono::system_clock::time_point toTimePoint(const ASN1_TIME* time) {
    std::tm tm{};
    ASN1_TIME_to_tm(time, &tm);
    return std::chrono::system_clock::from_time_t(timegm(&tm));
}

std::string formatTime(const ASN1_TIME* time) {
    std::tm tm{};
    ASN1_TIME_to_tm(time, &tm);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return text;
}

// The DNS names of the subjectAltName, else the subject's CN (what clients check too).
std::vector<std::string> namesOf(X509* leaf) {
    std::vector<std::string> names;
    auto* alt = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(leaf, NID_subject_alt_name, nullptr, nullptr));
    if (alt) {
        for (int i = 0; i < sk_GENERAL_NAME_num(alt); ++i) {
            const GENERAL_NAME* name = sk_GENERAL_NAME_value(alt, i);
            if (name->type != GEN_DNS) continue;
            const auto* data = ASN1_STRING_get0_data(name->d.dNSName);
            names.push_back(lower({reinterpret_cast<const char*>(data),
                                   static_cast<std::size_t>(ASN1_STRING_length(name->d.dNSName))}));
        }
        GENERAL_NAMES_free(alt);
    }
    if (names.empty()) {
        char cn[256];
        if (X509_NAME_get_text_by_NID(X509_get_subject_name(leaf), NID_commonName, cn, sizeof cn) > 0)
            names.push_back(lower(cn));
    }
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
    return names;
}

}  // namespace

std::string serialHex(const X509* certificate) {
    BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(certificate), nullptr);
    if (!bn) return {};
    char* hex = BN_bn2hex(bn);
    std::string out = hex ? lower(hex) : std::string();
    OPENSSL_free(hex);
    BN_free(bn);
    return out;
}

std::string drainOpensslErrors() {
    std::string text;
    while (const unsigned long code = ERR_get_error()) {
        char line[256];
        ERR_error_string_n(code, line, sizeof line);
        if (!text.empty()) text += "; ";
        text += line;
    }
    return text;
}

bool nameMatches(std::string_view pattern, std::string_view name) {
    const std::string host = lower(name);
    if (pattern.starts_with("*.")) {
        // One label only, as browsers do: *.example.com matches a.example.com, not a.b.example.com.
        const std::string_view suffix = pattern.substr(1);
        if (host.size() <= suffix.size() || !std::string_view(host).ends_with(suffix)) return false;
        const std::string_view label = std::string_view(host).substr(0, host.size() - suffix.size());
        return label.find('.') == std::string_view::npos;
    }
    return pattern == host;
}

bool Certificate::serves(std::string_view server_name) const {
    return std::any_of(names_.begin(), names_.end(), [&](const std::string& p) { return nameMatches(p, server_name); });
}

Result<Certificate> Certificate::load(const CertificateSource& source, std::chrono::system_clock::time_point now) {
    drainOpensslErrors();
    Certificate cert;
    cert.source_ = source;

    auto cert_bio = openFile(source.certificate_file, "certificate file");
    if (!cert_bio) return tl::unexpected(cert_bio.error());
    cert.leaf_.reset(PEM_read_bio_X509(cert_bio->get(), nullptr, nullptr, nullptr));
    if (!cert.leaf_) {
        const std::string why = drainOpensslErrors();
        return fail("certificate file ", source.certificate_file, ": no PEM certificate found",
                    why.empty() ? "" : " (", why, why.empty() ? "" : ")");
    }
    // The rest of the file is the chain; stop at the first thing that is not a certificate.
    while (X509* next = PEM_read_bio_X509(cert_bio->get(), nullptr, nullptr, nullptr)) cert.chain_.emplace_back(next);
    const unsigned long tail = ERR_peek_last_error();
    if (tail && !(ERR_GET_LIB(tail) == ERR_LIB_PEM && ERR_GET_REASON(tail) == PEM_R_NO_START_LINE)) {
        return fail("certificate file ", source.certificate_file, ": chain certificate ", cert.chain_.size() + 1,
                    " does not parse: ", drainOpensslErrors());
    }
    drainOpensslErrors();
    X509* issued = cert.leaf_.get();
    for (std::size_t i = 0; i < cert.chain_.size(); ++i) {
        if (X509_check_issued(cert.chain_[i].get(), issued) != X509_V_OK) {
            return fail("certificate file ", source.certificate_file, ": chain certificate ", i + 1,
                        " did not issue the certificate before it (chain out of order or foreign)");
        }
        issued = cert.chain_[i].get();
    }

    auto key_bio = openFile(source.key_file, "key file");
    if (!key_bio) return tl::unexpected(key_bio.error());
    cert.key_.reset(PEM_read_bio_PrivateKey(key_bio->get(), nullptr, nullptr, nullptr));
    if (!cert.key_) {
        const std::string why = drainOpensslErrors();
        return fail("key file ", source.key_file, ": no PEM private key found", why.empty() ? "" : " (", why,
                    why.empty() ? "" : ")");
    }
    if (X509_check_private_key(cert.leaf_.get(), cert.key_.get()) != 1) {
        drainOpensslErrors();
        return fail("key file ", source.key_file, " does not match the certificate in ", source.certificate_file);
    }

    const std::time_t now_t = std::chrono::system_clock::to_time_t(now);
    const ASN1_TIME* not_before = X509_get0_notBefore(cert.leaf_.get());
    const ASN1_TIME* not_after = X509_get0_notAfter(cert.leaf_.get());
    if (X509_cmp_time(not_after, const_cast<std::time_t*>(&now_t)) <= 0)
        return fail("certificate file ", source.certificate_file, ": expired on ", formatTime(not_after));
    if (X509_cmp_time(not_before, const_cast<std::time_t*>(&now_t)) > 0)
        return fail("certificate file ", source.certificate_file, ": not valid before ", formatTime(not_before));
    cert.not_after_ = toTimePoint(not_after);
    cert.serial_hex_ = tls::serialHex(cert.leaf_.get());  // the free function, not the accessor

    const std::vector<std::string> own = namesOf(cert.leaf_.get());
    if (source.names.empty()) {
        if (own.empty())
            return fail("certificate file ", source.certificate_file, ": has no DNS name (subjectAltName or CN)");
        cert.names_ = own;
    } else {
        for (const std::string& name : source.names) {
            const std::string wanted = lower(name);
            const bool covered = std::any_of(own.begin(), own.end(), [&](const std::string& p) {
                return p == wanted || nameMatches(p, wanted);
            });
            if (!covered)
                return fail("certificate file ", source.certificate_file, ": configured name '", name,
                            "' is not among the certificate's names");
            cert.names_.push_back(wanted);
        }
    }
    return cert;
}

}  // namespace hotgate::tls
