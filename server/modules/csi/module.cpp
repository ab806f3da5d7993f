// XEP-0352: Client State Indication. A client that says it is <inactive/> (a phone in a pocket) gets
// presence updates and chat states later: an outbound stanza filter holds them back (only the latest
// presence of each sender full JID), and lets everything go, in order, when the client says <active/>,
// when an urgent stanza arrives (a message with content, an iq, a subscription request), or when the
// held stanzas reach the bound. XEP-0352 §6 leaves the rules to the server; these follow Prosody's
// mod_csi_simple and ejabberd's mod_client_state in spirit.
#include <algorithm>
#include <vector>

#include "parley/modules/options.h"
#include "parley/server/module.h"
#include "parley/xmpp/namespaces.h"

namespace parley::server::modules {
namespace {

constexpr std::string_view kCsi = "urn:xmpp:csi:0";
constexpr std::string_view kChatStates = "http://jabber.org/protocol/chatstates";  // XEP-0085
constexpr std::size_t kDefaultMaxHeld = 100;
// Before stream management's filter (-1000): what is held back is neither written nor counted yet.
constexpr int kFilterPriority = 100;

// Per-session state, on the session's loop; it moves with the session if it is resumed.
struct CsiState final : SessionData {
    bool inactive = false;
    std::vector<xmpp::StanzaPtr> held;  // in arrival order
};

// What may wait while the client is inactive: available or unavailable presence, and messages that
// are only chat states (XEP-0085: no body, nothing else).
bool canWait(const xmpp::Stanza& stanza) {
    if (stanza.isPresence()) {
        const std::string_view type = stanza.type();
        return type.empty() || type == "unavailable";  // subscriptions and errors are urgent
    }
    if (!stanza.isMessage() || stanza.isError())
        return false;
    const auto children = stanza.element().children();
    return !children.empty() && std::all_of(children.begin(), children.end(), [](const xml::Element* child) {
        return child->ns() == kChatStates;
    });
}

class CsiModule final : public Module {
  public:
    void start(ModuleContext& context) override {
        maxHeld_ = countOption(context, "csi", "max_held", kDefaultMaxHeld);
        slot_ = context.allocateSessionSlot();
        // XEP-0352 §2: advertised as a stream feature after authentication.
        registrations_.push_back(context.addStreamFeature(
            StreamStage::PostAuth,
            [](const StreamFeatureContext&) { return xml::Element("csi", std::string(kCsi)); }));
        registrations_.push_back(context.onStreamElement(
            StreamElementStage::Bound, std::string(kCsi),
            [this](StreamElementRequest request) { return handle(std::move(request)); }));
        registrations_.push_back(context.onStanzaOut(
            kFilterPriority,
            [this](Session& session, const xmpp::StanzaPtr& stanza) { return filter(session, stanza); }));
        // What is still held when the session ends goes to the lower filters (stream management then
        // routes it again like anything else the client did not get).
        registrations_.push_back(context.onSessionEnded([this](Session& session) { release(session); }));
    }

  private:
    asio::awaitable<void> handle(StreamElementRequest request) {
        Session& session = request.session;
        const std::string& name = request.element.name();
        if (name == "inactive") {
            session.dataOrCreate<CsiState>(slot_).inactive = true;
        } else if (name == "active") {
            session.dataOrCreate<CsiState>(slot_).inactive = false;
            release(session);  // XEP-0352 §3: what was held back is sent now
        } else {
            session.close({xmpp::StreamErrorCondition::UnsupportedStanzaType,
                           "Unknown element " + name + " in " + std::string(kCsi),
                           {}});
        }
        co_return;
    }

    FilterVerdict filter(Session& session, const xmpp::StanzaPtr& stanza) {
        auto* state = static_cast<CsiState*>(session.data(slot_));
        if (!state || !state->inactive)
            return FilterVerdict::Write;
        if (!canWait(*stanza) || state->held.size() >= maxHeld_) {
            release(session);  // urgent (or too much waiting): what waited goes first, in order
            return FilterVerdict::Write;
        }
        if (stanza->isPresence() && stanza->from()) {
            // Only the latest presence of each sender full JID matters.
            std::erase_if(state->held, [&](const xmpp::StanzaPtr& held) {
                return held->isPresence() && held->from() == stanza->from();
            });
        }
        state->held.push_back(stanza);
        return FilterVerdict::Hold;
    }

    void release(Session& session) {
        auto* state = static_cast<CsiState*>(session.data(slot_));
        if (!state || state->held.empty())
            return;
        std::vector<xmpp::StanzaPtr> held = std::move(state->held);
        state->held.clear();
        session.writeHeld(std::move(held), kFilterPriority);
    }

    std::size_t maxHeld_ = kDefaultMaxHeld;
    std::size_t slot_ = 0;
    std::vector<Registration> registrations_;
};

}  // namespace

ModuleInfo csiModule() {
    return {"csi", "holds back presence and chat states while the client is inactive", {"XEP-0352"}, [] {
                return std::unique_ptr<Module>(std::make_unique<CsiModule>());
            }};
}

}  // namespace parley::server::modules
