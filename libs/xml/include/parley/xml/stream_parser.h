#pragma once
// Incremental parser for an XMPP XML stream (RFC 6120 §4, §11): feed bytes as they arrive, then pull
// events: the stream header, each complete top-level element, the stream end, or one fatal error.
//
// Design (see docs/ARCHITECTURE.md "Parsing"): between top-level elements the parser holds no buffer
// and no per-element state, only the namespace context of the stream header, so an idle connection
// costs a few dozen bytes. Bytes of a partially received element are kept, and scanned only once
// (resumable lexer state), so feeding one byte at a time is linear. A complete element is emitted as
// soon as its last byte is fed: nothing is held back waiting for more input.
//
// Restricted XML (RFC 6120 §11.1) is rejected on sight: DTDs, comments, processing instructions, and
// entity references other than the five predefined ones and character references. Limits (stanza
// size, depth, attribute count) are counted while bytes arrive, not on the finished tree.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "parley/xml/element.h"

namespace parley::xml {

struct StreamLimits {
    // Maximum bytes of one top-level element (a stanza), including its tags. RFC 6120 §13.12;
    // Prosody and ejabberd use 256 KiB for c2s.
    std::size_t maxElementBytes = 262144;
    // Maximum bytes of the stream header (`<?xml ...?><stream:stream ...>`).
    std::size_t maxHeaderBytes = 8192;
    // Maximum element nesting depth inside one top-level element (the top-level element is depth 1).
    std::size_t maxDepth = 64;
    // Maximum attributes (namespace declarations included) on one element.
    std::size_t maxAttributes = 128;
};

enum class ParseError : std::uint8_t {
    NotWellFormed,        // RFC 6120 §4.9.3.13 <not-well-formed/>
    RestrictedXml,        // §4.9.3.18 <restricted-xml/>: DTD, comment, PI, misplaced XML declaration
    UnsupportedEncoding,  // §4.9.3.22: an encoding other than UTF-8 declared or detected (BOM)
    BadNamespacePrefix,   // §4.9.3.2: an undeclared prefix on an element or attribute
    ElementTooBig,        // §4.9.3.14 <policy-violation/> (+ urn:xmpp:errors stanza-too-big)
    TooDeep,              // policy-violation
    TooManyAttributes,    // policy-violation
};
std::string_view toString(ParseError error) noexcept;

// The opening `<stream:stream ...>` tag (or any root element, for generic XML streams).
struct StreamOpen {
    std::string name;       // local name, e.g. "stream"
    std::string ns;         // its namespace, e.g. http://etherx.jabber.org/streams
    std::string contentNs;  // the default namespace declared on it (xmlns='...'), e.g. jabber:client
    std::vector<Attribute> attributes;  // all other attributes (to, from, version, xml:lang, id)
    bool hadXmlDeclaration = false;

    std::string_view attr(std::string_view attrName) const noexcept;
    const std::string* findAttr(std::string_view attrName, std::string_view attrNs = {}) const noexcept;
};

struct StreamClose {};  // the `</stream:stream>` end tag

struct StreamFailure {
    ParseError error;
    std::string detail;  // human-readable, for the <text/> of the stream error and logs
};

using StreamEvent = std::variant<StreamOpen, Element, StreamClose, StreamFailure>;

class StreamParser {
  public:
    explicit StreamParser(StreamLimits limits = {});
    ~StreamParser();
    StreamParser(StreamParser&&) noexcept;
    StreamParser& operator=(StreamParser&&) noexcept;

    // Parses as far as `bytes` allow and queues the resulting events. After a StreamFailure or a
    // StreamClose has been queued, further input is ignored.
    void feed(std::string_view bytes);
    // The next queued event, or nullopt when more input is needed.
    std::optional<StreamEvent> next();
    // Stream restart (RFC 6120 §4.3.3, after STARTTLS and SASL): forgets queued events, buffered
    // bytes and the namespace context; the next thing expected is a new stream header.
    void reset();

    // Bytes held for a partially received element (0 between stanzas).
    std::size_t bufferedBytes() const noexcept;
    const StreamLimits& limits() const noexcept;
    void setLimits(const StreamLimits& limits);

  private:
    struct Impl;
    // Kept behind a pointer allocated only while a stream is open, so that a parser object is one
    // word; the state behind it is small between stanzas.
    std::unique_ptr<Impl> impl_;
    StreamLimits limits_;
};

// Parses one complete standalone element (e.g. a WebSocket frame, RFC 7395, or a stored payload).
// Restricted XML and limits apply as in a stream; an XML declaration is allowed before the element.
struct ElementParseResult {
    std::optional<Element> element;
    std::optional<StreamFailure> failure;
};
ElementParseResult parseElement(std::string_view document, const StreamLimits& limits = {},
                                std::string_view defaultNs = {});

}  // namespace parley::xml
