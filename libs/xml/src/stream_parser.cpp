// The XMPP stream parser: a resumable, byte-driven lexer that builds the element tree directly.
// See docs/xml-parser.md for the design and its measurements.
#include "parley/xml/stream_parser.h"

#include <algorithm>
#include <array>
#include <memory>
#include <unordered_map>
#include <utility>

#include "chars.h"

namespace parley::xml {

std::string_view toString(ParseError error) noexcept {
    switch (error) {
        case ParseError::NotWellFormed:
            return "not-well-formed";
        case ParseError::RestrictedXml:
            return "restricted-xml";
        case ParseError::UnsupportedEncoding:
            return "unsupported-encoding";
        case ParseError::BadNamespacePrefix:
            return "bad-namespace-prefix";
        case ParseError::ElementTooBig:
            return "element-too-big";
        case ParseError::TooDeep:
            return "too-deep";
        case ParseError::TooManyAttributes:
            return "too-many-attributes";
    }
    return "unknown";
}

const std::string* StreamOpen::findAttr(std::string_view attrName, std::string_view attrNs) const noexcept {
    for (const Attribute& a : attributes) {
        if (a.name == attrName && a.ns == attrNs) {
            return &a.value;
        }
    }
    return nullptr;
}

std::string_view StreamOpen::attr(std::string_view attrName) const noexcept {
    const std::string* value = findAttr(attrName);
    return value ? std::string_view(*value) : std::string_view{};
}

namespace detail {

namespace {

constexpr std::string_view kXmlnsNamespace = "http://www.w3.org/2000/xmlns/";
constexpr std::uint32_t kNone = 0xFFFFFFFF;
// With more in-scope declarations than this inside one stanza, prefix lookups go through a hash
// index instead of a backwards scan (a hostile stanza could otherwise make them quadratic).
constexpr std::size_t kIndexThreshold = 32;
// The most a thread's spare per-unit state keeps (Parser::Spares): bytes of a name, attributes or
// declarations of one start tag, events of one read.
constexpr std::size_t kSpareBytes = 1024;
constexpr std::size_t kSpareItems = 32;
constexpr std::size_t kSpareQueueEvents = 64;

// Namespaces that almost every stream binds: kept once per process, so a binding to one of them
// costs no allocation and the idle parser holds only a pointer.
const std::string* internNamespace(std::string_view uri) noexcept {
    static const std::array<std::string, 27> kWellKnown = {
        "jabber:client",
        "jabber:server",
        "jabber:component:accept",
        "http://etherx.jabber.org/streams",
        "urn:ietf:params:xml:ns:xmpp-streams",
        "urn:ietf:params:xml:ns:xmpp-stanzas",
        "urn:ietf:params:xml:ns:xmpp-tls",
        "urn:ietf:params:xml:ns:xmpp-sasl",
        "urn:ietf:params:xml:ns:xmpp-bind",
        "urn:ietf:params:xml:ns:xmpp-session",
        "urn:xmpp:sm:3",
        "urn:xmpp:ping",
        "urn:xmpp:delay",
        "urn:xmpp:receipts",
        "urn:xmpp:carbons:2",
        "urn:xmpp:forward:0",
        "urn:xmpp:mam:2",
        "urn:xmpp:sid:0",
        "jabber:iq:roster",
        "jabber:iq:version",
        "jabber:x:data",
        "http://jabber.org/protocol/caps",
        "http://jabber.org/protocol/chatstates",
        "http://jabber.org/protocol/disco#info",
        "http://jabber.org/protocol/disco#items",
        "http://jabber.org/protocol/muc",
        std::string(kXmlNamespace),
    };
    for (const std::string& s : kWellKnown) {
        if (s == uri) {
            return &s;
        }
    }
    return nullptr;
}

const std::string& emptyString() noexcept {
    static const std::string kEmpty;
    return kEmpty;
}

const std::string& xmlNamespaceString() noexcept {
    static const std::string kXml(kXmlNamespace);
    return kXml;
}

// One namespace declaration in scope. `prefix` is empty for the default namespace. The URI is not
// copied: `uri` points to an interned string, to the namespace of the element that declared it
// (stable: elements live on the heap or in Work::root), or to `owned`.
struct Binding {
    std::string prefix;
    const std::string* uri = nullptr;
    std::unique_ptr<std::string> owned;
    std::uint32_t prevSame = kNone;   // previous binding of the same prefix (hash index only)
    std::uint32_t attrIndex = kNone;  // while its start tag is processed: the declaring attribute

    Binding(std::string_view p, const std::string* u) : prefix(p), uri(u) {}
    void own(std::string value) {
        owned = std::make_unique<std::string>(std::move(value));
        uri = owned.get();
    }
};

// "xmlns" or "xmlns:..." (a namespace declaration, not an attribute).
bool isDeclaration(std::string_view name) noexcept {
    return name.size() >= 5 && name.compare(0, 5, "xmlns") == 0 && (name.size() == 5 || name[5] == ':');
}

// True when two of the n keys are equal. Pairwise for the usual handful, sorted for many, so that
// an element with 100 000 attributes is not quadratic.
template <class KeyOf>
bool hasDuplicate(std::size_t n, KeyOf keyOf) {
    if (n < 2) {
        return false;
    }
    if (n <= 8) {
        for (std::size_t i = 0; i < n; ++i) {
            for (std::size_t j = i + 1; j < n; ++j) {
                if (keyOf(i) == keyOf(j)) {
                    return true;
                }
            }
        }
        return false;
    }
    using Key = decltype(keyOf(std::size_t{}));
    std::vector<Key> keys;
    keys.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
        keys.push_back(keyOf(i));
    }
    std::sort(keys.begin(), keys.end());
    return std::adjacent_find(keys.begin(), keys.end()) != keys.end();
}

bool hasDuplicateAttribute(const std::vector<Attribute>& attrs) noexcept {
    for (std::size_t i = 0; i < attrs.size(); ++i) {
        for (std::size_t j = i + 1; j < attrs.size(); ++j) {
            if (attrs[i].name.size() == attrs[j].name.size() && attrs[i].name == attrs[j].name &&
                attrs[i].ns == attrs[j].ns) {
                return true;
            }
        }
    }
    return false;
}

bool iequalsAscii(std::string_view a, std::string_view b) noexcept {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               auto lower = [](char c) {
                   return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
               };
               return lower(x) == lower(y);
           });
}

std::string quoted(std::string_view s) {
    constexpr std::size_t kMax = 64;
    std::string out = "'";
    out.append(s.substr(0, kMax));
    if (s.size() > kMax) {
        out += "...";
    }
    out += '\'';
    return out;
}

}  // namespace

// The parser proper. StreamParser::Impl derives from it; parseElement uses it directly.
class Parser {
  public:
    Parser(bool documentMode, std::string_view defaultNs) : documentMode_(documentMode) {
        if (!defaultNs.empty()) {
            Binding b({}, internNamespace(defaultNs));
            if (b.uri == nullptr) {
                b.own(std::string(defaultNs));
            }
            rootScope_.push_back(std::move(b));
        }
    }

    void feed(std::string_view in, const StreamLimits& limits);
    // End of input for parseElement: anything unfinished is an error.
    void finishDocument();
    std::optional<StreamEvent> pop();
    std::size_t bufferedBytes() const noexcept {
        return mode_ == Mode::Header || mode_ == Mode::Element ? unitBytes_ : 0;
    }

  private:
    // What the bytes being read belong to; limits count Header and Element bytes.
    enum class Mode : std::uint8_t {
        Header,   // before the stream header is complete (document mode: the prolog)
        Between,  // at stream level, between top-level elements
        Element,  // inside a top-level element
        Epilog,   // document mode: after the root element
        Done,     // closed or failed: input is ignored
    };
    // Lexer state, resumable at any byte.
    enum class Lx : std::uint8_t {
        Misc,           // whitespace, or '<'
        Lt,             // after '<'
        XmlDecl,        // inside "<?xml ... ?>"
        StartName,      // element name of a start tag
        InTag,          // between attributes
        AttrName,       // attribute name
        AfterAttrName,  // expecting '='
        BeforeValue,    // expecting a quote
        Value,          // attribute value
        EmptyEnd,       // after '/' in a start tag
        EndName,        // element name of an end tag
        EndTail,        // whitespace before '>' of an end tag
        Text,           // character data
        Ref,            // after '&'
        RefName,        // entity name
        RefNum,         // after "&#"
        RefDec,         // decimal character reference digits
        RefHex,         // hexadecimal character reference digits
    };
    struct Frame {
        Element* element = nullptr;
        std::string prefix;                // to match the end tag's qualified name exactly
        std::uint32_t bindingsBefore = 0;  // Work::bindings size before this element's declarations
    };
    // The open elements of a stanza; the first few live inline (no allocation for usual stanzas).
    class FrameStack {
      public:
        std::size_t size() const noexcept { return size_; }
        Frame& back() noexcept { return at(size_ - 1); }
        void push(Element* element, std::string_view prefix, std::uint32_t bindingsBefore) {
            if (size_ >= inline_.size()) {
                spill_.emplace_back();
            }
            Frame& f = at(size_++);
            f.element = element;
            f.prefix.assign(prefix);
            f.bindingsBefore = bindingsBefore;
        }
        void pop() noexcept {
            if (--size_ >= inline_.size()) {
                spill_.pop_back();
            }
        }
        void clear() noexcept {
            spill_.clear();
            size_ = 0;
        }

      private:
        Frame& at(std::size_t i) noexcept {
            return i < inline_.size() ? inline_[i] : spill_[i - inline_.size()];
        }
        std::array<Frame, 6> inline_;
        std::vector<Frame> spill_;
        std::size_t size_ = 0;
    };
    struct Resolved {
        const std::string* uri;  // nullptr: prefix not declared
        std::uint32_t binding;   // index into Work::bindings, or kNone
    };
    // Per-unit state (a top-level element, or the stream header): allocated when the unit's '<'
    // arrives and freed when it is complete, so an idle parser holds none of it.
    struct Work {
        Element root;
        Element* current = nullptr;
        FrameStack frames;
        std::vector<Binding> bindings;  // declarations inside this element
        std::unique_ptr<std::unordered_map<std::string, std::uint32_t>> index;
        std::string tok;               // name being read, or XML declaration text
        std::vector<Attribute> attrs;  // attributes of the start tag being read (qualified names)
    };

    // An idle parser holds no per-unit state and no event storage, but allocating both afresh for
    // every stanza costs several heap calls per stanza on the chat hot path. The thread that frees
    // them keeps one set as a spare, which the next unit started on that thread (any parser) takes.
    struct Spares {
        std::unique_ptr<Work> work;
        std::vector<StreamEvent> queue;
    };
    static Spares& spares() noexcept {
        thread_local Spares perThread;
        return perThread;
    }
    void acquireWork();
    void releaseWork() noexcept;
    template <class Event>
    void emit(Event&& event) {
        if (queue_.capacity() == 0) {
            queue_.swap(spares().queue);
        }
        queue_.emplace_back(std::forward<Event>(event));
    }

    void step(const char*& p, const char* lim, const StreamLimits& limits);
    void fail(ParseError error, std::string detail);
    void failAt(ParseError error, const char* p, std::string_view what);
    void failGarbage(const char* p);
    std::uint64_t offsetOf(const char* p) const noexcept {
        return offset_ + static_cast<std::uint64_t>(p - chunk_);
    }

    void finishXmlDecl();
    void finishStartTag(bool empty, const StreamLimits& limits);
    void finishEndTag();
    void closeElement();
    void completeUnit();
    std::string& textTarget();
    void appendRefChar(std::uint32_t cp);
    bool finishCharRef(const char* p);

    void pushBinding(Binding binding);
    void popBindings(std::size_t size);
    Resolved lookup(std::string_view prefix) const noexcept;

    const bool documentMode_;
    Mode mode_ = Mode::Header;
    Lx lx_ = Lx::Misc;
    Lx refReturn_ = Lx::Text;
    bool declAllowed_ = true;  // an XML declaration may still come (nothing but a BOM so far)
    bool hadXmlDecl_ = false;
    bool sawSpace_ = false;   // whitespace since the last attribute (XML 1.0 §3.1 requires it)
    bool crPending_ = false;  // a CR was just normalised; a following LF is dropped (§2.11)
    char quote_ = 0;
    std::uint8_t rbr_ = 0;       // consecutive ']' in character data ("]]>" is not allowed)
    std::uint8_t bomState_ = 0;  // 0: nothing seen, 1-2: inside EF BB BF, 3: start handled
    std::uint8_t refLen_ = 0;
    bool refDigits_ = false;
    std::array<char, 6> refName_{};
    std::uint32_t refValue_ = 0;
    Utf8Validator utf8_;
    NameCheck nameCheck_;        // the element, attribute or end tag name being read
    std::size_t unitBytes_ = 0;  // bytes of the header or of the current top-level element
    std::size_t depth_ = 0;      // open elements inside the current top-level element
    std::size_t attrCount_ = 0;  // attributes (declarations included) of the start tag being read
    std::uint64_t offset_ = 0;   // stream offset of chunk_
    const char* chunk_ = nullptr;
    std::string rootQName_;           // qualified name of the stream header, for its end tag
    std::vector<Binding> rootScope_;  // declarations of the stream header
    std::unique_ptr<Work> work_;
    std::vector<StreamEvent> queue_;
    std::size_t head_ = 0;
};

void Parser::fail(ParseError error, std::string detail) {
    if (mode_ == Mode::Done) {
        return;
    }
    mode_ = Mode::Done;
    releaseWork();
    std::vector<Binding>().swap(rootScope_);
    emit(StreamFailure{error, std::move(detail)});
}

void Parser::failAt(ParseError error, const char* p, std::string_view what) {
    std::string detail(what);
    detail += " (at byte ";
    detail += std::to_string(offsetOf(p));
    detail += " of the stream)";
    fail(error, std::move(detail));
}

void Parser::failGarbage(const char* p) {
    const unsigned char b = static_cast<unsigned char>(*p);
    if (mode_ == Mode::Header && b == 0x16) {
        failAt(ParseError::NotWellFormed, p,
               "a TLS handshake arrived where an XML stream header was expected; the client uses direct TLS "
               "(XEP-0368) on a port that expects plain XMPP with STARTTLS");
    } else if (mode_ == Mode::Header && (b == 'G' || b == 'P' || b == 'H' || b == 'C')) {
        failAt(ParseError::NotWellFormed, p,
               "text before the stream header (an HTTP request?); the client must start with "
               "<stream:stream> (RFC 6120 §4.2)");
    } else if (mode_ == Mode::Header) {
        failAt(ParseError::NotWellFormed, p, "unexpected data before the stream header; expected '<'");
    } else if (mode_ == Mode::Between) {
        failAt(ParseError::NotWellFormed, p,
               "character data at stream level; only whitespace may appear between stanzas (RFC 6120 §11.7)");
    } else {
        failAt(ParseError::NotWellFormed, p, "content after the root element");
    }
}

std::optional<StreamEvent> Parser::pop() {
    if (head_ == queue_.size()) {
        return std::nullopt;
    }
    std::optional<StreamEvent> event(std::move(queue_[head_++]));
    if (head_ == queue_.size()) {
        // Release the storage (an idle parser holds no buffer), as this thread's spare if it has none.
        queue_.clear();
        std::vector<StreamEvent>& spare = spares().queue;
        if (spare.capacity() == 0 && queue_.capacity() <= kSpareQueueEvents) {
            spare.swap(queue_);
        } else {
            std::vector<StreamEvent>().swap(queue_);
        }
        head_ = 0;
    }
    return event;
}

void Parser::acquireWork() {
    Spares& spare = spares();
    work_ = spare.work ? std::move(spare.work) : std::make_unique<Work>();
}

void Parser::releaseWork() noexcept {
    if (!work_) {
        return;
    }
    Work& w = *work_;
    // Only storage of a usual size is kept; what a huge stanza grew is given back.
    const bool keep = w.tok.capacity() <= kSpareBytes && w.attrs.capacity() <= kSpareItems &&
                      w.bindings.capacity() <= kSpareItems;
    Spares& spare = spares();
    if (!keep || spare.work) {
        work_.reset();
        return;
    }
    w.root = Element();
    w.current = nullptr;
    w.frames.clear();
    w.bindings.clear();
    w.index.reset();
    w.tok.clear();
    w.attrs.clear();
    spare.work = std::move(work_);
}

// --- Namespace scope -----------------------------------------------------------------------------

void Parser::pushBinding(Binding binding) {
    Work& w = *work_;
    const auto i = static_cast<std::uint32_t>(w.bindings.size());
    if (w.index) {
        const auto [it, inserted] = w.index->try_emplace(binding.prefix, i);
        if (!inserted) {
            binding.prevSame = it->second;
            it->second = i;
        }
    }
    w.bindings.push_back(std::move(binding));
    if (!w.index && w.bindings.size() > kIndexThreshold) {
        w.index = std::make_unique<std::unordered_map<std::string, std::uint32_t>>();
        for (std::uint32_t k = 0; k < w.bindings.size(); ++k) {
            const auto [it, inserted] = w.index->try_emplace(w.bindings[k].prefix, k);
            w.bindings[k].prevSame = inserted ? kNone : it->second;
            it->second = k;
        }
    }
}

void Parser::popBindings(std::size_t size) {
    Work& w = *work_;
    while (w.bindings.size() > size) {
        const Binding& b = w.bindings.back();
        if (w.index) {
            if (b.prevSame == kNone) {
                w.index->erase(b.prefix);
            } else {
                (*w.index)[b.prefix] = b.prevSame;
            }
        }
        w.bindings.pop_back();
    }
}

// The namespace bound to `prefix` (empty: the default namespace), or nullptr when unbound.
Parser::Resolved Parser::lookup(std::string_view prefix) const noexcept {
    if (prefix == "xml") {
        return {&xmlNamespaceString(), kNone};  // Namespaces in XML §3: always bound
    }
    if (work_) {
        const Work& w = *work_;
        if (w.index) {
            const auto it = w.index->find(std::string(prefix));
            if (it != w.index->end()) {
                return {w.bindings[it->second].uri, it->second};
            }
        } else {
            for (std::size_t i = w.bindings.size(); i-- > 0;) {
                if (w.bindings[i].prefix == prefix) {
                    return {w.bindings[i].uri, static_cast<std::uint32_t>(i)};
                }
            }
        }
    }
    for (auto it = rootScope_.rbegin(); it != rootScope_.rend(); ++it) {
        if (it->prefix == prefix) {
            return {it->uri, kNone};
        }
    }
    return {prefix.empty() ? &emptyString() : nullptr, kNone};
}

// --- Driver --------------------------------------------------------------------------------------

void Parser::feed(std::string_view in, const StreamLimits& limits) {
    if (mode_ == Mode::Done) {
        return;
    }
    const char* p = in.data();
    const char* const end = p + in.size();
    chunk_ = p;

    // Encoding detection at the very start (XML 1.0 Appendix F): skip a UTF-8 BOM, refuse UTF-16/32.
    while (bomState_ != 3 && p < end) {
        const auto b = static_cast<unsigned char>(*p);
        if (bomState_ == 0) {
            if (b == 0xEF) {
                bomState_ = 1;
                ++p;
            } else if (b == 0xFE || b == 0xFF || b == 0x00) {
                failAt(ParseError::UnsupportedEncoding, p,
                       "the stream starts with a UTF-16 or UTF-32 byte order mark (or a NUL byte); XMPP "
                       "streams must be UTF-8 (RFC 6120 §11.6)");
                return;
            } else {
                bomState_ = 3;
            }
        } else if (b == (bomState_ == 1 ? 0xBB : 0xBF)) {
            bomState_ = static_cast<std::uint8_t>(bomState_ == 1 ? 2 : 3);
            ++p;
        } else {
            failAt(ParseError::NotWellFormed, p, "incomplete byte order mark before the stream header");
            return;
        }
    }

    const char* const okEnd = p + utf8_.validate(std::string_view(p, static_cast<std::size_t>(end - p)));
    while (p < okEnd && mode_ != Mode::Done) {
        const Mode mode = mode_;
        const char* lim = okEnd;
        if (mode == Mode::Header || mode == Mode::Element) {
            const std::size_t max = mode == Mode::Header ? limits.maxHeaderBytes : limits.maxElementBytes;
            if (unitBytes_ >= max) {
                // Nothing past the limit is looked at, let alone buffered.
                failAt(ParseError::ElementTooBig, p,
                       mode == Mode::Header
                           ? "the stream header is larger than " + std::to_string(max) + " bytes"
                           : "a stanza is larger than " + std::to_string(max) +
                                 " bytes (RFC 6120 §13.12: the server's stanza size limit)");
                break;
            }
            lim = p + std::min<std::size_t>(static_cast<std::size_t>(okEnd - p), max - unitBytes_);
        }
        const char* const before = p;
        step(p, lim, limits);
        // A document's root element starts inside a Header step, which set unitBytes_ to 1 for its
        // '<' (consumed in that step): adding the step's bytes would count the '<' twice, and with it
        // whatever preceded it, refusing a root of exactly maxElementBytes.
        const bool rootStarted = mode == Mode::Header && mode_ == Mode::Element;
        if ((mode == Mode::Header || mode == Mode::Element) && !rootStarted) {
            unitBytes_ += static_cast<std::size_t>(p - before);
        }
    }
    if (mode_ != Mode::Done && okEnd != end && mode_ == Mode::Header && lx_ == Lx::Misc) {
        failGarbage(okEnd);  // e.g. a TLS ClientHello: say what it is rather than "invalid UTF-8"
    } else if (mode_ != Mode::Done && okEnd != end) {
        failAt(ParseError::NotWellFormed, okEnd,
               "invalid UTF-8, or a character that XML 1.0 does not allow (§2.2: control characters, "
               "U+FFFE, U+FFFF)");
    }
    offset_ += in.size();
}

void Parser::finishDocument() {
    if (mode_ == Mode::Done) {
        return;
    }
    if (mode_ != Mode::Epilog) {
        fail(ParseError::NotWellFormed, "the document ended before its root element was complete");
    } else if (utf8_.midSequence()) {
        fail(ParseError::NotWellFormed, "the document ends inside a UTF-8 sequence");
    }
}

// --- Lexer ---------------------------------------------------------------------------------------

// Consumes bytes in [p, lim) until the input runs out, the parser fails, or the mode changes (so
// that the driver can count each byte against the right limit).
void Parser::step(const char*& p, const char* const lim, const StreamLimits& limits) {
    const Mode startMode = mode_;
    while (p < lim) {
        switch (lx_) {
            case Lx::Misc: {
                const char* const start = p;
                while (p < lim && isSpace(*p)) {
                    ++p;
                }
                if (p != start) {
                    declAllowed_ = false;  // XML 1.0 §2.8: the XML declaration comes first
                }
                if (p == lim) {
                    return;
                }
                if (*p != '<') {
                    failGarbage(p);
                    return;
                }
                ++p;
                if (!work_) {
                    acquireWork();
                }
                lx_ = Lx::Lt;
                if (mode_ == Mode::Between) {
                    mode_ = Mode::Element;
                    unitBytes_ = 1;  // the '<'
                    return;
                }
                break;
            }
            case Lx::Lt: {
                const char c = *p;
                const bool atStart = declAllowed_;
                declAllowed_ = false;
                if (mode_ == Mode::Epilog && c != '!' && c != '?') {
                    failAt(ParseError::NotWellFormed, p, "content after the root element");
                    return;
                }
                if (c == '/') {
                    if (mode_ == Mode::Header) {
                        failAt(ParseError::NotWellFormed, p, "an end tag before the stream header");
                        return;
                    }
                    ++p;
                    work_->tok.clear();
                    nameCheck_.reset();
                    lx_ = Lx::EndName;
                } else if (c == '!') {
                    failAt(ParseError::RestrictedXml, p,
                           "'<!' starts a comment, CDATA section or document type declaration, which XMPP "
                           "does not allow (RFC 6120 §11.1)");
                    return;
                } else if (c == '?') {
                    if (!atStart || mode_ != Mode::Header) {
                        failAt(
                            ParseError::RestrictedXml, p,
                            "a processing instruction or misplaced XML declaration; XMPP allows only an XML "
                            "declaration at the very start of the stream (RFC 6120 §11.1)");
                        return;
                    }
                    ++p;
                    work_->tok.clear();
                    lx_ = Lx::XmlDecl;
                } else if (hasClass(c, kNameByte)) {
                    work_->tok.clear();
                    work_->attrs.clear();
                    attrCount_ = 0;
                    nameCheck_.reset();
                    lx_ = Lx::StartName;
                    if (mode_ == Mode::Header && documentMode_) {
                        mode_ = Mode::Element;  // the root element of a document counts as an element
                        unitBytes_ = 1;
                        return;
                    }
                } else {
                    failAt(ParseError::NotWellFormed, p, "'<' must be followed by a name, '/' or '?'");
                    return;
                }
                break;
            }
            case Lx::XmlDecl: {
                std::string& tok = work_->tok;
                while (p < lim) {
                    const char c = *p++;
                    if (c == '>' && !tok.empty() && tok.back() == '?') {
                        tok.pop_back();
                        finishXmlDecl();
                        if (mode_ == Mode::Done) {
                            return;
                        }
                        lx_ = Lx::Misc;
                        break;
                    }
                    tok.push_back(c);
                    // "<?xml" followed by whitespace; any other target is a processing instruction.
                    if (tok.size() <= 4 && (tok.size() == 4 ? !isSpace(c) : c != "xml"[tok.size() - 1])) {
                        failAt(ParseError::RestrictedXml, p - 1,
                               "a processing instruction, which XMPP does not allow (RFC 6120 §11.1)");
                        return;
                    }
                }
                break;
            }
            case Lx::StartName:
            case Lx::EndName: {
                std::string& tok = work_->tok;
                const char* const start = p;
                while (p < lim && hasClass(*p, kNameByte)) {
                    ++p;
                }
                tok.append(start, static_cast<std::size_t>(p - start));
                if (!nameCheck_.advance(tok)) {
                    failAt(ParseError::NotWellFormed, p, "invalid element name " + quoted(tok));
                    return;
                }
                if (p == lim) {
                    return;
                }
                if (!nameCheck_.complete()) {
                    failAt(ParseError::NotWellFormed, p, "invalid or missing element name " + quoted(tok));
                    return;
                }
                const char c = *p++;
                if (lx_ == Lx::EndName) {
                    if (c == '>') {
                        finishEndTag();
                        if (mode_ != startMode) {
                            return;
                        }
                    } else if (isSpace(c)) {
                        lx_ = Lx::EndTail;
                    } else {
                        failAt(ParseError::NotWellFormed, p - 1, "invalid character in an end tag name");
                        return;
                    }
                } else if (c == '>') {
                    finishStartTag(false, limits);
                    if (mode_ != startMode) {
                        return;
                    }
                } else if (c == '/') {
                    lx_ = Lx::EmptyEnd;
                } else if (isSpace(c)) {
                    sawSpace_ = true;
                    lx_ = Lx::InTag;
                } else {
                    failAt(ParseError::NotWellFormed, p - 1, "invalid character in an element name");
                    return;
                }
                break;
            }
            case Lx::InTag: {
                while (p < lim && isSpace(*p)) {
                    ++p;
                    sawSpace_ = true;
                }
                if (p == lim) {
                    return;
                }
                const char c = *p;
                if (c == '>') {
                    ++p;
                    finishStartTag(false, limits);
                    if (mode_ != startMode) {
                        return;
                    }
                } else if (c == '/') {
                    ++p;
                    lx_ = Lx::EmptyEnd;
                } else if (hasClass(c, kNameByte)) {
                    if (!sawSpace_) {
                        failAt(ParseError::NotWellFormed, p, "attributes must be separated by whitespace");
                        return;
                    }
                    if (++attrCount_ > limits.maxAttributes) {
                        failAt(ParseError::TooManyAttributes, p,
                               "an element has more than " + std::to_string(limits.maxAttributes) +
                                   " attributes (namespace declarations included)");
                        return;
                    }
                    std::vector<Attribute>& attrs = work_->attrs;
                    if (attrs.capacity() == 0) {
                        attrs.reserve(4);
                    }
                    attrs.emplace_back();
                    nameCheck_.reset();
                    lx_ = Lx::AttrName;
                } else {
                    failAt(ParseError::NotWellFormed, p, "unexpected character in a start tag");
                    return;
                }
                break;
            }
            case Lx::AttrName: {
                std::string& name = work_->attrs.back().name;
                const char* const start = p;
                while (p < lim && hasClass(*p, kNameByte)) {
                    ++p;
                }
                name.append(start, static_cast<std::size_t>(p - start));
                if (!nameCheck_.advance(name)) {
                    failAt(ParseError::NotWellFormed, p, "invalid attribute name " + quoted(name));
                    return;
                }
                if (p == lim) {
                    return;
                }
                if (!nameCheck_.complete()) {
                    failAt(ParseError::NotWellFormed, p, "invalid attribute name " + quoted(name));
                    return;
                }
                const char c = *p++;
                if (c == '=') {
                    lx_ = Lx::BeforeValue;
                } else if (isSpace(c)) {
                    lx_ = Lx::AfterAttrName;
                } else {
                    failAt(ParseError::NotWellFormed, p - 1, "invalid character in an attribute name");
                    return;
                }
                break;
            }
            case Lx::AfterAttrName:
            case Lx::BeforeValue: {
                while (p < lim && isSpace(*p)) {
                    ++p;
                }
                if (p == lim) {
                    return;
                }
                const char c = *p++;
                if (lx_ == Lx::AfterAttrName) {
                    if (c != '=') {
                        failAt(ParseError::NotWellFormed, p - 1, "an attribute name must be followed by '='");
                        return;
                    }
                    lx_ = Lx::BeforeValue;
                } else if (c == '\'' || c == '"') {
                    quote_ = c;
                    crPending_ = false;
                    lx_ = Lx::Value;
                } else {
                    failAt(ParseError::NotWellFormed, p - 1, "attribute values must be quoted");
                    return;
                }
                break;
            }
            case Lx::Value: {
                std::string& value = work_->attrs.back().value;
                while (p < lim) {
                    if (crPending_) {
                        crPending_ = false;
                        if (*p == '\n') {
                            ++p;
                            continue;
                        }
                    }
                    const char* const start = p;
                    p = findValueStop(p, lim);
                    value.append(start, static_cast<std::size_t>(p - start));
                    if (p == lim) {
                        return;
                    }
                    const char c = *p++;
                    if (c == quote_) {
                        sawSpace_ = false;
                        lx_ = Lx::InTag;
                        break;
                    }
                    if (c == '\'' || c == '"') {
                        value.push_back(c);
                    } else if (c == '&') {
                        refReturn_ = Lx::Value;
                        lx_ = Lx::Ref;
                        break;
                    } else if (c == '<') {
                        failAt(ParseError::NotWellFormed, p - 1, "'<' is not allowed in attribute values");
                        return;
                    } else {
                        // XML 1.0 §3.3.3: tab, LF and CR (CRLF as one) become a space.
                        value.push_back(' ');
                        crPending_ = c == '\r';
                    }
                }
                break;
            }
            case Lx::EmptyEnd: {
                if (*p++ != '>') {
                    failAt(ParseError::NotWellFormed, p - 1, "'/' in a start tag must be followed by '>'");
                    return;
                }
                finishStartTag(true, limits);
                if (mode_ != startMode) {
                    return;
                }
                break;
            }
            case Lx::EndTail: {
                while (p < lim && isSpace(*p)) {
                    ++p;
                }
                if (p == lim) {
                    return;
                }
                if (*p++ != '>') {
                    failAt(ParseError::NotWellFormed, p - 1, "an end tag must end with '>' after its name");
                    return;
                }
                finishEndTag();
                if (mode_ != startMode) {
                    return;
                }
                break;
            }
            case Lx::Text: {
                while (p < lim) {
                    if (crPending_) {
                        crPending_ = false;
                        if (*p == '\n') {
                            ++p;
                            continue;
                        }
                    }
                    if (rbr_ >= 2 && *p == '>') {
                        failAt(ParseError::NotWellFormed, p, "']]>' is not allowed in character data");
                        return;
                    }
                    const char* const start = p;
                    p = findTextStop(p, lim);
                    if (p != start) {
                        textTarget().append(start, static_cast<std::size_t>(p - start));
                        rbr_ = 0;
                    }
                    if (p == lim) {
                        return;
                    }
                    const char c = *p++;
                    if (c == '<') {
                        rbr_ = 0;
                        lx_ = Lx::Lt;
                        break;
                    }
                    if (c == '&') {
                        refReturn_ = Lx::Text;
                        lx_ = Lx::Ref;
                        break;
                    }
                    if (c == '\r') {
                        textTarget().push_back('\n');  // XML 1.0 §2.11: CRLF and lone CR become LF
                        crPending_ = true;
                        rbr_ = 0;
                    } else {  // ']'
                        textTarget().push_back(']');
                        if (rbr_ < 2) {
                            ++rbr_;
                        }
                    }
                }
                break;
            }
            case Lx::Ref: {
                const char c = *p;
                if (c == '#') {
                    ++p;
                    refValue_ = 0;
                    refDigits_ = false;
                    lx_ = Lx::RefNum;
                } else if (hasClass(c, kNcStart) || static_cast<unsigned char>(c) >= 0x80) {
                    refLen_ = 0;
                    lx_ = Lx::RefName;
                } else {
                    failAt(
                        ParseError::NotWellFormed, p,
                        "'&' must start an entity or character reference; write '&amp;' for a literal '&'");
                    return;
                }
                break;
            }
            case Lx::RefName: {
                while (p < lim && hasClass(*p, kNameByte)) {
                    if (*p == ':') {
                        // Namespaces in XML §7: entity names contain no colon.
                        failAt(ParseError::NotWellFormed, p, "':' in an entity reference");
                        return;
                    }
                    if (static_cast<unsigned char>(*p) >= 0x80) {
                        // Only the five predefined entities exist, and they are ASCII.
                        failAt(
                            ParseError::RestrictedXml, p,
                            "an entity reference other than &amp; &lt; &gt; &apos; &quot; (RFC 6120 §11.1)");
                        return;
                    }
                    if (refLen_ < refName_.size()) {
                        refName_[refLen_] = *p;
                    }
                    if (refLen_ < 255) {
                        ++refLen_;
                    }
                    ++p;
                }
                if (p == lim) {
                    return;
                }
                if (*p != ';') {
                    failAt(ParseError::NotWellFormed, p, "an entity reference must end with ';'");
                    return;
                }
                const std::string_view name(refName_.data(), std::min<std::size_t>(refLen_, refName_.size()));
                char c = 0;
                if (refLen_ <= refName_.size()) {
                    c = name == "amp"    ? '&'
                        : name == "lt"   ? '<'
                        : name == "gt"   ? '>'
                        : name == "apos" ? '\''
                        : name == "quot" ? '"'
                                         : 0;
                }
                if (c == 0) {
                    failAt(
                        ParseError::RestrictedXml, p,
                        "an entity reference other than &amp; &lt; &gt; &apos; &quot; (XMPP forbids DTDs and "
                        "so any other entity, RFC 6120 §11.1)");
                    return;
                }
                ++p;
                appendRefChar(static_cast<std::uint32_t>(c));
                break;
            }
            case Lx::RefNum: {
                const char c = *p;
                if (c == 'x') {
                    ++p;
                    lx_ = Lx::RefHex;
                } else if (c >= '0' && c <= '9') {
                    lx_ = Lx::RefDec;
                } else {
                    failAt(ParseError::NotWellFormed, p, "'&#' must be followed by digits or 'x'");
                    return;
                }
                break;
            }
            case Lx::RefDec:
            case Lx::RefHex: {
                const bool hex = lx_ == Lx::RefHex;
                while (p < lim) {
                    const char c = *p;
                    std::uint32_t digit;
                    if (c >= '0' && c <= '9') {
                        digit = static_cast<std::uint32_t>(c - '0');
                    } else if (hex && c >= 'a' && c <= 'f') {
                        digit = static_cast<std::uint32_t>(c - 'a' + 10);
                    } else if (hex && c >= 'A' && c <= 'F') {
                        digit = static_cast<std::uint32_t>(c - 'A' + 10);
                    } else {
                        break;
                    }
                    // Saturate above U+10FFFF; leading zeros are allowed and cost nothing.
                    refValue_ = std::min<std::uint32_t>(refValue_ * (hex ? 16 : 10) + digit, 0x110000);
                    refDigits_ = true;
                    ++p;
                }
                if (p == lim) {
                    return;
                }
                if (*p != ';' || !refDigits_) {
                    failAt(ParseError::NotWellFormed, p,
                           "a character reference must be digits followed by ';'");
                    return;
                }
                if (!finishCharRef(p)) {
                    return;
                }
                ++p;
                break;
            }
        }
    }
}

bool Parser::finishCharRef(const char* p) {
    if (!isXmlChar(refValue_)) {
        failAt(ParseError::NotWellFormed, p,
               "a character reference to a character that XML 1.0 does not allow (§2.2, §4.1)");
        return false;
    }
    appendRefChar(refValue_);
    return true;
}

void Parser::appendRefChar(std::uint32_t cp) {
    if (refReturn_ == Lx::Value) {
        appendUtf8(work_->attrs.back().value, cp);  // not normalised: §3.3.3
    } else {
        appendUtf8(textTarget(), cp);
        rbr_ = 0;
    }
    lx_ = refReturn_;
}

std::string& Parser::textTarget() {
    std::vector<Node>& nodes = work_->current->nodes();
    if (nodes.empty() || nodes.back().isElement()) {
        nodes.emplace_back(std::string());
    }
    return nodes.back().text();
}

// --- Declarations and tags -----------------------------------------------------------------------

// XML 1.0 §2.8 XMLDecl, without "<?" and "?>": "xml version='1.0' encoding='UTF-8' standalone='no'".
void Parser::finishXmlDecl() {
    const std::string& s = work_->tok;
    std::size_t i = 3;  // after "xml"
    auto skipSpace = [&] {
        const std::size_t from = i;
        while (i < s.size() && isSpace(s[i])) {
            ++i;
        }
        return i != from;
    };
    const std::array<std::string_view, 3> order = {"version", "encoding", "standalone"};
    std::size_t next = 0;
    bool sawVersion = false;
    while (true) {
        const bool space = skipSpace();
        if (i == s.size()) {
            break;
        }
        std::size_t nameEnd = i;
        while (nameEnd < s.size() && hasClass(s[nameEnd], kAsciiAlpha)) {
            ++nameEnd;
        }
        const std::string_view name(s.data() + i, nameEnd - i);
        std::size_t k = next;
        while (k < order.size() && order[k] != name) {
            ++k;
        }
        if (!space || k == order.size() || (k > 0 && !sawVersion)) {
            fail(ParseError::NotWellFormed, "malformed XML declaration " + quoted(s) +
                                                "; expected <?xml version='1.0' encoding='UTF-8'?>");
            return;
        }
        next = k + 1;
        i = nameEnd;
        skipSpace();
        if (i == s.size() || s[i] != '=') {
            fail(ParseError::NotWellFormed,
                 "malformed XML declaration: '=' expected after " + std::string(name));
            return;
        }
        ++i;
        skipSpace();
        if (i == s.size() || (s[i] != '\'' && s[i] != '"')) {
            fail(ParseError::NotWellFormed,
                 "malformed XML declaration: quoted value expected for " + std::string(name));
            return;
        }
        const char q = s[i++];
        const std::size_t close = s.find(q, i);
        if (close == std::string::npos) {
            fail(ParseError::NotWellFormed,
                 "malformed XML declaration: unterminated value of " + std::string(name));
            return;
        }
        const std::string_view value(s.data() + i, close - i);
        i = close + 1;
        if (k == 0) {
            sawVersion = true;
            if (value != "1.0") {
                fail(ParseError::NotWellFormed, "XML version " + quoted(value) +
                                                    " is not supported; XMPP uses XML 1.0 (RFC 6120 §11.4)");
                return;
            }
        } else if (k == 1) {
            const bool encName = !value.empty() && hasClass(value[0], kAsciiAlpha) &&
                                 std::all_of(value.begin(), value.end(), [](char c) {
                                     return hasClass(c, kAsciiAlpha) || (c >= '0' && c <= '9') || c == '.' ||
                                            c == '_' || c == '-';
                                 });
            if (!encName) {
                fail(ParseError::NotWellFormed,
                     "malformed encoding name " + quoted(value) + " in the XML declaration");
                return;
            }
            if (!iequalsAscii(value, "utf-8")) {
                fail(ParseError::UnsupportedEncoding, "the XML declaration names encoding " + quoted(value) +
                                                          "; XMPP streams must be UTF-8 (RFC 6120 §11.6)");
                return;
            }
        } else if (value != "yes" && value != "no") {
            fail(ParseError::NotWellFormed, "standalone must be 'yes' or 'no' in the XML declaration");
            return;
        }
    }
    if (!sawVersion) {
        fail(ParseError::NotWellFormed, "the XML declaration lacks version='1.0'");
        return;
    }
    hadXmlDecl_ = true;
    releaseWork();
}

void Parser::finishStartTag(bool empty, const StreamLimits& limits) {
    Work& w = *work_;
    const bool header = mode_ == Mode::Header;  // the stream header (document mode never gets here)
    if (!header && depth_ + 1 > limits.maxDepth) {
        fail(ParseError::TooDeep,
             "elements are nested more than " + std::to_string(limits.maxDepth) + " deep");
        return;
    }

    // Namespace declarations first: they apply to the element's own name and attributes. Their
    // values stay in `attrs` until the element exists; bindings point at them meanwhile.
    std::vector<Attribute>& attrs = w.attrs;
    const auto bindingsBefore = static_cast<std::uint32_t>(w.bindings.size());
    const std::size_t rootBefore = rootScope_.size();
    std::string contentNs;
    std::size_t declarations = 0;
    for (std::size_t i = 0; i < attrs.size(); ++i) {
        Attribute& a = attrs[i];
        if (!isDeclaration(a.name)) {
            continue;
        }
        ++declarations;
        const bool isDefault = a.name.size() == 5;
        const std::string_view prefix = isDefault ? std::string_view{} : std::string_view(a.name).substr(6);
        const std::string& uri = a.value;
        // Namespaces in XML 1.0 §3 (and errata NE05): reserved prefixes and names.
        if (prefix == "xmlns" || uri == kXmlnsNamespace || (prefix == "xml") != (uri == kXmlNamespace)) {
            fail(ParseError::NotWellFormed,
                 "namespace declaration " + a.name + "=" + quoted(uri) +
                     " binds a reserved prefix or namespace (Namespaces in XML §3)");
            return;
        }
        if (!isDefault && uri.empty()) {
            fail(ParseError::NotWellFormed, "namespace declaration " + a.name +
                                                "='' undeclares a prefix, which XML 1.0 namespaces forbid");
            return;
        }
        if (prefix == "xml") {
            continue;  // binding xml to its own namespace is allowed and changes nothing
        }
        Binding b(prefix, internNamespace(uri));
        if (header) {
            if (isDefault) {
                contentNs = uri;
            }
            if (b.uri == nullptr) {
                b.own(std::move(a.value));
            }
            rootScope_.push_back(std::move(b));
        } else {
            if (b.uri == nullptr) {
                b.uri = &a.value;  // made permanent below
            }
            b.attrIndex = static_cast<std::uint32_t>(i);
            pushBinding(std::move(b));
        }
    }
    if (declarations > 1) {
        // Duplicate declarations are duplicate attributes (XML 1.0 §3.1 WFC: Unique Att Spec).
        const bool dup = header ? hasDuplicate(rootScope_.size() - rootBefore,
                                               [&](std::size_t k) {
                                                   return std::string_view(rootScope_[rootBefore + k].prefix);
                                               })
                                : hasDuplicate(w.bindings.size() - bindingsBefore, [&](std::size_t k) {
                                      return std::string_view(w.bindings[bindingsBefore + k].prefix);
                                  });
        if (dup) {
            fail(ParseError::NotWellFormed, "a namespace prefix is declared twice on <" + w.tok + ">");
            return;
        }
    }

    // Resolve the element name.
    const std::size_t colon = w.tok.find(':');
    const std::string_view prefix =
        colon == std::string::npos ? std::string_view{} : std::string_view(w.tok).substr(0, colon);
    const Resolved ns = lookup(prefix);
    if (ns.uri == nullptr) {
        fail(ParseError::BadNamespacePrefix, "the prefix of element <" + w.tok +
                                                 "> is not declared; add xmlns:" + std::string(prefix) +
                                                 "='...' (RFC 6120 §4.9.3.2)");
        return;
    }
    // Resolve attribute names; unprefixed attributes are in no namespace (Namespaces in XML §6.2).
    for (Attribute& a : attrs) {
        const std::size_t c = a.name.find(':');
        if (c == std::string::npos || isDeclaration(a.name)) {
            continue;
        }
        const Resolved attrNs = lookup(std::string_view(a.name).substr(0, c));
        if (attrNs.uri == nullptr) {
            fail(ParseError::BadNamespacePrefix, "the prefix of attribute " + a.name + " on <" + w.tok +
                                                     "> is not declared (RFC 6120 §4.9.3.2)");
            return;
        }
        a.ns = *attrNs.uri;
        a.name.erase(0, c + 1);
    }
    // Declarations cannot collide with resolved attributes: those have no ':' in their local name,
    // and a prefixed one has a non-empty namespace.
    const bool duplicate =
        attrs.size() <= 8 ? hasDuplicateAttribute(attrs) : hasDuplicate(attrs.size(), [&](std::size_t k) {
            return std::pair<std::string_view, std::string_view>(attrs[k].ns, attrs[k].name);
        });
    if (duplicate) {
        fail(ParseError::NotWellFormed,
             "an attribute appears twice on <" + w.tok +
                 "> (after namespace expansion; XML 1.0 §3.1, Namespaces in XML §6.3)");
        return;
    }
    auto compactAttributes = [&] {
        if (declarations == 0) {
            return;
        }
        std::size_t kept = 0;
        for (std::size_t i = 0; i < attrs.size(); ++i) {
            if (attrs[i].ns.empty() && isDeclaration(attrs[i].name)) {
                continue;
            }
            if (kept != i) {
                attrs[kept] = std::move(attrs[i]);
            }
            ++kept;
        }
        attrs.resize(kept);
    };

    if (header) {
        rootQName_ = w.tok;
        StreamOpen open;
        open.name = colon == std::string::npos ? std::move(w.tok) : w.tok.substr(colon + 1);
        open.ns = *ns.uri;
        open.contentNs = std::move(contentNs);
        compactAttributes();
        open.attributes = std::move(attrs);
        open.hadXmlDeclaration = hadXmlDecl_;
        emit(std::move(open));
        releaseWork();
        lx_ = Lx::Misc;
        if (empty) {
            emit(StreamClose{});
            mode_ = Mode::Done;
            std::vector<Binding>().swap(rootScope_);
        } else {
            mode_ = Mode::Between;
        }
        return;
    }

    // The element's namespace string is moved out of its own declaration when it has one (no copy),
    // and that binding then points at the element's copy.
    std::string nsValue;
    Binding* own = nullptr;
    bool ownInterned = true;
    if (ns.binding != kNone && ns.binding >= bindingsBefore) {
        own = &w.bindings[ns.binding];
        std::string& declared = attrs[own->attrIndex].value;
        ownInterned = own->uri != &declared;
        nsValue = std::move(declared);
    } else {
        nsValue = *ns.uri;
    }
    std::string local = colon == std::string::npos ? std::move(w.tok) : w.tok.substr(colon + 1);
    Element* element;
    if (depth_ == 0) {
        w.root = Element(std::move(local), std::move(nsValue));
        element = &w.root;
    } else {
        std::vector<Node>& siblings = w.current->nodes();
        if (siblings.size() == siblings.capacity() && siblings.size() < 4) {
            siblings.reserve(4);  // stanzas usually have a few children: one allocation, not three
        }
        element = &w.current->append(Element(std::move(local), std::move(nsValue)));
    }
    if (own != nullptr && !ownInterned) {
        own->uri = &element->ns();
    }
    if (!empty) {
        // Other declarations on this element keep their URI for its descendants.
        for (std::size_t k = bindingsBefore; k < w.bindings.size(); ++k) {
            Binding& b = w.bindings[k];
            if (&b != own && b.uri == &attrs[b.attrIndex].value) {
                b.own(std::move(attrs[b.attrIndex].value));
            }
        }
    }
    compactAttributes();
    if (attrs.empty()) {
        attrs.clear();  // keep the capacity for the next start tag of this stanza
    } else {
        element->setAttributes(std::move(attrs));
        attrs = {};
    }
    if (empty) {
        popBindings(bindingsBefore);
        if (depth_ == 0) {
            completeUnit();
        } else {
            lx_ = Lx::Text;
            rbr_ = 0;
            crPending_ = false;
        }
        return;
    }
    w.frames.push(element, prefix, bindingsBefore);
    w.current = element;
    ++depth_;
    lx_ = Lx::Text;
    rbr_ = 0;
    crPending_ = false;
}

void Parser::finishEndTag() {
    Work& w = *work_;
    if (depth_ == 0) {
        // At stream level: the end of the stream (RFC 6120 §4.4).
        if (w.tok != rootQName_) {
            fail(ParseError::NotWellFormed,
                 "end tag </" + w.tok + "> does not match the stream header <" + rootQName_ + ">");
            return;
        }
        emit(StreamClose{});
        mode_ = Mode::Done;
        releaseWork();
        std::vector<Binding>().swap(rootScope_);
        return;
    }
    Frame& f = w.frames.back();
    const std::string& name = f.element->name();
    const std::string_view tok = w.tok;
    const bool match = f.prefix.empty()
                           ? tok == name
                           : tok.size() == f.prefix.size() + 1 + name.size() &&
                                 tok.substr(0, f.prefix.size()) == f.prefix && tok[f.prefix.size()] == ':' &&
                                 tok.substr(f.prefix.size() + 1) == name;
    if (!match) {
        fail(ParseError::NotWellFormed, "end tag </" + w.tok + "> does not match start tag <" +
                                            (f.prefix.empty() ? name : f.prefix + ":" + name) + ">");
        return;
    }
    closeElement();
}

void Parser::closeElement() {
    Work& w = *work_;
    popBindings(w.frames.back().bindingsBefore);
    w.frames.pop();
    --depth_;
    if (depth_ == 0) {
        completeUnit();
        return;
    }
    w.current = w.frames.back().element;
    lx_ = Lx::Text;
    rbr_ = 0;
    crPending_ = false;
}

void Parser::completeUnit() {
    emit(std::move(work_->root));
    releaseWork();
    lx_ = Lx::Misc;
    mode_ = documentMode_ ? Mode::Epilog : Mode::Between;
}

}  // namespace detail

// --- StreamParser --------------------------------------------------------------------------------

struct StreamParser::Impl : detail::Parser {
    Impl() : Parser(false, {}) {}
};

StreamParser::StreamParser(StreamLimits limits) : limits_(limits) {}
StreamParser::~StreamParser() = default;
StreamParser::StreamParser(StreamParser&&) noexcept = default;
StreamParser& StreamParser::operator=(StreamParser&&) noexcept = default;

void StreamParser::feed(std::string_view bytes) {
    if (bytes.empty()) {
        return;
    }
    if (!impl_) {
        impl_ = std::make_unique<Impl>();
    }
    impl_->feed(bytes, limits_);
}

std::optional<StreamEvent> StreamParser::next() {
    return impl_ ? impl_->pop() : std::nullopt;
}

void StreamParser::reset() {
    impl_.reset();
}

std::size_t StreamParser::bufferedBytes() const noexcept {
    return impl_ ? impl_->bufferedBytes() : 0;
}

const StreamLimits& StreamParser::limits() const noexcept {
    return limits_;
}

void StreamParser::setLimits(const StreamLimits& limits) {
    limits_ = limits;
}

ElementParseResult parseElement(std::string_view document, const StreamLimits& limits,
                                std::string_view defaultNs) {
    detail::Parser parser(true, defaultNs);
    parser.feed(document, limits);
    parser.finishDocument();
    ElementParseResult result;
    while (auto event = parser.pop()) {
        if (auto* element = std::get_if<Element>(&*event)) {
            result.element = std::move(*element);
        } else if (auto* failure = std::get_if<StreamFailure>(&*event)) {
            result.element.reset();
            result.failure = std::move(*failure);
        }
    }
    return result;
}

}  // namespace parley::xml
