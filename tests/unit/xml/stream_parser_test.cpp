#include "parley/xml/stream_parser.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include "expat_reference.h"

// Allocation counter for the "idle parser allocates nothing" tests.
namespace {
std::atomic<std::size_t> gAllocations{0};
}  // namespace
void* operator new(std::size_t size) {
    ++gAllocations;
    if (void* p = std::malloc(size == 0 ? 1 : size)) {
        return p;
    }
    throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
    std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
    std::free(p);
}

namespace parley::xml {
namespace {

using testing::describe;

constexpr std::string_view kHeader =
    "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
    "xmlns:stream='http://etherx.jabber.org/streams' "
    "to='example.com' version='1.0' xml:lang='en'>";
constexpr std::string_view kMessage =
    "<message to='juliet@example.com/balcony' from='romeo@example.net/orchard' type='chat' id='ktx72v49'>"
    "<body>Art thou not Romeo, and a Montague?</body></message>";

std::vector<StreamEvent> drain(StreamParser& parser) {
    std::vector<StreamEvent> out;
    while (auto e = parser.next()) {
        out.push_back(std::move(*e));
    }
    return out;
}

// Feeds `input` in pieces of `chunk` bytes (0: all at once) and collects every event.
std::vector<StreamEvent> parseAll(std::string_view input, std::size_t chunk = 0, StreamLimits limits = {}) {
    StreamParser parser(limits);
    std::vector<StreamEvent> out;
    if (chunk == 0) {
        chunk = input.size();
    }
    for (std::size_t i = 0; i < input.size(); i += chunk) {
        parser.feed(input.substr(i, chunk));
        for (auto& e : drain(parser)) {
            out.push_back(std::move(e));
        }
    }
    return out;
}

std::optional<ParseError> failureOf(const std::vector<StreamEvent>& events) {
    if (!events.empty()) {
        if (const auto* f = std::get_if<StreamFailure>(&events.back())) {
            return f->error;
        }
    }
    return std::nullopt;
}

std::string errorName(std::optional<ParseError> e) {
    return e ? std::string(toString(*e)) : "accepted";
}

// --- Basic events --------------------------------------------------------------------------------

TEST(StreamParser, ParsesHeaderAndStanzas) {
    const auto events = parseAll(std::string(kHeader) + std::string(kMessage) + "</stream:stream>");
    ASSERT_EQ(events.size(), 3u) << describe(events);
    const auto& open = std::get<StreamOpen>(events[0]);
    EXPECT_EQ(open.name, "stream");
    EXPECT_EQ(open.ns, "http://etherx.jabber.org/streams");
    EXPECT_EQ(open.contentNs, "jabber:client");
    EXPECT_EQ(open.attr("to"), "example.com");
    EXPECT_EQ(open.attr("version"), "1.0");
    ASSERT_NE(open.findAttr("lang", kXmlNamespace), nullptr);
    EXPECT_EQ(*open.findAttr("lang", kXmlNamespace), "en");
    EXPECT_EQ(open.attributes.size(), 3u);  // namespace declarations are not attributes
    EXPECT_TRUE(open.hadXmlDeclaration);

    const auto& msg = std::get<Element>(events[1]);
    EXPECT_TRUE(msg.is("message", "jabber:client"));
    EXPECT_EQ(msg.attr("type"), "chat");
    EXPECT_EQ(msg.childText("body", "jabber:client"), "Art thou not Romeo, and a Montague?");
    EXPECT_EQ(msg.toString("jabber:client"), kMessage);
    EXPECT_TRUE(std::holds_alternative<StreamClose>(events[2]));
}

TEST(StreamParser, HeaderWithoutDeclarationOrDefaultNamespace) {
    const auto events = parseAll("<stream:stream xmlns:stream='http://etherx.jabber.org/streams'><a/>");
    ASSERT_EQ(events.size(), 2u) << describe(events);
    EXPECT_FALSE(std::get<StreamOpen>(events[0]).hadXmlDeclaration);
    EXPECT_EQ(std::get<StreamOpen>(events[0]).contentNs, "");
    EXPECT_TRUE(std::get<Element>(events[1]).is("a", ""));
}

TEST(StreamParser, SelfClosingRootOpensAndCloses) {
    const auto events = parseAll("<stream:stream xmlns:stream='http://etherx.jabber.org/streams'/>");
    ASSERT_EQ(events.size(), 2u);
    EXPECT_TRUE(std::holds_alternative<StreamOpen>(events[0]));
    EXPECT_TRUE(std::holds_alternative<StreamClose>(events[1]));
}

TEST(StreamParser, InputAfterCloseOrFailureIsIgnored) {
    StreamParser p;
    p.feed(std::string(kHeader) + "</stream:stream>garbage<x/>");
    p.feed("<more/>");
    auto events = drain(p);
    ASSERT_EQ(events.size(), 2u) << describe(events);
    EXPECT_TRUE(std::holds_alternative<StreamClose>(events[1]));

    StreamParser q;
    q.feed(std::string(kHeader) + "<!-- x --><a/>");
    q.feed("<b/>");
    events = drain(q);
    ASSERT_EQ(events.size(), 2u);
    EXPECT_EQ(failureOf(events), ParseError::RestrictedXml);
}

TEST(StreamParser, CompleteElementIsNotHeldBack) {
    StreamParser p;
    const std::string all = std::string(kHeader) + std::string(kMessage);
    p.feed(all.substr(0, all.size() - 1));
    auto events = drain(p);
    ASSERT_EQ(events.size(), 1u);  // the header only
    EXPECT_GT(p.bufferedBytes(), 0u);
    p.feed(all.substr(all.size() - 1));
    events = drain(p);
    ASSERT_EQ(events.size(), 1u);
    EXPECT_TRUE(std::holds_alternative<Element>(events[0]));
    EXPECT_EQ(p.bufferedBytes(), 0u);
    // A header is emitted at its '>' too.
    StreamParser h;
    h.feed(kHeader);
    EXPECT_EQ(drain(h).size(), 1u);
}

TEST(StreamParser, FiveHundredStanzasInOneFeedComeOutInOrder) {
    std::string input(kHeader);
    for (int i = 0; i < 500; ++i) {
        input += "<iq type='get' id='" + std::to_string(i) + "'><ping xmlns='urn:xmpp:ping'/></iq>\n";
    }
    const auto events = parseAll(input);
    ASSERT_EQ(events.size(), 501u);
    for (int i = 0; i < 500; ++i) {
        const auto& iq = std::get<Element>(events[static_cast<std::size_t>(i) + 1]);
        EXPECT_EQ(iq.attr("id"), std::to_string(i));
        ASSERT_NE(iq.findChild("ping", "urn:xmpp:ping"), nullptr);
    }
}

TEST(StreamParser, ResetStartsANewStreamWithItsOwnDeclaration) {
    StreamParser p;
    p.feed(std::string(kHeader) + "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/><partial");
    EXPECT_EQ(drain(p).size(), 2u);
    p.reset();
    EXPECT_EQ(p.bufferedBytes(), 0u);
    EXPECT_FALSE(p.next());
    p.feed(std::string(kHeader) + "<a/>");
    const auto events = drain(p);
    ASSERT_EQ(events.size(), 2u) << describe(events);
    EXPECT_TRUE(std::get<StreamOpen>(events[0]).hadXmlDeclaration);
    // Reset also revives a closed or failed parser.
    p.feed("</stream:stream>");
    EXPECT_EQ(drain(p).size(), 1u);
    p.reset();
    p.feed(kHeader);
    EXPECT_EQ(drain(p).size(), 1u);
}

TEST(StreamParser, LimitsAccessors) {
    StreamParser p;
    EXPECT_EQ(p.limits().maxElementBytes, 262144u);
    StreamLimits l;
    l.maxDepth = 3;
    p.setLimits(l);
    EXPECT_EQ(p.limits().maxDepth, 3u);
    StreamParser moved = std::move(p);
    EXPECT_EQ(moved.limits().maxDepth, 3u);
}

TEST(StreamParser, ErrorNamesAreStable) {
    EXPECT_EQ(toString(ParseError::NotWellFormed), "not-well-formed");
    EXPECT_EQ(toString(ParseError::RestrictedXml), "restricted-xml");
    EXPECT_EQ(toString(ParseError::UnsupportedEncoding), "unsupported-encoding");
    EXPECT_EQ(toString(ParseError::BadNamespacePrefix), "bad-namespace-prefix");
    EXPECT_EQ(toString(ParseError::ElementTooBig), "element-too-big");
    EXPECT_EQ(toString(ParseError::TooDeep), "too-deep");
    EXPECT_EQ(toString(ParseError::TooManyAttributes), "too-many-attributes");
}

// --- Split feeding -------------------------------------------------------------------------------

const std::vector<std::string>& splitCorpus() {
    static const std::vector<std::string> corpus = {
        std::string(kHeader) + std::string(kMessage) + "  \n\t<presence/>\r\n</stream:stream>",
        "\xEF\xBB\xBF<stream:stream xmlns:stream='http://etherx.jabber.org/streams' xmlns='jabber:server'>"
        "<iq type='set' id='a&amp;b'><query xmlns='jabber:iq:roster'><item jid='a@b' name='&#x41;&#66;\r\n'/>"
        "</query></iq><message><body>x&lt;y&gt;z &apos;&quot; \xE2\x82\xAC\xF0\x9F\x98\x80 a\r\nb\rc ]] "
        "]></body>"
        "</message></stream:stream>",
        std::string(kHeader) + "<p:x xmlns:p='urn:p' p:a='1' b='2'><p:y/>text<z xmlns='urn:z'/></p:x>",
        std::string(kHeader) + "<message><body>bad &unknown; entity</body></message>",
        std::string(kHeader) + "<message><body>x</bod></message>",
        std::string(kHeader) + "<a b='1' b='2'/>",
        std::string(kHeader) + "<a>\xC3\x28</a>",
        std::string(kHeader) + "<a><![CDATA[x]]></a>",
        "<?xml version='1.0' encoding='ISO-8859-1'?><stream:stream>",
    };
    return corpus;
}

TEST(StreamParser, EverySplitPointGivesTheSameEvents) {
    for (const std::string& input : splitCorpus()) {
        const auto whole = parseAll(input);
        ASSERT_FALSE(whole.empty());
        EXPECT_TRUE(testing::sameEvents(whole, parseAll(input, 1))) << input;
        EXPECT_TRUE(testing::sameEvents(whole, parseAll(input, 7))) << input;
        for (std::size_t cut = 1; cut < input.size(); ++cut) {
            StreamParser p;
            p.feed(std::string_view(input).substr(0, cut));
            p.feed(std::string_view(input).substr(cut));
            ASSERT_TRUE(testing::sameEvents(whole, drain(p))) << input << " cut at " << cut;
        }
    }
}

// --- Memory between stanzas ----------------------------------------------------------------------

TEST(StreamParser, HoldsNothingBetweenStanzas) {
    StreamParser p;
    p.feed(kHeader);
    drain(p);
    EXPECT_EQ(p.bufferedBytes(), 0u);
    for (int i = 0; i < 3; ++i) {
        p.feed(kMessage);
        EXPECT_EQ(p.bufferedBytes(), 0u);
        p.feed("<message><body>partial");
        EXPECT_EQ(p.bufferedBytes(), std::string_view("<message><body>partial").size());
        p.feed("</body></message>");
        EXPECT_EQ(p.bufferedBytes(), 0u);
        EXPECT_EQ(drain(p).size(), 2u);
    }
    // Whitespace keepalives (RFC 6120 §11.7) cost no allocation and no buffer.
    const std::size_t before = gAllocations.load();
    for (int i = 0; i < 1000; ++i) {
        p.feed(i % 2 ? " " : "\r\n\t ");
        EXPECT_FALSE(p.next());
    }
    EXPECT_EQ(gAllocations.load(), before);
    EXPECT_EQ(p.bufferedBytes(), 0u);
}

TEST(StreamParser, ConstructionAllocatesNothing) {
    const std::size_t before = gAllocations.load();
    StreamParser p;
    p.feed("");
    EXPECT_FALSE(p.next());
    EXPECT_EQ(gAllocations.load(), before);
}

// --- Restricted XML and encodings ----------------------------------------------------------------

struct Case {
    std::string input;  // appended to kHeader unless `raw`
    std::optional<ParseError> expected;
    bool raw = false;
};

void runCases(const std::vector<Case>& cases, StreamLimits limits = {}) {
    for (const Case& c : cases) {
        const std::string input = c.raw ? c.input : std::string(kHeader) + c.input;
        const auto whole = parseAll(input, 0, limits);
        EXPECT_EQ(errorName(failureOf(whole)), errorName(c.expected)) << input << "\n" << describe(whole);
        const auto bytewise = parseAll(input, 1, limits);
        EXPECT_TRUE(testing::sameEvents(whole, bytewise)) << input << "\nwhole:\n"
                                                          << describe(whole) << "bytewise:\n"
                                                          << describe(bytewise);
    }
}

TEST(StreamParser, RestrictedXml) {
    runCases({
        {"<!-- comment -->", ParseError::RestrictedXml},
        {"<a><!-- comment --></a>", ParseError::RestrictedXml},
        {"<?php echo 1; ?>", ParseError::RestrictedXml},
        {"<a><?pi x?></a>", ParseError::RestrictedXml},
        {"<?xml version='1.0'?>", ParseError::RestrictedXml},
        {"<a><?xml version='1.0'?></a>", ParseError::RestrictedXml},
        {"<a><![CDATA[<b/>]]></a>", ParseError::RestrictedXml},
        {"<!DOCTYPE a>", ParseError::RestrictedXml},
        {"<!ENTITY x 'y'>", ParseError::RestrictedXml},
        {"<a>&xxe;</a>", ParseError::RestrictedXml},
        {"<a b='&nbsp;'/>", ParseError::RestrictedXml},
        {"<a>&amp;&lt;&gt;&apos;&quot;</a>", std::nullopt},
        {"<!DOCTYPE stream [<!ENTITY x 'y'>]><stream:stream xmlns:stream='s'>", ParseError::RestrictedXml,
         true},
        {"<!-- hi --><stream:stream xmlns:stream='s'>", ParseError::RestrictedXml, true},
        {" <?xml version='1.0'?><stream:stream xmlns:stream='s'>", ParseError::RestrictedXml, true},
        {"<?xml version='1.0'?><?xml version='1.0'?><s>", ParseError::RestrictedXml, true},
        {"<?xml-stylesheet href='a'?><s>", ParseError::RestrictedXml, true},
        {"<?xml?><s>", ParseError::RestrictedXml, true},
    });
}

TEST(StreamParser, Encodings) {
    runCases({
        {"<?xml version='1.0' encoding='UTF-8'?><s>", std::nullopt, true},
        {"<?xml version=\"1.0\" encoding=\"utf-8\" standalone='yes' ?><s>", std::nullopt, true},
        {"<?xml version='1.0' encoding='ISO-8859-1'?><s>", ParseError::UnsupportedEncoding, true},
        {"<?xml version='1.0' encoding='UTF-16'?><s>", ParseError::UnsupportedEncoding, true},
        {"<?xml version='1.1'?><s>", ParseError::NotWellFormed, true},
        {"<?xml encoding='UTF-8'?><s>", ParseError::NotWellFormed, true},
        {"<?xml encoding='UTF-8' version='1.0'?><s>", ParseError::NotWellFormed, true},
        {"<?xml version='1.0' encoding='UTF 8'?><s>", ParseError::NotWellFormed, true},
        {"<?xml version='1.0' standalone='maybe'?><s>", ParseError::NotWellFormed, true},
        {"<?xml version='1.0'encoding='UTF-8'?><s>", ParseError::NotWellFormed, true},
        {"\xEF\xBB\xBF<?xml version='1.0'?><s>", std::nullopt, true},
        {"\xEF\xBB\xBF<s>", std::nullopt, true},
        {"\xFE\xFF\x00<\x00s\x00>", ParseError::UnsupportedEncoding, true},
        {"\xFF\xFE<\x00s\x00>\x00", ParseError::UnsupportedEncoding, true},
        {std::string("\x00\x00\xFE\xFF", 4), ParseError::UnsupportedEncoding, true},
        {"\xEF\xBB<s>", ParseError::NotWellFormed, true},
    });
}

// --- Well-formedness -----------------------------------------------------------------------------

TEST(StreamParser, GarbageBeforeTheHeader) {
    runCases({
        {"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n", ParseError::NotWellFormed, true},
        {"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", ParseError::NotWellFormed, true},
        {"hello<s>", ParseError::NotWellFormed, true},
        {"</s>", ParseError::NotWellFormed, true},
        {"< s>", ParseError::NotWellFormed, true},
        {"  \r\n <s>", std::nullopt, true},
    });
    const auto tls = parseAll("\x16\x03\x01\x02\x00");
    ASSERT_EQ(failureOf(tls), ParseError::NotWellFormed);
    EXPECT_NE(std::get<StreamFailure>(tls.back()).detail.find("TLS"), std::string::npos);
}

TEST(StreamParser, WellFormedness) {
    runCases({
        // Tags and names.
        {"<a></b>", ParseError::NotWellFormed},
        {"<a><b></a></b>", ParseError::NotWellFormed},
        {"<a:b xmlns:a='u'></b:b>", ParseError::NotWellFormed},
        {"<a:b xmlns:a='u' xmlns:c='u'></c:b>", ParseError::NotWellFormed},  // same expansion, other prefix
        {"<a:b xmlns:a='u'></a:b >", std::nullopt},
        {"<1a/>", ParseError::NotWellFormed},
        {"<-a/>", ParseError::NotWellFormed},
        {"<a:/>", ParseError::NotWellFormed},
        {"<:a/>", ParseError::NotWellFormed},
        {"<a:b:c xmlns:a='u'/>", ParseError::NotWellFormed},
        {"<a b:='1'/>", ParseError::NotWellFormed},
        {"<a\xC3\x97/>", ParseError::NotWellFormed},  // U+00D7 is not a name character
        {"<\xC3\xA9l\xC3\xA8ve/>", std::nullopt},     // élève
        {"<a\xC2\xB7/>", std::nullopt},               // U+00B7 may follow the first character
        {"<\xC2\xB7/>", ParseError::NotWellFormed},   // but not start a name
        // Names are judged at their first bad character, before the tag is complete (as expat does).
        {"<a:b:c", ParseError::NotWellFormed},
        {"<a\xC3\x97", ParseError::NotWellFormed},
        {"<a b:c:d", ParseError::NotWellFormed},
        {"<a><b></1", ParseError::NotWellFormed},
        {"<a>&\xC3\xA9", ParseError::RestrictedXml},
        {"<a>&apos:x", ParseError::NotWellFormed},
        {"<a>&:x;</a>", ParseError::NotWellFormed},
        {"<a/ >", ParseError::NotWellFormed},
        {"<a></>", ParseError::NotWellFormed},
        {"<a></ a>", ParseError::NotWellFormed},
        {"<a></a x>", ParseError::NotWellFormed},
        {"<a x>", ParseError::NotWellFormed},
        {"<a =''>", ParseError::NotWellFormed},
        // Attributes.
        {"<a b=c/>", ParseError::NotWellFormed},
        {"<a b='1'c='2'/>", ParseError::NotWellFormed},
        {"<a b='1' b='2'/>", ParseError::NotWellFormed},
        {"<a xmlns:p='u' xmlns:q='u' p:b='1' q:b='2'/>", ParseError::NotWellFormed},
        {"<a xmlns:p='u' p:b='1' b='2'/>", std::nullopt},
        {"<a b='<'/>", ParseError::NotWellFormed},
        {"<a b='x\"y' c=\"x'y\"/>", std::nullopt},
        {"<a b = '1' />", std::nullopt},
        {"<a b='1/>", std::nullopt},  // incomplete, not (yet) an error
        // Character data.
        {"<a>x]]>y</a>", ParseError::NotWellFormed},
        {"<a>x]]]>y</a>", ParseError::NotWellFormed},
        {"<a>x] ]>y ]>]</a>", std::nullopt},
        {"<a>x&amp;]]&gt;</a>", std::nullopt},
        {"<a>&</a>", ParseError::NotWellFormed},
        {"<a>& b</a>", ParseError::NotWellFormed},
        {"<a>&amp</a>", ParseError::NotWellFormed},
        {"<a>&#;</a>", ParseError::NotWellFormed},
        {"<a>&#x;</a>", ParseError::NotWellFormed},
        {"<a>&#12a;</a>", ParseError::NotWellFormed},
        {"<a>&#xZ;</a>", ParseError::NotWellFormed},
        // Character references to non-characters.
        {"<a>&#0;</a>", ParseError::NotWellFormed},
        {"<a>&#1;</a>", ParseError::NotWellFormed},
        {"<a>&#x1F;</a>", ParseError::NotWellFormed},
        {"<a>&#xD800;</a>", ParseError::NotWellFormed},
        {"<a>&#xDFFF;</a>", ParseError::NotWellFormed},
        {"<a>&#xFFFE;</a>", ParseError::NotWellFormed},
        {"<a>&#xFFFF;</a>", ParseError::NotWellFormed},
        {"<a>&#x110000;</a>", ParseError::NotWellFormed},
        {"<a>&#99999999999999999999;</a>", ParseError::NotWellFormed},
        {"<a b='&#0;'/>", ParseError::NotWellFormed},
        {"<a>&#x9;&#xA;&#xD;&#x20;&#xD7FF;&#xE000;&#xFFFD;&#x10000;&#x10FFFF;&#0000000065;</a>",
         std::nullopt},
        // Raw characters outside XML 1.0 Char.
        {"<a>\x01</a>", ParseError::NotWellFormed},
        {"<a>\x1F</a>", ParseError::NotWellFormed},
        {std::string("<a>\x00</a>", 8), ParseError::NotWellFormed},
        {"<a b='\x08'/>", ParseError::NotWellFormed},
        {"<a\x01/>", ParseError::NotWellFormed},
        {"<a>\xEF\xBF\xBE</a>", ParseError::NotWellFormed},  // U+FFFE
        {"<a>\xEF\xBF\xBF</a>", ParseError::NotWellFormed},  // U+FFFF
        {"<a>\t\r\n\x7F\xC2\x80</a>", std::nullopt},
        // Invalid UTF-8.
        {"<a>\xC0\x80</a>", ParseError::NotWellFormed},          // overlong NUL
        {"<a>\xC1\xBF</a>", ParseError::NotWellFormed},          // overlong
        {"<a>\xE0\x80\xAF</a>", ParseError::NotWellFormed},      // overlong '/'
        {"<a>\xF0\x80\x80\xAF</a>", ParseError::NotWellFormed},  // overlong
        {"<a>\xED\xA0\x80</a>", ParseError::NotWellFormed},      // surrogate U+D800
        {"<a>\xED\xBF\xBF</a>", ParseError::NotWellFormed},      // surrogate U+DFFF
        {"<a>\xF4\x90\x80\x80</a>", ParseError::NotWellFormed},  // U+110000
        {"<a>\xF5\x80\x80\x80</a>", ParseError::NotWellFormed},
        {"<a>\xC3</a>", ParseError::NotWellFormed},  // truncated
        {"<a>\xE2\x82</a>", ParseError::NotWellFormed},
        {"<a>\x80</a>", ParseError::NotWellFormed},  // lone continuation
        {"<a>\xFE</a>", ParseError::NotWellFormed},
        {"<a b='\xC3'/>", ParseError::NotWellFormed},
        {"<a>\xED\x9F\xBF\xEE\x80\x80\xF4\x8F\xBF\xBF</a>", std::nullopt},  // U+D7FF U+E000 U+10FFFF
        // Stream level.
        {"hello", ParseError::NotWellFormed},
        {" \t\r\n <a/> \n", std::nullopt},
        {"&#32;", ParseError::NotWellFormed},
        {"&amp;", ParseError::NotWellFormed},
        {"</stream>", ParseError::NotWellFormed},
        {"</stream:stream >", std::nullopt},
        {"<a/>x", ParseError::NotWellFormed},
    });
}

TEST(StreamParser, Namespaces) {
    runCases({
        {"<p:a/>", ParseError::BadNamespacePrefix},
        {"<a p:b='1'/>", ParseError::BadNamespacePrefix},
        {"<a xmlns:p='u'/><p:b/>", ParseError::BadNamespacePrefix},  // out of scope
        {"<a xmlns:p=''/>", ParseError::NotWellFormed},
        {"<a xmlns:xml='urn:other'/>", ParseError::NotWellFormed},
        {"<a xmlns:xml='http://www.w3.org/XML/1998/namespace'/>", std::nullopt},
        {"<a xmlns:x='http://www.w3.org/XML/1998/namespace'/>", ParseError::NotWellFormed},
        {"<a xmlns='http://www.w3.org/XML/1998/namespace'/>", ParseError::NotWellFormed},
        {"<a xmlns:xmlns='urn:x'/>", ParseError::NotWellFormed},
        {"<a xmlns:p='http://www.w3.org/2000/xmlns/'/>", ParseError::NotWellFormed},
        {"<a xmlns='http://www.w3.org/2000/xmlns/'/>", ParseError::NotWellFormed},
        {"<xmlns:a/>", ParseError::BadNamespacePrefix},
        {"<a xmlns:p='u1' xmlns:p='u2'/>", ParseError::NotWellFormed},
        {"<a xmlns='u1' xmlns='u2'/>", ParseError::NotWellFormed},
        {"<a xml:lang='en' xml:space='preserve'/>", std::nullopt},
        {"<a xmlns=''/>", std::nullopt},
        {"<stream:features/>", std::nullopt},
    });
}

TEST(StreamParser, NamespaceResolution) {
    const auto events =
        parseAll(std::string(kHeader) +
                 "<message xmlns:e='urn:e' e:attr='v' xml:lang='fr'><e:x><y/></e:x><z xmlns=''/>"
                 "<q xmlns='urn:q'><e:r xmlns:e='urn:e2' e:s='t'/></q><stream:error/></message>");
    ASSERT_EQ(events.size(), 2u) << describe(events);
    const auto& msg = std::get<Element>(events[1]);
    EXPECT_TRUE(msg.is("message", "jabber:client"));
    ASSERT_NE(msg.findAttr("attr", "urn:e"), nullptr);
    EXPECT_EQ(msg.lang(), "fr");
    const Element* x = msg.findChild("x", "urn:e");
    ASSERT_NE(x, nullptr);
    EXPECT_NE(x->findChild("y", "jabber:client"), nullptr);  // the default namespace is inherited
    EXPECT_NE(msg.findChild("z", ""), nullptr);
    const Element* q = msg.findChild("q", "urn:q");
    ASSERT_NE(q, nullptr);
    const Element* r = q->findChild("r", "urn:e2");
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(*r->findAttr("s", "urn:e2"), "t");
    EXPECT_NE(msg.findChild("error", "http://etherx.jabber.org/streams"), nullptr);
}

TEST(StreamParser, NamespaceUrisMayContainAnyCharacter) {
    // With name and namespace kept apart there is no separator to confuse (cf. expat CVE-2022-25236).
    const auto events = parseAll(std::string(kHeader) +
                                 "<a xmlns='urn:x|y z' xmlns:p='http://e.com/ns|local' p:b='1'>"
                                 "<p:c/></a><d xmlns='&#10;&lt;&#x1F600;'/>");
    ASSERT_EQ(events.size(), 3u) << describe(events);
    const auto& a = std::get<Element>(events[1]);
    EXPECT_EQ(a.ns(), "urn:x|y z");
    EXPECT_NE(a.findAttr("b", "http://e.com/ns|local"), nullptr);
    EXPECT_NE(a.findChild("c", "http://e.com/ns|local"), nullptr);
    EXPECT_EQ(std::get<Element>(events[2]).ns(), "\n<\xF0\x9F\x98\x80");
}

// --- Normalisation -------------------------------------------------------------------------------

TEST(StreamParser, NormalisesAttributeValuesAndLineEndings) {
    const auto events = parseAll(
        std::string(kHeader) + "<a v='x\ty\nz\r\nw\rq' r='&#9;&#10;&#13;'>l1\r\nl2\rl3\n&#13;</a>", 1);
    ASSERT_EQ(events.size(), 2u) << describe(events);
    const auto& a = std::get<Element>(events[1]);
    EXPECT_EQ(a.attr("v"), "x y z w q");
    EXPECT_EQ(a.attr("r"), "\t\n\r");
    EXPECT_EQ(a.text(), "l1\nl2\nl3\n\r");
}

TEST(StreamParser, KeepsTextLosslessly) {
    const auto events = parseAll(std::string(kHeader) + "<a> <b/>x<c>y</c> z </a>");
    const auto& a = std::get<Element>(events.at(1));
    ASSERT_EQ(a.nodes().size(), 5u);
    EXPECT_EQ(a.nodes()[0].text(), " ");
    EXPECT_EQ(a.nodes()[2].text(), "x");
    EXPECT_EQ(a.nodes()[4].text(), " z ");
}

// --- Limits --------------------------------------------------------------------------------------

TEST(StreamParser, ElementSizeLimit) {
    StreamLimits limits;
    limits.maxElementBytes = 32;
    const std::string exact = "<a>" + std::string(25, 'x') + "</a>";  // 32 bytes
    ASSERT_EQ(exact.size(), 32u);
    runCases({{exact, std::nullopt}, {"<a>" + std::string(26, 'x') + "</a>", ParseError::ElementTooBig}},
             limits);
    runCases({{"  " + exact + "\n\n " + exact, std::nullopt}}, limits);  // whitespace does not count
    // Exactly the limit in every shape: self-closing, with attributes, with a multi-byte character
    // last, one after another without whitespace.
    const std::string selfClosing = "<a b='" + std::string(23, 'v') + "'/>";
    ASSERT_EQ(selfClosing.size(), 32u);
    const std::string utf8 = "<a>" + std::string(23, 'x') + "\xC3\xA9</a>";
    ASSERT_EQ(utf8.size(), 32u);
    runCases({{selfClosing, std::nullopt},
              {utf8, std::nullopt},
              {exact + selfClosing + utf8 + exact, std::nullopt},
              {"<a b='" + std::string(24, 'v') + "'/>", ParseError::ElementTooBig}},
             limits);

    // Fails as soon as the limit is passed, with nothing buffered beyond it.
    StreamParser p(limits);
    p.feed(kHeader);
    p.feed("<a>" + std::string(29, 'x'));
    EXPECT_EQ(p.bufferedBytes(), 32u);
    EXPECT_EQ(drain(p).size(), 1u);
    p.feed("x");
    const auto events = drain(p);
    EXPECT_EQ(failureOf(events), ParseError::ElementTooBig);
    EXPECT_EQ(p.bufferedBytes(), 0u);

    // A single huge name is bounded the same way.
    runCases({{"<" + std::string(100, 'n'), ParseError::ElementTooBig}}, limits);
    runCases({{"<a b='" + std::string(100, 'v'), ParseError::ElementTooBig}}, limits);
}

TEST(StreamParser, HeaderSizeLimit) {
    StreamLimits limits;
    limits.maxHeaderBytes = 64;
    runCases({{"<s a='" + std::string(100, 'x') + "'>", ParseError::ElementTooBig, true},
              {"<" + std::string(100, 's'), ParseError::ElementTooBig, true},
              {"<?xml version='1.0'?><s a='" + std::string(30, 'x') + "'>", std::nullopt, true}},
             limits);
}

TEST(StreamParser, DepthLimit) {
    StreamLimits limits;
    limits.maxDepth = 3;
    runCases({{"<a><b><c/></b></a>", std::nullopt},
              {"<a><b><c><d/></c></b></a>", ParseError::TooDeep},
              {"<a><b><c></c><c></c></b></a>", std::nullopt}},
             limits);
}

TEST(StreamParser, HundredThousandNestedElementsFailFast) {
    std::string input(kHeader);
    for (int i = 0; i < 100000; ++i) {
        input += "<a>";
    }
    StreamParser p;  // default limits: depth 64, 256 KiB
    p.feed(input);
    const auto events = drain(p);
    EXPECT_EQ(failureOf(events), ParseError::TooDeep);

    StreamLimits deep;
    deep.maxDepth = 1000000;
    deep.maxElementBytes = 1 << 24;
    StreamParser q(deep);
    std::string nested;
    for (int i = 0; i < 100000; ++i) {
        nested += "<a>";
    }
    for (int i = 0; i < 100000; ++i) {
        nested += "</a>";
    }
    q.feed(kHeader);
    q.feed(nested);
    const auto ok = drain(q);
    ASSERT_EQ(ok.size(), 2u);  // no recursion anywhere: parse, move, serialize, compare, destroy
    std::string expected = "<a xmlns='jabber:client'>" + nested.substr(3);
    expected.replace(expected.find("<a></a>"), 7, "<a/>");
    EXPECT_EQ(std::get<Element>(ok[1]).toString(), expected);
    EXPECT_EQ(std::get<Element>(ok[1]), std::get<Element>(ok[1]));
}

TEST(StreamParser, AttributeLimit) {
    StreamLimits limits;
    limits.maxAttributes = 3;
    runCases(
        {{"<s><a b='1' c='2' d='3'/>", std::nullopt, true},
         {"<s><a b='1' c='2' d='3' e='4'/>", ParseError::TooManyAttributes, true},
         {"<s><a xmlns='u' xmlns:p='v' b='1' c='2'/>", ParseError::TooManyAttributes, true},
         {"<s xmlns='u' xmlns:p='v' b='1' c='2'>", ParseError::TooManyAttributes, true}},  // the header too
        limits);
}

TEST(StreamParser, HundredThousandAttributesAreNotQuadratic) {
    StreamLimits limits;
    limits.maxAttributes = 300000;
    limits.maxElementBytes = 1 << 24;
    std::string many = "<a";
    for (int i = 0; i < 100000; ++i) {
        many += " xmlns:p" + std::to_string(i) + "='urn:" + std::to_string(i) + "' p" + std::to_string(i) +
                ":x='1'";
    }
    StreamParser p(limits);
    p.feed(kHeader);
    p.feed(many + "/>");
    auto events = drain(p);
    ASSERT_EQ(events.size(), 2u) << describe(events[1]).substr(0, 200);
    EXPECT_EQ(std::get<Element>(events[1]).attributes().size(), 100000u);

    // A duplicate (after expansion) among them is still found.
    StreamParser q(limits);
    q.feed(kHeader);
    q.feed(many + " xmlns:dup='urn:77' dup:x='2'/>");
    EXPECT_EQ(failureOf(drain(q)), ParseError::NotWellFormed);

    // With default limits it stops at the 129th attribute.
    StreamParser d;
    d.feed(kHeader);
    d.feed(many);
    EXPECT_EQ(failureOf(drain(d)), ParseError::TooManyAttributes);
}

TEST(StreamParser, ManyNestedNamespaceScopesStayCheap) {
    // 64 levels x 100 declarations: lookups go through the hash index, and scopes unwind correctly.
    StreamLimits limits;
    limits.maxElementBytes = 1 << 24;
    std::string s;
    for (int d = 0; d < 60; ++d) {
        s += "<e";
        for (int i = 0; i < 100; ++i) {
            s +=
                " xmlns:p" + std::to_string(i) + "='urn:" + std::to_string(d) + ":" + std::to_string(i) + "'";
        }
        s += " p0:a='1'>";
    }
    s += "<p99:leaf/>";
    for (int d = 0; d < 60; ++d) {
        s += "</e>";
    }
    s += "<p0:after/>";
    const auto events = parseAll(std::string(kHeader) + s, 0, limits);
    ASSERT_EQ(events.size(), 3u) << describe(events.back()).substr(0, 300);
    EXPECT_EQ(failureOf(events), ParseError::BadNamespacePrefix);  // p0 is out of scope again
    const Element* e = &std::get<Element>(events[1]);
    for (int d = 1; d < 60; ++d) {
        e = e->firstChild();
    }
    ASSERT_NE(e->findChild("leaf", "urn:59:99"), nullptr);
}

// --- Linear time ---------------------------------------------------------------------------------

TEST(StreamParser, ByteAtATimeLargeStanzaIsLinear) {
    // 256 KiB in one-byte feeds: each byte is scanned once, so this takes milliseconds, not minutes.
    std::string stanza = "<message><body>";
    while (stanza.size() < 262144 - 200) {
        stanza += "abcdefghijklmnopqrstuvwxyz &amp; 0123456789 ";
    }
    stanza += "</body><x xmlns='urn:x' a='";
    stanza.append(262144 - stanza.size() - std::string_view("'/></message>").size(), 'v');
    stanza += "'/></message>";
    ASSERT_EQ(stanza.size(), 262144u);
    StreamParser p;
    p.feed(kHeader);
    drain(p);
    for (char c : stanza) {
        p.feed(std::string_view(&c, 1));
    }
    const auto events = drain(p);
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(std::get<Element>(events[0]).toString("jabber:client"), stanza);
}

// --- parseElement --------------------------------------------------------------------------------

TEST(ParseElement, ParsesOneElement) {
    auto r = parseElement(
        "<?xml version='1.0'?>\n<message xmlns='jabber:client' to='a@b'><body>x</body></message>\n");
    ASSERT_TRUE(r.element) << r.failure->detail;
    EXPECT_FALSE(r.failure);
    EXPECT_TRUE(r.element->is("message", "jabber:client"));

    r = parseElement("<message to='a@b'/>", {}, "jabber:client");
    ASSERT_TRUE(r.element);
    EXPECT_TRUE(r.element->is("message", "jabber:client"));

    r = parseElement("<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='example.com' version='1.0'/>");
    ASSERT_TRUE(r.element);
    EXPECT_EQ(r.element->attr("to"), "example.com");
}

TEST(ParseElement, AppliesTheSameRules) {
    struct DocCase {
        std::string input;
        std::optional<ParseError> expected;
    };
    const std::vector<DocCase> cases = {
        {"", ParseError::NotWellFormed},
        {"   ", ParseError::NotWellFormed},
        {"<a>", ParseError::NotWellFormed},
        {"<a/><b/>", ParseError::NotWellFormed},
        {"<a/>text", ParseError::NotWellFormed},
        {"<a/> \n", std::nullopt},
        {"<a/>\xC3", ParseError::NotWellFormed},
        {"<a/><!-- c -->", ParseError::RestrictedXml},
        {"<!DOCTYPE a><a/>", ParseError::RestrictedXml},
        {"<a>&ent;</a>", ParseError::RestrictedXml},
        {"<?xml version='1.0' encoding='latin1'?><a/>", ParseError::UnsupportedEncoding},
        {"<p:a/>", ParseError::BadNamespacePrefix},
        {"<a><a><a><a/></a></a></a>", ParseError::TooDeep},
        {"<a b='1' c='2' d='3'/>", ParseError::TooManyAttributes},
        {"<a>" + std::string(100, 'x') + "</a>", ParseError::ElementTooBig},
        // docs/xml-parser.md: an element of exactly maxElementBytes (64) is accepted, one more is not;
        // whatever comes before the root element (a declaration, spaces) is not part of it.
        {"<a>" + std::string(57, 'x') + "</a>", std::nullopt},
        {"<a>" + std::string(58, 'x') + "</a>", ParseError::ElementTooBig},
        {"<a b='" + std::string(55, 'v') + "'/>", std::nullopt},
        {"<a b='" + std::string(56, 'v') + "'/>", ParseError::ElementTooBig},
        {"<?xml version='1.0'?>\n  <a>" + std::string(57, 'x') + "</a>", std::nullopt},
        {"<a><a><a/></a></a>", std::nullopt},
        {"\xEF\xBB\xBF<a/>", std::nullopt},
        {"</a>", ParseError::NotWellFormed},
    };
    StreamLimits limits;
    limits.maxDepth = 3;
    limits.maxAttributes = 2;
    limits.maxElementBytes = 64;
    for (const DocCase& c : cases) {
        const auto r = parseElement(c.input, limits);
        EXPECT_EQ(errorName(r.failure ? std::optional(r.failure->error) : std::nullopt),
                  errorName(c.expected))
            << c.input;
        EXPECT_EQ(r.element.has_value(), !r.failure.has_value()) << c.input;
    }
}

}  // namespace
}  // namespace parley::xml
