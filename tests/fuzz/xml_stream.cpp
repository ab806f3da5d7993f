// libFuzzer target for xml::StreamParser (docs/xml-parser.md). For every input it checks:
//  1. feeding it whole, in pieces derived from the input, and byte by byte gives the same events;
//  2. the events are well-formed (header first, then elements, at most one close or failure last);
//  3. every element re-serializes to text that parseElement() reads back as an equal element;
//  4. default limits only ever cut the event sequence short;
//  5. expat (tests/support/expat_reference.h) agrees: both accept with equal events, or both reject
//     (limit- and encoding-based differences excepted, see differentialMismatch()).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "expat_reference.h"
#include "parley/xml/stream_parser.h"

namespace {

using parley::xml::Element;
using parley::xml::StreamClose;
using parley::xml::StreamEvent;
using parley::xml::StreamFailure;
using parley::xml::StreamLimits;
using parley::xml::StreamOpen;
using parley::xml::StreamParser;
namespace testing = parley::xml::testing;

[[noreturn]] void die(const char* what, const std::string& detail) {
    std::fprintf(stderr, "xml_stream: %s\n%s\n", what, detail.c_str());
    std::abort();
}

StreamLimits generousLimits() {
    StreamLimits limits;
    limits.maxElementBytes = 1 << 20;
    limits.maxHeaderBytes = 1 << 20;
    limits.maxDepth = 100000;
    limits.maxAttributes = 100000;
    return limits;
}

// Feeds `input` in the given chunk sizes (cycled), collecting events; checks bufferedBytes().
std::vector<StreamEvent> parse(std::string_view input, const StreamLimits& limits,
                               const std::vector<std::size_t>& sizes) {
    StreamParser parser(limits);
    std::vector<StreamEvent> events;
    std::size_t k = 0;
    for (std::size_t i = 0; i < input.size();) {
        const std::size_t n = std::min(sizes[k++ % sizes.size()], input.size() - i);
        parser.feed(input.substr(i, n));
        i += n;
        if (parser.bufferedBytes() > std::max(limits.maxElementBytes, limits.maxHeaderBytes)) {
            die("bufferedBytes() above the limit", std::to_string(parser.bufferedBytes()));
        }
        while (auto e = parser.next()) {
            events.push_back(std::move(*e));
        }
    }
    return events;
}

void checkShape(const std::vector<StreamEvent>& events) {
    for (std::size_t i = 0; i < events.size(); ++i) {
        const StreamEvent& e = events[i];
        const bool last = i + 1 == events.size();
        if (std::holds_alternative<StreamOpen>(e) && i != 0) {
            die("StreamOpen after the first event", testing::describe(events));
        }
        if (std::holds_alternative<Element>(e) &&
            (i == 0 || !std::holds_alternative<StreamOpen>(events[0]))) {
            die("Element before StreamOpen", testing::describe(events));
        }
        if ((std::holds_alternative<StreamClose>(e) || std::holds_alternative<StreamFailure>(e)) && !last) {
            die("events after a close or failure", testing::describe(events));
        }
    }
}

void checkReserialization(const std::vector<StreamEvent>& events) {
    std::string contentNs;
    for (const StreamEvent& e : events) {
        if (const auto* open = std::get_if<StreamOpen>(&e)) {
            contentNs = open->contentNs;
            Element header(open->name, open->ns);
            header.setAttributes(open->attributes);
            const auto back = parley::xml::parseElement(header.toString(), generousLimits());
            if (!back.element || !(*back.element == header)) {
                die("stream header does not round-trip", header.toString());
            }
        } else if (const auto* element = std::get_if<Element>(&e)) {
            for (const std::string& inherited : {contentNs, std::string()}) {
                const std::string text = element->toString(inherited);
                const auto back = parley::xml::parseElement(text, generousLimits(), inherited);
                if (!back.element || !(*back.element == *element)) {
                    die("element does not round-trip",
                        text + "\n" +
                            (back.failure ? back.failure->detail : back.element->toString(inherited)));
                }
            }
        }
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    const StreamLimits limits = generousLimits();

    const auto whole = parse(input, limits, {std::max<std::size_t>(size, 1)});
    checkShape(whole);

    // Split points derived from the input itself (FNV-1a, then xorshift).
    std::uint32_t h = 2166136261u;
    for (unsigned char c : input) {
        h = (h ^ c) * 16777619u;
    }
    std::vector<std::size_t> sizes;
    for (int i = 0; i < 16; ++i) {
        h ^= h << 13;
        h ^= h >> 17;
        h ^= h << 5;
        sizes.push_back(1 + h % 61);
    }
    if (!testing::sameEvents(whole, parse(input, limits, sizes))) {
        die("split feeding changed the events", testing::describe(whole));
    }
    if (size <= 2048 && !testing::sameEvents(whole, parse(input, limits, {1}))) {
        die("byte-by-byte feeding changed the events", testing::describe(whole));
    }

    checkReserialization(whole);

    // Default limits may only stop earlier, never change what came before.
    const auto bounded = parse(input, StreamLimits{}, {std::max<std::size_t>(size, 1)});
    const bool boundedFailed = !bounded.empty() && std::holds_alternative<StreamFailure>(bounded.back());
    const std::size_t common = bounded.size() - (boundedFailed ? 1 : 0);
    if (common > whole.size() ||
        !testing::sameEvents(
            std::vector<StreamEvent>(bounded.begin(), bounded.begin() + static_cast<std::ptrdiff_t>(common)),
            std::vector<StreamEvent>(whole.begin(), whole.begin() + static_cast<std::ptrdiff_t>(common)))) {
        die("default limits changed the events",
            testing::describe(bounded) + "vs\n" + testing::describe(whole));
    }

    if (const auto mismatch = testing::differentialMismatch(input, whole)) {
        die("disagreement with expat", *mismatch);
    }

    // The standalone entry point must cope with anything too.
    const auto doc = parley::xml::parseElement(input, limits);
    if (doc.element.has_value() == doc.failure.has_value()) {
        die("parseElement must return exactly one of element and failure", std::string(input));
    }
    return 0;
}
