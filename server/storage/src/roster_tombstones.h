#pragma once
// The bound on the tombstones a backend keeps per roster (docs/storage.md "Rosters").
#include <cstddef>

namespace parley::storage {

// The latest removals are kept, so a client that is at most this many removals behind gets only what
// changed (RFC 6121 §2.6); an older one gets the whole roster, since Roster::removedSince rises past
// every pruned removal.
inline constexpr std::size_t kMaxRosterTombstones = 200;

}  // namespace parley::storage
