// StreamParser against the expat reference (tests/support/expat_reference.h): for each stream of a
// corpus, both must accept with equal events, or both reject.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "expat_reference.h"
#include "parley/xml/stream_parser.h"

namespace parley::xml {
namespace {

constexpr std::string_view kHeader =
    "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
    "xmlns:stream='http://etherx.jabber.org/streams' "
    "to='example.com' version='1.0'>";

std::vector<StreamEvent> parse(std::string_view input, std::size_t chunk) {
    StreamLimits limits;
    limits.maxElementBytes = 1 << 20;
    limits.maxDepth = 1000;
    limits.maxAttributes = 1000;
    StreamParser parser(limits);
    std::vector<StreamEvent> events;
    for (std::size_t i = 0; i < input.size(); i += chunk) {
        parser.feed(input.substr(i, chunk));
        while (auto e = parser.next()) {
            events.push_back(std::move(*e));
        }
    }
    return events;
}

std::vector<std::string> corpus() {
    const std::string h(kHeader);
    std::vector<std::string> c = {
        // Typical client traffic.
        h + "<message to='juliet@example.com' type='chat' id='1'><body>hi</body>"
            "<active xmlns='http://jabber.org/protocol/chatstates'/></message>",
        h + "<iq type='get' id='r1'><query "
            "xmlns='jabber:iq:roster'/></iq><presence><show>away</show></presence>",
        h + "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGp1bGlldABy</auth>",
        h + "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:stream>",
        h + " \n <r xmlns='urn:xmpp:sm:3'/>\t<a xmlns='urn:xmpp:sm:3' h='1'/>\r\n",
        h + "<message xml:lang='de'><body xml:lang='en'>x</body></message></stream:stream>trailing",
        "\xEF\xBB\xBF<stream:stream xmlns:stream='http://etherx.jabber.org/streams' xmlns='jabber:server' "
        "from='a.example' to='b.example' version='1.0'><db:result xmlns:db='jabber:server:dialback' "
        "from='a' to='b'>key</db:result>",
        "<stream:stream xmlns:stream='http://etherx.jabber.org/streams'/>",
        "<stream xmlns='urn:generic'><item/></stream>",
        // Text, references, normalisation.
        h + "<message><body>&lt;b&gt; &amp;&apos;&quot; &#x20AC;&#8364; \xE2\x82\xAC a\r\nb\rc ]] "
            "]>x</body></message>",
        h + "<x a='1\t2\n3\r\n4' b='&#9;&#10;&#13;' c=\"'\" d='\"'/>",
        h + "<x>&#x10FFFF;&#xFFFD;&#xE000;&#xD7FF;&#9;</x>",
        h + "<x> <y/> z <w>v</w> </x>",
        // Namespaces.
        h + "<p:x xmlns:p='urn:p' p:a='1' a='2'><p:y xmlns:p='urn:q'/><z xmlns=''/></p:x>",
        h + "<x xmlns='urn:x|y z' xmlns:p='urn:a|b' p:c='1'/>",
        h + "<x xmlns:xml='http://www.w3.org/XML/1998/namespace' xml:space='preserve'/>",
        h + "<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>",
        h + "<x xmlns:a='u' xmlns:b='u' a:c='1' b:c='2'/>",
        h + "<p:x/>",
        h + "<x p:y='1'/>",
        h + "<x xmlns:p=''/>",
        h + "<x xmlns:xml='urn:other'/>",
        h + "<x xmlns:xmlns='urn:other'/>",
        h + "<x xmlns:p='http://www.w3.org/XML/1998/namespace'/>",
        h + "<x xmlns='http://www.w3.org/2000/xmlns/'/>",
        h + "<a:x xmlns:a='u' xmlns:b='u'></b:x>",
        // Restricted XML.
        h + "<!-- c -->",
        h + "<x><!-- c --></x>",
        h + "<x><?pi?></x>",
        h + "<x><![CDATA[y]]></x>",
        h + "<x>&ent;</x>",
        "<!DOCTYPE s><s/>",
        "<?xml version='1.0'?><!DOCTYPE s [<!ENTITY e 'x'>]><s>&e;</s>",
        "<?xml version='1.1'?><s/>",
        "<?xml version='1.0' encoding='ISO-8859-1'?><s/>",
        "<?xml version='1.0' encoding='utf-8' standalone='no'?><s/>",
        "  <?xml version='1.0'?><s/>",
        // Well-formedness.
        h + "<x></y>",
        h + "<x a='1' a='2'/>",
        h + "<x a='<'/>",
        h + "<x a=1/>",
        h + "<x a='1'b='2'/>",
        h + "<x>]]></x>",
        h + "<x>&#0;</x>",
        h + "<x>&#xD800;</x>",
        h + "<x>&#xFFFE;</x>",
        h + "<x>\x01</x>",
        h + "<x>\xC0\x80</x>",
        h + "<x>\xED\xA0\x80</x>",
        h + "<x>\xF4\x90\x80\x80</x>",
        h + "<x>\xEF\xBF\xBF</x>",
        h + "<1x/>",
        h + "<x:y:z xmlns:x='u'/>",
        h + "text",
        h + "&#32;",
        h + "</stream:stream >",
        h + "</stream>",
        "GET / HTTP/1.1\r\n\r\n",
        "\x16\x03\x01\x02",
        "<s></s><t/>",
    };
    // The fuzzer's seed corpus too.
    const std::filesystem::path dir = PARLEY_XML_CORPUS_DIR;
    if (std::filesystem::is_directory(dir)) {
        for (const auto& entry : std::filesystem::directory_iterator(dir)) {
            std::ifstream in(entry.path(), std::ios::binary);
            std::stringstream ss;
            ss << in.rdbuf();
            c.push_back(ss.str());
        }
    }
    return c;
}

TEST(Differential, AgreesWithExpat) {
    int accepted = 0;
    int rejected = 0;
    for (const std::string& input : corpus()) {
        const auto whole = parse(input, input.size());
        ASSERT_TRUE(testing::sameEvents(whole, parse(input, 1))) << input;
        const auto mismatch = testing::differentialMismatch(input, whole);
        EXPECT_FALSE(mismatch) << input << "\n" << mismatch.value_or("");
        const bool failed = !whole.empty() && std::holds_alternative<StreamFailure>(whole.back());
        (failed ? rejected : accepted) += 1;
    }
    // The corpus exercises both sides.
    EXPECT_GT(accepted, 15);
    EXPECT_GT(rejected, 30);
}

TEST(Differential, ReferenceRejectsWhatXmppForbids) {
    EXPECT_TRUE(testing::parseStreamWithExpat(std::string(kHeader) + "<x><!-- c --></x>").rejected);
    EXPECT_TRUE(testing::parseStreamWithExpat(std::string(kHeader) + "hello").rejected);
    EXPECT_TRUE(testing::parseStreamWithExpat("<?xml version='1.0' encoding='latin1'?><s>").rejected);
    const auto ok = testing::parseStreamWithExpat(std::string(kHeader) + "<x/></stream:stream>junk", true);
    EXPECT_FALSE(ok.rejected) << ok.error;
    EXPECT_EQ(ok.events.size(), 3u);
}

}  // namespace
}  // namespace parley::xml
