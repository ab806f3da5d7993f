#pragma once
// Whether an address is covered by a XEP-0191 block list. A pure function, so that the matching rules
// are tested on their own (tests/unit/modules/blocking_test.cpp); the blocking module calls it for every
// stanza from or to an account with a block list.
#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "parley/jid/jid.h"

namespace parley::server::modules {

// `blocked` holds prepared JIDs (Jid::str() of what the user blocked), sorted. XEP-0191 §4 defers to
// XEP-0016 §2.1: an item matches
//   user@domain/resource  only that resource,
//   user@domain           any resource of that account,
//   domain/resource       that resource at the domain with any user part (or none), so that e.g.
//                         conference.example/nick blocks that nick in every room of the service,
//   domain                the domain itself and every address at it.
// Subdomains are not covered by their parent domain (XEP-0016 §2.1; XEP-0191 1.1 once said otherwise).
inline bool isBlockedBy(const std::vector<std::string>& blocked, const Jid& address) {
    if (blocked.empty())
        return false;
    auto contains = [&](std::string_view candidate) {
        return std::binary_search(blocked.begin(), blocked.end(), candidate, std::less<>());
    };
    if (contains(address.str()))
        return true;  // the exact address (full, bare or domain JID)
    if (address.hasResource() && contains(address.bareView()))
        return true;  // user@domain (or domain) for user@domain/resource (or domain/resource)
    if (address.hasLocal() && address.hasResource()) {
        std::string domainResource;
        domainResource.reserve(address.domain().size() + 1 + address.resource().size());
        domainResource.append(address.domain()).append("/").append(address.resource());
        if (contains(domainResource))
            return true;
    }
    return !address.isDomain() && contains(address.domain());
}

}  // namespace parley::server::modules
