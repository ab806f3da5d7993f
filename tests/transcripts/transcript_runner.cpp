// Runs every tests/transcripts/**/*.xmpp file against a fresh in-process server (docs/HACKING.md
// "Transcripts"). The format follows Prosody's scansion:
//
//   [Client] Romeo                      a client; its account is created with this password
//       jid: romeo@localhost/orchard
//       password: secret
//       contact: juliet@localhost both  a roster item put in storage first (none, to, from, both)
//   ---------
//   Romeo connects                      STARTTLS, SCRAM-SHA-256, bind the JID's resource, send
//                                       <presence/>, and take in what that brings (the presence
//                                       echo, contacts' presences, stored messages) before going on
//   Romeo logs in                       the same without presence: the transcript shows it all
//   Romeo sends:                        indented XML, sent as written after ${...} substitution
//       <message to='${Juliet's full JID}' type='chat'><body>hi</body></message>
//   Juliet receives:                    indented XML; each element must match the next one received
//       <message from='${Romeo's full JID}' type='chat'><body>hi</body></message>
//                                       an attribute value or text {=name} matches anything and
//                                       makes it ${name} in the steps after (e.g. a server's id)
//   Romeo receives nothing              nothing is pending (checked with a ping round trip)
//   Romeo receives stream error: invalid-from
//   Romeo disconnects                   </stream:stream>, then the server closes
//   Romeo drops                         the TCP connection is cut without a closing tag (the step
//                                       ends once the server noticed: the session ended or detached)
//   Romeo authenticates                 a new connection: STARTTLS and SCRAM-SHA-256, no bind
//   Clock advances 301 s                moves the server's FakeClock and runs the timeout checks
//
// In expected XML, an attribute value ${Name} that is not defined yet matches anything and defines
// ${Name} as the value received (e.g. a stream-management id, used again in a later step).
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>

#include "test_client.h"
#include "test_server.h"

namespace parley::test {
namespace {

struct ClientSpec {
    std::string jid;
    std::string password = "password";
    std::vector<std::pair<std::string, std::string>> contacts;  // jid, subscription
};

struct Step {
    std::string client;
    std::string action;  // connects, logs-in, sends, receives, nothing, stream-error, disconnects
    std::string body;
    int line = 0;
};

struct Transcript {
    std::string title;
    std::map<std::string, ClientSpec> clients;
    std::vector<Step> steps;
};

std::string trim(const std::string& text) {
    const auto first = text.find_first_not_of(" \t\r\n");
    if (first == std::string::npos)
        return "";
    const auto last = text.find_last_not_of(" \t\r\n");
    return text.substr(first, last - first + 1);
}

Transcript parseTranscript(const std::filesystem::path& file) {
    std::ifstream in(file);
    Transcript transcript;
    std::string line;
    int number = 0;
    std::string currentClient;
    Step* collecting = nullptr;
    while (std::getline(in, line)) {
        ++number;
        const bool indented = !line.empty() && (line[0] == ' ' || line[0] == '\t');
        const std::string text = trim(line);
        if (indented && collecting) {
            collecting->body += text + "\n";
            continue;
        }
        if (indented && !currentClient.empty()) {
            const auto colon = text.find(':');
            if (colon != std::string::npos) {
                const std::string key = trim(text.substr(0, colon));
                const std::string value = trim(text.substr(colon + 1));
                if (key == "jid")
                    transcript.clients[currentClient].jid = value;
                if (key == "password")
                    transcript.clients[currentClient].password = value;
                if (key == "contact") {
                    const auto space = value.find(' ');
                    transcript.clients[currentClient].contacts.emplace_back(
                        value.substr(0, space),
                        space == std::string::npos ? "none" : trim(value.substr(space)));
                }
            }
            continue;
        }
        collecting = nullptr;
        if (text.empty() || text.starts_with("---"))
            continue;
        if (text.starts_with("#")) {
            if (transcript.title.empty())
                transcript.title = trim(text.substr(1));
            continue;
        }
        if (text.starts_with("Clock advances ")) {
            Step step;
            step.action = "clock";
            step.body = trim(text.substr(15));
            step.line = number;
            transcript.steps.push_back(std::move(step));
            continue;
        }
        if (text.starts_with("[Client]")) {
            currentClient = trim(text.substr(8));
            transcript.clients[currentClient];
            continue;
        }
        currentClient.clear();
        const auto space = text.find(' ');
        if (space == std::string::npos)
            throw std::runtime_error(file.string() + ":" + std::to_string(number) + ": cannot read '" + text +
                                     "'");
        Step step;
        step.client = text.substr(0, space);
        step.line = number;
        const std::string rest = trim(text.substr(space + 1));
        if (rest == "connects")
            step.action = "connects";
        else if (rest == "logs in")
            step.action = "logs-in";
        else if (rest == "sends:")
            step.action = "sends";
        else if (rest == "receives:")
            step.action = "receives";
        else if (rest == "receives nothing")
            step.action = "nothing";
        else if (rest.starts_with("receives stream error:")) {
            step.action = "stream-error";
            step.body = trim(rest.substr(22));
        } else if (rest == "disconnects")
            step.action = "disconnects";
        else if (rest == "drops")
            step.action = "drops";
        else if (rest == "authenticates")
            step.action = "authenticates";
        else
            throw std::runtime_error(file.string() + ":" + std::to_string(number) + ": unknown action '" +
                                     rest + "'");
        if (!transcript.clients.contains(step.client)) {
            throw std::runtime_error(file.string() + ":" + std::to_string(number) + ": unknown client " +
                                     step.client);
        }
        transcript.steps.push_back(std::move(step));
        if (transcript.steps.back().action == "sends" || transcript.steps.back().action == "receives") {
            collecting = &transcript.steps.back();
        }
    }
    return transcript;
}

class TranscriptRun {
  public:
    explicit TranscriptRun(const Transcript& transcript) : transcript_(transcript) {}

    void run() {
        for (const auto& [name, spec] : transcript_.clients) {
            auto jid = Jid::parse(spec.jid);
            ASSERT_TRUE(jid && jid->hasLocal())
                << "client " << name << " needs a jid like user@localhost/resource";
            if (!server_.accountExists(std::string(jid->local()), std::string(jid->domain()))) {
                server_.addAccount(std::string(jid->local()), std::string(jid->domain()), spec.password);
            }
            for (const auto& [contact, subscription] : spec.contacts)
                server_.addContact(std::string(jid->local()), std::string(jid->domain()), contact,
                                   subscription);
            variables_["${" + name + "'s JID}"] = std::string(jid->bareView());
            variables_["${" + name + "'s full JID}"] = jid->str();
        }
        for (const Step& step : transcript_.steps) {
            SCOPED_TRACE("line " + std::to_string(step.line) + ": " + step.client + " " + step.action);
            execute(step);
            if (::testing::Test::HasFatalFailure() || ::testing::Test::HasNonfatalFailure())
                return;
        }
    }

  private:
    std::string interpolate(std::string text) const {
        for (const auto& [name, value] : variables_) {
            for (auto at = text.find(name); at != std::string::npos;
                 at = text.find(name, at + value.size())) {
                text.replace(at, name.size(), value);
            }
        }
        return text;
    }

    xml::Element interpolate(xml::Element element) const {
        std::vector<xml::Attribute> attributes = element.attributes();
        for (xml::Attribute& attribute : attributes)
            attribute.value = interpolate(attribute.value);
        element.setAttributes(std::move(attributes));
        for (xml::Node& node : element.nodes()) {
            if (node.isText())
                node.text() = interpolate(node.text());
            else
                node.element() = interpolate(std::move(node.element()));
        }
        return element;
    }

    // The pattern with every attribute value that is a still undefined ${...} name made {any}.
    static xml::Element withUndefinedAsAny(xml::Element element) {
        std::vector<xml::Attribute> attributes = element.attributes();
        for (xml::Attribute& attribute : attributes) {
            if (attribute.value.starts_with("${") && attribute.value.ends_with("}"))
                attribute.value = "{any}";
        }
        element.setAttributes(std::move(attributes));
        for (xml::Node& node : element.nodes()) {
            if (!node.isText())
                node.element() = withUndefinedAsAny(std::move(node.element()));
        }
        return element;
    }

    // Defines the ${...} names that `pattern` uses as attribute values from `received`, which matched it.
    void capture(const xml::Element& pattern, const xml::Element& received) {
        for (const xml::Attribute& attribute : pattern.attributes()) {
            if (attribute.value.starts_with("${") && attribute.value.ends_with("}"))
                variables_[attribute.value] = std::string(received.attr(attribute.name));
        }
        const auto patternChildren = pattern.children();
        const auto receivedChildren = received.children();
        for (std::size_t i = 0; i < patternChildren.size() && i < receivedChildren.size(); ++i)
            capture(*patternChildren[i], *receivedChildren[i]);
    }

    void execute(const Step& step) {
        if (step.action == "clock") {
            server_.advanceClock(std::chrono::seconds(std::stoi(step.body)));
            return;
        }
        const ClientSpec& spec = transcript_.clients.at(step.client);
        auto jid = *Jid::parse(spec.jid);
        if (step.action == "connects" || step.action == "logs-in") {
            auto client = std::make_unique<TestClient>(server_.requiredTlsPort());
            const std::string full = client->login(std::string(jid.local()), std::string(jid.domain()),
                                                   spec.password, std::string(jid.resource()));
            ASSERT_EQ(full, jid.str()) << step.client << " could not log in";
            if (step.action == "connects") {
                // Available presence, so that messages to the bare JID reach this resource; what it
                // brings back (RFC 6121 §4.2: the echo, contacts' presence, offline messages) is read
                // and dropped up to the answer of a ping sent after it.
                client->send("<presence/>");
                const std::string id = "transcript-connect-" + std::to_string(step.line);
                client->send("<iq type='get' id='" + id + "' to='" + std::string(jid.domain()) +
                             "'><ping xmlns='urn:xmpp:ping'/></iq>");
                for (;;) {
                    auto received = client->receive();
                    ASSERT_TRUE(received) << step.client << " got no answer to its ping after login";
                    if (received->name() == "iq" && received->attr("id") == id)
                        break;
                }
            }
            clients_[step.client] = std::move(client);
            return;
        }
        if (step.action == "authenticates") {
            auto client = std::make_unique<TestClient>(server_.requiredTlsPort());
            auto features = client->openStream(std::string(jid.domain()));
            ASSERT_TRUE(features) << step.client << " got no stream features";
            ASSERT_TRUE(client->startTls(std::string(jid.domain())));
            ASSERT_EQ(client->authenticate(std::string(jid.local()), spec.password, "SCRAM-SHA-256",
                                           std::string(jid.domain())),
                      "success")
                << step.client << " could not authenticate";
            clients_[step.client] = std::move(client);
            return;
        }
        TestClient& client = *clients_.at(step.client);
        if (step.action == "sends") {
            client.send(interpolate(step.body));
        } else if (step.action == "receives") {
            auto wrapper =
                xml::parseElement("<transcript xmlns='jabber:client'>" + step.body + "</transcript>");
            ASSERT_TRUE(wrapper.element) << "the expected XML does not parse: " << step.body;
            for (const xml::Element* pattern : wrapper.element->children()) {
                // Substituted one element at a time, so that a value captured by one is known in the next.
                const xml::Element substituted = interpolate(*pattern);
                // Names still undefined match anything; capture() defines them from what was received.
                const xml::Element matchable = withUndefinedAsAny(substituted);
                const xml::Element* expected = &matchable;
                auto received = client.receive();
                ASSERT_TRUE(received)
                    << step.client << " received nothing, expected " << expected->toString("jabber:client");
                std::map<std::string, std::string> captures;
                auto difference = differs(*expected, *received, &captures);
                ASSERT_FALSE(difference)
                    << *difference << "\n  expected: " << expected->toString("jabber:client")
                    << "\n  received: " << received->toString("jabber:client");
                for (const auto& [name, value] : captures)
                    variables_["${" + name + "}"] = value;
                capture(substituted, *received);
            }
        } else if (step.action == "nothing") {
            const std::string id = "transcript-nothing-" + std::to_string(step.line);
            client.send("<iq type='get' id='" + id + "' to='" + std::string(jid.domain()) +
                        "'><ping xmlns='urn:xmpp:ping'/></iq>");
            auto received = client.receive();
            ASSERT_TRUE(received) << "no answer to the ping";
            ASSERT_EQ(received->attr("id"), id)
                << step.client << " received something unexpected: " << received->toString("jabber:client");
        } else if (step.action == "stream-error") {
            EXPECT_EQ(client.streamErrorCondition(), step.body);
            EXPECT_TRUE(client.waitForClose()) << "the server did not close the connection";
        } else if (step.action == "disconnects") {
            client.send("</stream:stream>");
            EXPECT_TRUE(client.waitForClose());
            clients_.erase(step.client);
        } else if (step.action == "drops") {
            clients_.erase(step.client);  // the destructor closes the socket
            // Later steps (a clock advance, a resumption) need the server to have noticed.
            auto& sessions = server_.server().core().sessions();
            EXPECT_TRUE(server_.waitFor([&] {
                auto session = sessions.find(jid);
                return !session || session->isDetached();
            })) << "the server did not notice that "
                << step.client << " dropped";
        }
    }

    const Transcript& transcript_;
    TestServer server_;
    std::map<std::string, std::unique_ptr<TestClient>> clients_;
    std::map<std::string, std::string> variables_;
};

std::vector<std::filesystem::path> transcriptFiles() {
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(PARLEY_TRANSCRIPTS_DIR)) {
        if (entry.path().extension() == ".xmpp")
            files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    return files;
}

class TranscriptTest : public ::testing::TestWithParam<std::filesystem::path> {};

TEST_P(TranscriptTest, Runs) {
    const Transcript transcript = parseTranscript(GetParam());
    RecordProperty("title", transcript.title);
    TranscriptRun(transcript).run();
}

INSTANTIATE_TEST_SUITE_P(
    All, TranscriptTest, ::testing::ValuesIn(transcriptFiles()),
    [](const ::testing::TestParamInfo<std::filesystem::path>& file) {
        std::string name =
            std::filesystem::relative(file.param, PARLEY_TRANSCRIPTS_DIR).replace_extension().string();
        for (char& c : name) {
            if (!std::isalnum(static_cast<unsigned char>(c)))
                c = '_';
        }
        return name;
    });

}  // namespace
}  // namespace parley::test
