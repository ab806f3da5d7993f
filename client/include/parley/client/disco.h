#pragma once
// Service discovery (XEP-0030).
#include <string>
#include <vector>

namespace parley::client {

struct DiscoIdentity {
    std::string category;
    std::string type;
    std::string name;
};

struct DiscoInfo {
    std::vector<DiscoIdentity> identities;
    std::vector<std::string> features;
    bool hasFeature(const std::string& feature) const;
};

struct DiscoItem {
    std::string jid;
    std::string node;
    std::string name;
};

}  // namespace parley::client
