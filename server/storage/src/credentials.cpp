#include "credentials.h"

#include <algorithm>

namespace parley::storage {

std::vector<sasl::ScramCredential> normalizeCredentials(std::vector<sasl::ScramCredential> credentials) {
    std::vector<sasl::ScramCredential> result;
    result.reserve(credentials.size());
    // Walk backwards so that the last credential of each algorithm is the one kept.
    for (auto it = credentials.rbegin(); it != credentials.rend(); ++it) {
        const bool seen = std::any_of(result.begin(), result.end(), [&](const sasl::ScramCredential& kept) {
            return kept.algorithm == it->algorithm;
        });
        if (!seen) {
            result.push_back(std::move(*it));
        }
    }
    std::sort(result.begin(), result.end(),
              [](const sasl::ScramCredential& a, const sasl::ScramCredential& b) {
                  return a.algorithm < b.algorithm;
              });
    return result;
}

}  // namespace parley::storage
