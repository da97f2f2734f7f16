// UpstreamContext: the client TLS context the gateway uses toward one cluster's endpoints:
// TLS 1.2+, ALPN http/1.1, the peer's chain verified against the configured CAs (or the
// system's), and, with an SNI name, the certificate required to carry that name.
#pragma once

#include <memory>

#include <boost/asio/ssl/context.hpp>

#include "common/error.h"
#include "config/config.h"

namespace hotgate::tls {

// Fails naming the cluster and the CA file when it does not load.
Result<std::shared_ptr<boost::asio::ssl::context>> makeUpstreamContext(const std::string& cluster,
                                                                       const ClusterTlsConfig& config);

}  // namespace hotgate::tls
