#pragma once
#include <cstddef>
#include <string>

namespace parley {

// Cryptographically secure random bytes (OpenSSL RAND_bytes). Aborts if the CSPRNG fails, since no
// secure operation can continue without it.
std::string randomBytes(std::size_t count);

// A random identifier of `length` characters from [A-Za-z0-9], for stream ids, resources and nonces.
std::string randomId(std::size_t length = 16);

}  // namespace parley
