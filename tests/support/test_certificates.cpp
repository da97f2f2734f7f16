#include "test_certificates.h"

#include <stdexcept>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

namespace hotgate::test {
namespace {

void check(bool ok, const char* what) {
    if (!ok) throw std::runtime_error(std::string("test certificate: ") + what);
}

EVP_PKEY* newKey() {
    EVP_PKEY* key = EVP_EC_gen("P-256");
    check(key != nullptr, "EC key generation");
    return key;
}

void writePem(const std::string& path, X509* const* certs, std::size_t count) {
    FILE* f = std::fopen(path.c_str(), "w");
    check(f != nullptr, "open certificate file");
    for (std::size_t i = 0; i < count; ++i) PEM_write_X509(f, certs[i]);
    std::fclose(f);
}

void writeKey(const std::string& path, EVP_PKEY* key) {
    FILE* f = std::fopen(path.c_str(), "w");
    check(f != nullptr, "open key file");
    PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
    std::fclose(f);
}

void addExtension(X509* cert, X509* issuer, int nid, const char* value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    check(ext != nullptr, "extension");
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
}

X509* newCertificate(std::uint64_t serial, const std::string& common_name, std::chrono::hours from,
                     std::chrono::hours until) {
    X509* cert = X509_new();
    X509_set_version(cert, 2);
    ASN1_INTEGER_set_uint64(X509_get_serialNumber(cert), serial);
    X509_gmtime_adj(X509_getm_notBefore(cert), std::chrono::seconds(from).count());
    X509_gmtime_adj(X509_getm_notAfter(cert), std::chrono::seconds(until).count());
    X509_NAME* name = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(common_name.c_str()),
                               -1, -1, 0);
    return cert;
}

}  // namespace

struct TestCa::State {
    EVP_PKEY* key = nullptr;
    X509* cert = nullptr;
};

TestCa::TestCa(std::string dir, std::string name) : dir_(std::move(dir)), state_(new State) {
    state_->key = newKey();
    state_->cert = newCertificate(1, name + " CA", std::chrono::hours(-24), std::chrono::hours(24 * 365));
    X509_set_issuer_name(state_->cert, X509_get_subject_name(state_->cert));
    X509_set_pubkey(state_->cert, state_->key);
    addExtension(state_->cert, state_->cert, NID_basic_constraints, "critical,CA:TRUE");
    addExtension(state_->cert, state_->cert, NID_key_usage, "critical,keyCertSign,cRLSign");
    check(X509_sign(state_->cert, state_->key, EVP_sha256()) > 0, "CA signature");
    ca_file_ = dir_ + "/" + name + "-ca.pem";
    writePem(ca_file_, &state_->cert, 1);
}

TestCa::~TestCa() {
    X509_free(state_->cert);
    EVP_PKEY_free(state_->key);
    delete state_;
}

IssuedCertificate TestCa::issue(const std::string& stem, const std::vector<std::string>& dns_names,
                                std::chrono::hours valid_from, std::chrono::hours valid_until) {
    EVP_PKEY* key = newKey();
    const std::uint64_t serial = next_serial_++;
    X509* cert = newCertificate(serial, dns_names.empty() ? stem : dns_names.front(), valid_from, valid_until);
    X509_set_issuer_name(cert, X509_get_subject_name(state_->cert));
    X509_set_pubkey(cert, key);
    std::string alt;
    // A name of digits and dots is an IP address SAN (etcd's members are named by address).
    for (const std::string& name : dns_names) {
        const bool ip = name.find_first_not_of("0123456789.") == std::string::npos;
        alt += std::string(alt.empty() ? "" : ",") + (ip ? "IP:" : "DNS:") + name;
    }
    if (!alt.empty()) addExtension(cert, state_->cert, NID_subject_alt_name, alt.c_str());
    addExtension(cert, state_->cert, NID_basic_constraints, "critical,CA:FALSE");
    addExtension(cert, state_->cert, NID_ext_key_usage, "serverAuth,clientAuth");
    check(X509_sign(cert, state_->key, EVP_sha256()) > 0, "leaf signature");

    IssuedCertificate issued;
    issued.certificate_file = dir_ + "/" + stem + ".crt";
    issued.leaf_only_file = dir_ + "/" + stem + ".leaf.crt";
    issued.key_file = dir_ + "/" + stem + ".key";
    X509* chain[] = {cert, state_->cert};
    writePem(issued.certificate_file, chain, 2);
    writePem(issued.leaf_only_file, chain, 1);
    writeKey(issued.key_file, key);
    char hex[32];
    std::snprintf(hex, sizeof hex, "%llx", static_cast<unsigned long long>(serial));
    issued.serial_hex = hex;
    X509_free(cert);
    EVP_PKEY_free(key);
    return issued;
}

}  // namespace hotgate::test
