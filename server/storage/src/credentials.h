#pragma once
#include <vector>

#include "parley/sasl/scram_credential.h"

namespace parley::storage {

// What every backend stores for a credential list: at most one credential per hash algorithm (the last
// one given wins), ordered by algorithm, so that all backends return the same list for the same input.
std::vector<sasl::ScramCredential> normalizeCredentials(std::vector<sasl::ScramCredential> credentials);

}  // namespace parley::storage
