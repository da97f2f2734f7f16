#include "release/artifact_fetch.h"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <mutex>

#include "release/artifact_verify.h"

namespace hotgate::release {
namespace {

constexpr long kMaxRedirects = 5;

struct CurlFree {
    void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
};
struct MdCtxFree {
    void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};

bool startsWithNoCase(std::string_view text, std::string_view prefix) {
    if (text.size() < prefix.size()) return false;
    for (std::size_t i = 0; i < prefix.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(text[i])) != prefix[i]) return false;
    return true;
}

// The state the write and progress callbacks share with fetchArtifact.
struct Transfer {
    int fd = -1;
    std::uint64_t max_bytes = 0;
    std::uint64_t written = 0;
    EVP_MD_CTX* sha256 = nullptr;
    bool too_large = false;
    int write_errno = 0;
    bool show_progress = false;
    std::chrono::steady_clock::time_point last_progress{};
    std::string url;
};

// libcurl hands the body over piece by piece; returning less than given aborts the transfer.
std::size_t onBody(char* data, std::size_t size, std::size_t count, void* user) {
    auto& transfer = *static_cast<Transfer*>(user);
    const std::size_t length = size * count;
    if (transfer.written + length > transfer.max_bytes) {
        transfer.too_large = true;
        return 0;
    }
    for (std::size_t done = 0; done < length;) {
        const ssize_t n = ::write(transfer.fd, data + done, length - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            transfer.write_errno = errno;
            return 0;
        }
        done += static_cast<std::size_t>(n);
    }
    EVP_DigestUpdate(transfer.sha256, data, length);
    transfer.written += length;
    return length;
}

int onProgress(void* user, curl_off_t total, curl_off_t now, curl_off_t, curl_off_t) {
    auto& transfer = *static_cast<Transfer*>(user);
    if (!transfer.show_progress) return 0;
    const auto at = std::chrono::steady_clock::now();
    if (at - transfer.last_progress < std::chrono::milliseconds(200)) return 0;
    transfer.last_progress = at;
    constexpr double kMiB = 1024.0 * 1024.0;
    if (total > 0)
        std::fprintf(stderr, "\rdownloading %s: %.1f of %.1f MiB", transfer.url.c_str(), now / kMiB, total / kMiB);
    else
        std::fprintf(stderr, "\rdownloading %s: %.1f MiB", transfer.url.c_str(), now / kMiB);
    return 0;
}

void initCurlOnce() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

}  // namespace

bool isFetchableUrl(std::string_view source) {
    return startsWithNoCase(source, "http://") || startsWithNoCase(source, "https://") ||
           startsWithNoCase(source, "file://");
}

Result<FetchedArtifact> fetchArtifact(const std::string& url, int fd, const FetchLimits& limits) {
    if (!isFetchableUrl(url)) return fail("download ", url, ": only http://, https:// and file:// URLs are fetched");
    initCurlOnce();
    std::unique_ptr<CURL, CurlFree> curl(curl_easy_init());
    std::unique_ptr<EVP_MD_CTX, MdCtxFree> sha256(EVP_MD_CTX_new());
    if (!curl || !sha256 || EVP_DigestInit_ex(sha256.get(), EVP_sha256(), nullptr) != 1)
        return fail("download ", url, ": cannot set up libcurl or SHA-256");

    Transfer transfer;
    transfer.fd = fd;
    transfer.max_bytes = limits.max_bytes;
    transfer.sha256 = sha256.get();
    transfer.show_progress = limits.show_progress;
    transfer.url = url;
    char curl_error[CURL_ERROR_SIZE] = {};
    CURL* c = curl.get();
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https,file");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");  // never from http to a local file
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, kMaxRedirects);
    curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(limits.timeout.count()));
    curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(limits.max_bytes));
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curl_error);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, onBody);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &transfer);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, onProgress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, &transfer);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, limits.show_progress ? 0L : 1L);

    const CURLcode code = curl_easy_perform(c);
    if (limits.show_progress) std::fputc('\n', stderr);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (transfer.too_large || code == CURLE_FILESIZE_EXCEEDED)
        return fail("download ", url, ": larger than the limit of ", limits.max_bytes, " bytes (--max-download-size)");
    if (transfer.write_errno != 0) return sysError(transfer.write_errno, "download ", url, ": write the file");
    if (code == CURLE_OPERATION_TIMEDOUT)
        return fail("download ", url, ": not done within ", limits.timeout.count(), " ms (--download-timeout), after ",
                    transfer.written, " bytes");
    if (code == CURLE_HTTP_RETURNED_ERROR) return fail("download ", url, ": the server answered HTTP ", status);
    if (code != CURLE_OK)
        return fail("download ", url, ": ", curl_error[0] != '\0' ? curl_error : curl_easy_strerror(code));

    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    EVP_DigestFinal_ex(sha256.get(), digest, &length);
    return FetchedArtifact{transfer.written, lowerHex(digest, length), status};
}

}  // namespace hotgate::release
