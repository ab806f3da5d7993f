#pragma once
// A reference XMPP stream parser built on expat, used only by the differential test and the
// xml_stream fuzzer to cross-check xml::StreamParser. It applies the same XMPP rules on top of
// expat (restricted XML, UTF-8 only, XML 1.0 only, no text at stream level), so that both parsers
// should accept exactly the same streams and produce the same events.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "parley/xml/stream_parser.h"

namespace parley::xml::testing {

struct ReferenceOutcome {
    bool rejected = false;
    std::string error;                  // why, when rejected
    bool invalidNonAsciiToken = false;  // expat's "invalid token" at a non-ASCII character
    std::vector<StreamEvent> events;    // StreamOpen, Element and StreamClose only
};

// Parses `input` as the beginning of an XMPP stream. With `isFinal`, the input must be a complete
// document (expat then also rejects an unfinished stream); without it, only what has arrived so far
// is judged. Parsing stops at the stream's end tag; anything after it is ignored, as StreamParser
// does.
ReferenceOutcome parseStreamWithExpat(std::string_view input, bool isFinal = false);

// Cross-checks `ours` (every event StreamParser produced for `input`) against expat. Returns a
// description of the disagreement, or nullopt when the two agree:
//  - both accept: the same events;
//  - both reject: the events before the failure agree up to where the earlier one stopped;
//  - only StreamParser rejects: allowed for limits and for encodings (expat is told "UTF-8" and
//    may still switch on a UTF-16 byte order mark), and where expat merely needs more input to
//    see the problem (it rejects the same bytes as a final document);
//  - only expat rejects: allowed only where expat reports an invalid token at a non-ASCII
//    character of input we accepted, i.e. valid UTF-8 and an XML Char: expat still uses the name
//    character tables of XML 1.0 Fourth Edition, StreamParser those of the Fifth Edition (§2.3),
//    which allow many more (e.g. U+A25A).
std::optional<std::string> differentialMismatch(std::string_view input, const std::vector<StreamEvent>& ours);

// Event comparison: attribute order is ignored, adjacent text is merged (Element's operator==).
bool sameEvent(const StreamEvent& a, const StreamEvent& b);
bool sameEvents(const std::vector<StreamEvent>& a, const std::vector<StreamEvent>& b);
// One-line description of an event, for failure messages.
std::string describe(const StreamEvent& event);
std::string describe(const std::vector<StreamEvent>& events);

}  // namespace parley::xml::testing
