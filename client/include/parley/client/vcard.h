#pragma once
// Profile data (XEP-0054 vcard-temp): the common fields decoded, the whole element kept.
#include <string>

#include "parley/xml/element.h"

namespace parley::client {

struct VCard {
    std::string fullName;  ///< FN
    std::string nickname;  ///< NICKNAME
    std::string email;     ///< EMAIL/USERID
    std::string url;       ///< URL
    std::string note;      ///< DESC
    /// The complete <vCard/>; setVCard writes the fields above into a copy of it, so fields the
    /// library does not know (photos, addresses) survive a get-edit-set round trip.
    xml::Element raw;
};

}  // namespace parley::client
