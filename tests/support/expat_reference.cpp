#include "expat_reference.h"

#include <expat.h>

#include <strings.h>
#include <algorithm>
#include <cstring>
#include <optional>

namespace parley::xml::testing {

namespace {

// Expat joins namespace and local name with this separator. It is not an XML character, so no
// namespace URI can contain it (cf. expat CVE-2022-25236 with a printable separator).
constexpr char kSeparator = '\x01';

struct State {
    XML_Parser parser = nullptr;
    std::string_view input;
    int depth = 0;  // 1 while at stream level
    bool sawXmlDecl = false;
    bool rejected = false;
    bool closed = false;
    std::string error;
    std::string rootContentNs;
    std::optional<Element> stanza;
    std::vector<Element*> open;  // open elements inside the stanza
    std::vector<StreamEvent> events;
};

void reject(State& s, std::string why) {
    if (!s.rejected) {
        s.rejected = true;
        s.error = std::move(why);
    }
    XML_StopParser(s.parser, XML_FALSE);
}

void splitName(const char* expanded, std::string& ns, std::string& local) {
    const char* sep = std::strchr(expanded, kSeparator);
    if (sep == nullptr) {
        ns.clear();
        local = expanded;
    } else {
        ns.assign(expanded, sep);
        local = sep + 1;
    }
}

std::vector<Attribute> attributes(const XML_Char** atts) {
    std::vector<Attribute> out;
    for (std::size_t i = 0; atts[i] != nullptr; i += 2) {
        Attribute a;
        splitName(atts[i], a.ns, a.name);
        a.value = atts[i + 1];
        out.push_back(std::move(a));
    }
    return out;
}

void XMLCALL onStart(void* data, const XML_Char* name, const XML_Char** atts) {
    auto& s = *static_cast<State*>(data);
    Element e;
    std::string ns, local;
    splitName(name, ns, local);
    if (s.depth == 0) {
        StreamOpen open;
        open.name = std::move(local);
        open.ns = std::move(ns);
        open.contentNs = s.rootContentNs;
        open.attributes = attributes(atts);
        open.hadXmlDeclaration = s.sawXmlDecl;
        s.events.emplace_back(std::move(open));
    } else if (s.depth == 1) {
        s.stanza.emplace(std::move(local), std::move(ns));
        s.stanza->setAttributes(attributes(atts));
        s.open.push_back(&*s.stanza);
    } else {
        Element& child = s.open.back()->append(std::move(local), std::move(ns));
        child.setAttributes(attributes(atts));
        s.open.push_back(&child);
    }
    ++s.depth;
}

void XMLCALL onEnd(void* data, const XML_Char*) {
    auto& s = *static_cast<State*>(data);
    --s.depth;
    if (s.depth == 0) {
        s.events.emplace_back(StreamClose{});
        s.closed = true;
        XML_StopParser(s.parser, XML_FALSE);
        return;
    }
    s.open.pop_back();
    if (s.depth == 1) {
        s.events.emplace_back(std::move(*s.stanza));
        s.stanza.reset();
    }
}

void XMLCALL onText(void* data, const XML_Char* text, int len) {
    auto& s = *static_cast<State*>(data);
    const std::string_view t(text, static_cast<std::size_t>(len));
    if (s.depth >= 2) {
        s.open.back()->appendText(t);
        return;
    }
    // At stream level only literal whitespace is allowed (RFC 6120 §11.7); a character reference
    // is not whitespace even if it denotes a space.
    const auto index = XML_GetCurrentByteIndex(s.parser);
    const bool reference = index >= 0 && static_cast<std::size_t>(index) < s.input.size() &&
                           s.input[static_cast<std::size_t>(index)] == '&';
    const bool space = std::all_of(t.begin(), t.end(),
                                   [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; });
    if (reference || !space) {
        reject(s, "character data at stream level");
    }
}

void XMLCALL onNamespace(void* data, const XML_Char* prefix, const XML_Char* uri) {
    auto& s = *static_cast<State*>(data);
    if (s.depth == 0 && prefix == nullptr) {
        s.rootContentNs = uri ? uri : "";
    }
}

void XMLCALL onXmlDecl(void* data, const XML_Char* version, const XML_Char* encoding, int) {
    auto& s = *static_cast<State*>(data);
    s.sawXmlDecl = true;
    if (version == nullptr || std::strcmp(version, "1.0") != 0) {
        reject(s, "XML version other than 1.0");
    }
    if (encoding != nullptr && strcasecmp(encoding, "utf-8") != 0) {
        reject(s, "encoding other than UTF-8");
    }
}

void XMLCALL onComment(void* data, const XML_Char*) {
    reject(*static_cast<State*>(data), "comment");
}
void XMLCALL onPi(void* data, const XML_Char*, const XML_Char*) {
    reject(*static_cast<State*>(data), "processing instruction");
}
void XMLCALL onCdata(void* data) {
    reject(*static_cast<State*>(data), "CDATA section");
}
void XMLCALL onDoctype(void* data, const XML_Char*, const XML_Char*, const XML_Char*, int) {
    reject(*static_cast<State*>(data), "DOCTYPE");
}
void XMLCALL onEntityDecl(void* data, const XML_Char*, int, const XML_Char*, int, const XML_Char*,
                          const XML_Char*, const XML_Char*, const XML_Char*) {
    reject(*static_cast<State*>(data), "entity declaration");
}
void XMLCALL onSkippedEntity(void* data, const XML_Char*, int) {
    reject(*static_cast<State*>(data), "entity reference");
}

}  // namespace

ReferenceOutcome parseStreamWithExpat(std::string_view input, bool isFinal) {
    State s;
    s.input = input;
    s.parser = XML_ParserCreateNS("UTF-8", kSeparator);
    XML_SetUserData(s.parser, &s);
    XML_SetElementHandler(s.parser, onStart, onEnd);
    XML_SetCharacterDataHandler(s.parser, onText);
    XML_SetStartNamespaceDeclHandler(s.parser, onNamespace);
    XML_SetXmlDeclHandler(s.parser, onXmlDecl);
    XML_SetCommentHandler(s.parser, onComment);
    XML_SetProcessingInstructionHandler(s.parser, onPi);
    XML_SetStartCdataSectionHandler(s.parser, onCdata);
    XML_SetStartDoctypeDeclHandler(s.parser, onDoctype);
    XML_SetEntityDeclHandler(s.parser, onEntityDecl);
    XML_SetSkippedEntityHandler(s.parser, onSkippedEntity);
    // Report every complete element at once, like StreamParser (expat >= 2.6, backported by Debian).
    XML_SetReparseDeferralEnabled(s.parser, XML_FALSE);

    const auto status =
        XML_Parse(s.parser, input.data(), static_cast<int>(input.size()), isFinal ? XML_TRUE : XML_FALSE);
    bool invalidNonAscii = false;
    if (status == XML_STATUS_ERROR && !s.closed && !s.rejected) {
        s.rejected = true;
        s.error = XML_ErrorString(XML_GetErrorCode(s.parser));
        const auto at = XML_GetCurrentByteIndex(s.parser);
        invalidNonAscii = XML_GetErrorCode(s.parser) == XML_ERROR_INVALID_TOKEN && at >= 0 &&
                          static_cast<std::size_t>(at) < input.size() &&
                          static_cast<unsigned char>(input[static_cast<std::size_t>(at)]) >= 0x80;
    }
    XML_ParserFree(s.parser);

    ReferenceOutcome out;
    out.rejected = s.rejected;
    out.error = std::move(s.error);
    out.invalidNonAsciiToken = invalidNonAscii;
    out.events = std::move(s.events);
    return out;
}

namespace {

// Whether the shorter of the two sequences is a prefix of the longer.
bool prefixRelated(const std::vector<StreamEvent>& a, const std::vector<StreamEvent>& b) {
    const std::size_t n = std::min(a.size(), b.size());
    return std::equal(a.begin(), a.begin() + static_cast<std::ptrdiff_t>(n), b.begin(), sameEvent);
}

}  // namespace

std::optional<std::string> differentialMismatch(std::string_view input,
                                                const std::vector<StreamEvent>& ours) {
    const StreamFailure* failure = ours.empty() ? nullptr : std::get_if<StreamFailure>(&ours.back());
    std::vector<StreamEvent> oursBefore(ours.begin(), ours.end() - (failure ? 1 : 0));
    const ReferenceOutcome ref = parseStreamWithExpat(input, false);
    auto report = [&](std::string_view what) {
        return std::string(what) + "\nours:\n" + describe(ours) + "expat" +
               (ref.rejected ? " (rejected: " + ref.error + ")" : std::string()) + ":\n" +
               describe(ref.events);
    };
    if (failure == nullptr) {
        if (ref.rejected && ref.invalidNonAsciiToken) {
            return std::nullopt;  // Fifth Edition name characters (see the header)
        }
        if (ref.rejected) {
            return report("StreamParser accepts what expat rejects");
        }
        if (!sameEvents(ours, ref.events)) {
            return report("different events");
        }
        return std::nullopt;
    }
    if (!prefixRelated(oursBefore, ref.events)) {
        return report("different events before the failure");
    }
    if (ref.rejected) {
        return std::nullopt;
    }
    switch (failure->error) {
        case ParseError::ElementTooBig:
        case ParseError::TooDeep:
        case ParseError::TooManyAttributes:
        case ParseError::UnsupportedEncoding:
            return std::nullopt;
        default:
            break;
    }
    if (parseStreamWithExpat(input, true).rejected) {
        return std::nullopt;
    }
    return report("StreamParser rejects a complete document that expat accepts");
}

bool sameEvent(const StreamEvent& a, const StreamEvent& b) {
    if (a.index() != b.index()) {
        return false;
    }
    if (const auto* x = std::get_if<StreamOpen>(&a)) {
        const auto& y = std::get<StreamOpen>(b);
        Element ex(x->name, x->ns), ey(y.name, y.ns);
        ex.setAttributes(x->attributes);
        ey.setAttributes(y.attributes);
        return x->contentNs == y.contentNs && x->hadXmlDeclaration == y.hadXmlDeclaration && ex == ey;
    }
    if (const auto* x = std::get_if<Element>(&a)) {
        return *x == std::get<Element>(b);
    }
    if (const auto* x = std::get_if<StreamFailure>(&a)) {
        return x->error == std::get<StreamFailure>(b).error;
    }
    return true;  // StreamClose
}

bool sameEvents(const std::vector<StreamEvent>& a, const std::vector<StreamEvent>& b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), sameEvent);
}

std::string describe(const StreamEvent& event) {
    if (const auto* open = std::get_if<StreamOpen>(&event)) {
        Element e(open->name, open->ns);
        e.setAttributes(open->attributes);
        return "open " + e.toString() + " contentNs='" + open->contentNs + "'" +
               (open->hadXmlDeclaration ? " +decl" : "");
    }
    if (const auto* e = std::get_if<Element>(&event)) {
        return "element " + e->toString();
    }
    if (const auto* f = std::get_if<StreamFailure>(&event)) {
        return "failure " + std::string(toString(f->error)) + ": " + f->detail;
    }
    return "close";
}

std::string describe(const std::vector<StreamEvent>& events) {
    std::string out;
    for (const StreamEvent& e : events) {
        out += "  ";
        out += describe(e);
        out += '\n';
    }
    return out;
}

}  // namespace parley::xml::testing
