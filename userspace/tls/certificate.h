// Certificate: one server certificate (leaf + chain + private key) loaded from PEM files and
// checked before it may serve: the key matches the leaf, the chain parses, the leaf is valid now,
// and the names it can answer for (SNI) are known. A bad file is an Error naming the file and
// the reason; nothing half-loaded is ever returned.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "common/error.h"

namespace hotgate::tls {

struct X509Free {
    void operator()(X509* x) const { X509_free(x); }
};
struct PkeyFree {
    void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

// Where a certificate comes from. `names` restricts the SNI names it serves; empty: the DNS
// names of its subjectAltName (or its CN when it has none).
struct CertificateSource {
    std::string certificate_file;  // PEM: the leaf first, then intermediates
    std::string key_file;          // PEM private key
    std::vector<std::string> names;

    bool operator==(const CertificateSource&) const = default;
};

class Certificate {
public:
    // Loads and checks both files. `now` is a parameter so a test can ask "expired at T?".
    static Result<Certificate> load(const CertificateSource& source,
                                    std::chrono::system_clock::time_point now = std::chrono::system_clock::now());

    X509* leaf() const { return leaf_.get(); }
    const std::vector<X509Ptr>& chain() const { return chain_; }  // intermediates, in file order
    EVP_PKEY* key() const { return key_.get(); }
    // SNI names served: lower case; "*.example.com" matches one label.
    const std::vector<std::string>& names() const { return names_; }
    const std::string& serialHex() const { return serial_hex_; }
    std::chrono::system_clock::time_point notAfter() const { return not_after_; }
    const CertificateSource& source() const { return source_; }

    // True when `server_name` (from SNI, any case) is one of names().
    bool serves(std::string_view server_name) const;

private:
    Certificate() = default;

    CertificateSource source_;
    X509Ptr leaf_;
    std::vector<X509Ptr> chain_;
    PkeyPtr key_;
    std::vector<std::string> names_;
    std::string serial_hex_;
    std::chrono::system_clock::time_point not_after_;
};

// The last OpenSSL error(s) as text, and clears the queue ("" when there is none).
std::string drainOpensslErrors();

// A certificate's serial number in lower-case hex without leading zeros (as /status shows it).
std::string serialHex(const X509* certificate);

// True when `pattern` ("api.example.com" or "*.example.com", lower case) matches `name`.
bool nameMatches(std::string_view pattern, std::string_view name);

}  // namespace hotgate::tls
