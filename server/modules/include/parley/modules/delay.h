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

// XEP-0203 §3: appends <delay from=`from` stamp=...>reason</delay> to `stanza`, unless it already
// carries a <delay/> from `from`: one delay per delaying entity, and the first says since when it was
// held (a message that offline storage delivered, then stream management routed again after the
// connection was lost, or stored again, keeps its original stamp). False when it kept the original.
inline bool appendDelay(xml::Element& stanza, const std::string& from, std::int64_t unixSeconds,
                        std::string_view reason) {
    for (const xml::Element* existing : stanza.children("delay", kDelayNamespace)) {
        if (existing->attr("from") == from)
            return false;
    }
    xml::Element& delay = stanza.append("delay", std::string(kDelayNamespace));
    delay.setAttr("from", from);
    delay.setAttr("stamp", utcStamp(unixSeconds));
    delay.appendText(std::string(reason));
    return true;
}

}  // namespace parley::server::modules
