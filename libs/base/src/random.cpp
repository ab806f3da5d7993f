#include "parley/base/random.h"

#include <openssl/rand.h>

#include <cstdio>
#include <cstdlib>

namespace parley {

std::string randomBytes(std::size_t count) {
    std::string out(count, '\0');
    if (count > 0 && RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(count)) != 1) {
        std::fputs("parley: the system random number generator failed; cannot continue safely\n", stderr);
        std::abort();
    }
    return out;
}

std::string randomId(std::size_t length) {
    static constexpr std::string_view kChars =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    std::string raw = randomBytes(length);
    std::string out(length, 'x');
    for (std::size_t i = 0; i < length; ++i) {
        // 62 does not divide 256, the bias (4/256) is harmless for identifiers that are not secrets.
        out[i] = kChars[static_cast<unsigned char>(raw[i]) % kChars.size()];
    }
    return out;
}

}  // namespace parley
