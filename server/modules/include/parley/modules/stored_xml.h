#pragma once
// Documents that modules keep as XML in the key-value store (vCards, private XML).
#include <algorithm>
#include <optional>
#include <string>
#include <string_view>

#include "parley/server/log.h"
#include "parley/xml/element.h"
#include "parley/xml/stream_parser.h"

namespace parley::server::modules {

// Parses a stored document under the limits of a stream, except that it may be as large as it was
// when it was stored. One that does not parse (a damaged row) is logged as an error naming `what`, and
// the caller answers internal-server-error.
inline std::optional<xml::Element> parseStoredXml(std::string_view document, const Logger& log,
                                                  std::string_view what) {
    xml::StreamLimits limits;
    // +1: the parser refuses an element of exactly maxElementBytes bytes.
    limits.maxElementBytes = std::max(limits.maxElementBytes, document.size() + 1);
    auto parsed = xml::parseElement(document, limits);
    if (!parsed.element) {
        log.error("stored " + std::string(what) + " does not parse: " +
                  (parsed.failure ? parsed.failure->detail : std::string("no element")));
    }
    return std::move(parsed.element);
}

}  // namespace parley::server::modules
