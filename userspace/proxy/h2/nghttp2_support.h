// What both ends of hotgate's HTTP/2 (the client sessions and the upstream sessions) need
// around nghttp2: owners of its callback and option objects, fields as its name/value pairs,
// and a data source that hands out bytes as they become available.
#pragma once

#include <sys/types.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <nghttp2/nghttp2.h>

#include "proxy/h2/message_translation.h"

namespace hotgate::h2 {

// nghttp2_session_callbacks, freed with its owner.
struct CallbacksHandle {
    nghttp2_session_callbacks* callbacks = nullptr;
    CallbacksHandle() { nghttp2_session_callbacks_new(&callbacks); }
    ~CallbacksHandle() { nghttp2_session_callbacks_del(callbacks); }
    CallbacksHandle(const CallbacksHandle&) = delete;
    CallbacksHandle& operator=(const CallbacksHandle&) = delete;
};

// nghttp2_option, freed with its owner.
struct OptionsHandle {
    nghttp2_option* option = nullptr;
    OptionsHandle() { nghttp2_option_new(&option); }
    ~OptionsHandle() { nghttp2_option_del(option); }
    OptionsHandle(const OptionsHandle&) = delete;
    OptionsHandle& operator=(const OptionsHandle&) = delete;
};

// `fields` as nghttp2 takes them; valid while `fields` is.
inline std::vector<nghttp2_nv> nameValues(const std::vector<Field>& fields) {
    std::vector<nghttp2_nv> nva;
    nva.reserve(fields.size());
    for (const Field& field : fields)
        nva.push_back({reinterpret_cast<std::uint8_t*>(const_cast<char*>(field.name.data())),
                       reinterpret_cast<std::uint8_t*>(const_cast<char*>(field.value.data())), field.name.size(),
                       field.value.size(), NGHTTP2_NV_FLAG_NONE});
    return nva;
}

// A data source's bytes: what was put in `bytes` and not yet taken from `pos`, and whether the
// body ends after them. take() is the body of an nghttp2_data_source_read_callback: up to
// `length` bytes into `buf`, NGHTTP2_ERR_DEFERRED while there is none and no end, and
// NGHTTP2_DATA_FLAG_EOF once the end is taken (`bytes` is then emptied).
struct PendingBytes {
    std::string bytes;
    std::size_t pos = 0;
    bool end = false;

    std::size_t size() const { return bytes.size() - pos; }
    ssize_t take(std::uint8_t* buf, std::size_t length, std::uint32_t* data_flags) {
        const std::size_t available = size();
        if (available == 0 && !end) return NGHTTP2_ERR_DEFERRED;
        const std::size_t n = std::min(length, available);
        std::memcpy(buf, bytes.data() + pos, n);
        pos += n;
        if (pos == bytes.size()) {
            bytes.clear();
            pos = 0;
            if (end) *data_flags |= NGHTTP2_DATA_FLAG_EOF;
        }
        return static_cast<ssize_t>(n);
    }
};

}  // namespace hotgate::h2
