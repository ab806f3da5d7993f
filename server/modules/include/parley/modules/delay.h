#pragma once
// XEP-0203 Delayed Delivery stamps, shared by the modules that hold messages back (offline storage,
// stream management).
#include <cstdint>
#include <string>
#include <string_view>

#include "parley/modules/datetime.h"
#include "parley/xml/element.h"

namespace parley::server::modules {

inline constexpr std::string_view kDelayNamespace = "urn:xmpp:delay";

// XEP-0203 §3: appends <delay from=`from` stamp=...>reason</delay> to `stanza`.
inline void appendDelay(xml::Element& stanza, const std::string& from, std::int64_t unixSeconds,
                        std::string_view reason) {
    xml::Element& delay = stanza.append("delay", std::string(kDelayNamespace));
    delay.setAttr("from", from);
    delay.setAttr("stamp", utcStamp(unixSeconds));
    delay.appendText(std::string(reason));
}

}  // namespace parley::server::modules
