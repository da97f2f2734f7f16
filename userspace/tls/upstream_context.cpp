#include "tls/upstream_context.h"

#include <openssl/ssl.h>

#include "tls/certificate.h"

namespace hotgate::tls {

Result<std::shared_ptr<boost::asio::ssl::context>> makeUpstreamContext(const std::string& cluster,
                                                                       const ClusterTlsConfig& config) {
    namespace ssl = boost::asio::ssl;
    auto context = std::make_shared<ssl::context>(ssl::context::tls_client);
    SSL_CTX* ctx = context->native_handle();
    drainOpensslErrors();
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    static const unsigned char kHttp11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
    SSL_CTX_set_alpn_protos(ctx, kHttp11, sizeof kHttp11);
    if (!config.verify) {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
        return context;
    }
    const int loaded = config.ca_file.empty() ? SSL_CTX_set_default_verify_paths(ctx)
                                              : SSL_CTX_load_verify_locations(ctx, config.ca_file.c_str(), nullptr);
    if (loaded != 1)
        return fail("cluster ", cluster, ": TLS CA file ", config.ca_file.empty() ? "(system default)" : config.ca_file,
                    " does not load: ", drainOpensslErrors());
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    return context;
}

}  // namespace hotgate::tls
