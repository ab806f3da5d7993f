#pragma once
// The module contract. A module is a folder under server/modules with a descriptor (ModuleInfo) and a
// start(ModuleContext&) that registers handlers, hooks and features; each registration returns a
// Registration handle that the module keeps. The core never names a feature (docs/STYLE.md rule 1);
// docs/HACKING.md walks through writing one, with ping as the example.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/thread_pool.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "parley/base/result.h"
#include "parley/server/clock.h"
#include "parley/server/config.h"
#include "parley/server/iq_tracker.h"
#include "parley/server/log.h"
#include "parley/server/registration.h"
#include "parley/server/session.h"
#include "parley/server/timers.h"
#include "parley/xml/element.h"
#include "parley/xmpp/errors.h"
#include "parley/xmpp/stanza.h"

namespace parley::storage {
class Storage;
}

namespace parley::server {

namespace asio = boost::asio;

// Where an iq get/set is addressed, as the router classifies it (cf. Prosody's /host, /self, /bare).
enum class IqScope : std::uint8_t {
    Host = 1,  // to = a domain we serve
    Self = 2,  // no `to`, or `to` = the sender's own bare JID (RFC 6120 §10.3.3)
    Bare = 4,  // to = the bare JID of another local account
};
inline constexpr unsigned scopes(std::initializer_list<IqScope> list) {
    unsigned mask = 0;
    for (IqScope s : list)
        mask |= static_cast<unsigned>(s);
    return mask;
}

// An iq handler's answer: a result payload (or an empty result), or a stanza error.
using IqResult = Result<std::optional<xml::Element>, xmpp::StanzaError>;

struct IqRequest {
    xmpp::StanzaPtr stanza;  // from is stamped; to may be absent (Self)
    std::string host;        // the served domain the request concerns
    IqScope scope = IqScope::Host;
    const xml::Element& payload() const { return *stanza->payload(); }
    const Jid& from() const { return *stanza->from(); }
};
using IqHandler = std::function<asio::awaitable<IqResult>(IqRequest)>;

// An iq sent before authentication (only XEP-0077 registration uses this).
struct PreAuthIqRequest {
    xmpp::Stanza stanza;
    std::string host;
    asio::ip::address remoteAddress;
    bool tls = false;
    const xml::Element& payload() const { return *stanza.payload(); }
};
using PreAuthIqHandler = std::function<asio::awaitable<IqResult>(PreAuthIqRequest)>;

enum class StreamStage : std::uint8_t {
    PreAuth,   // after TLS (or before, on a listener without required TLS), before SASL
    PostAuth,  // after SASL, next to <bind/>
};
struct StreamFeatureContext {
    std::string host;
    bool tls = false;
    bool tlsRequired = false;
};
using StreamFeatureProvider = std::function<std::optional<xml::Element>(const StreamFeatureContext&)>;

struct DiscoIdentity {
    std::string category;
    std::string type;
    std::string name;
    friend bool operator==(const DiscoIdentity&, const DiscoIdentity&) = default;
};

// --- Stanza hooks (docs/routing.md "Hooks") ------------------------------------------------------
// The router offers a stanza to the hooks registered for its point and kind, highest priority first,
// before its own rules. A hook that answers Handled takes the stanza over (it delivered, stored,
// dropped or bounced it); Continue passes it on, possibly replaced by a modified copy.
enum class StanzaHookPoint : std::uint8_t {
    Outbound,       // `from` is a local account: sent by one of its clients, or generated on its behalf
    Inbound,        // `to` is a local account's bare or full JID, after the Outbound hooks
    Undeliverable,  // a message to a local account that no resource takes (RFC 6121 §8.5.2.2, §8.5.3.2)
};
enum class HookVerdict : std::uint8_t { Continue, Handled };

struct RoutedStanza {
    xmpp::StanzaPtr stanza;  // a hook may replace it with a modified copy
    // Outbound: the client session it came from (valid while the hook runs); null when the server
    // generated the stanza (a presence broadcast, a probe, a roster push).
    Session* session = nullptr;
    // Outbound broadcast presence from a client: whether the session was available before this stanza
    // (false: this is the initial presence, RFC 6121 §4.2).
    bool wasAvailable = false;
    // The stanza went through the Outbound and Inbound hooks once already and is delivered again
    // (ModuleContext::redeliver): only the delivery rules and the Undeliverable hooks apply.
    bool redelivery = false;
};
using StanzaHook = std::function<asio::awaitable<HookVerdict>(RoutedStanza&)>;
// The disco#items an account's bare JID lists for a requester (the account itself or another entity).
using AccountItemsProvider =
    std::function<asio::awaitable<std::vector<xml::Element>>(Jid account, Jid requester)>;
// A disco#info or disco#items request about a node of an account's bare JID (XEP-0030 §3.2, §4.2).
struct AccountNodeQuery {
    Jid account;
    Jid requester;
    std::string node;
    bool items = false;  // disco#items (else disco#info)
};
// The <query/> that answers it (the caller sets its `node`), an error, or nullopt when the node is not
// this provider's (the next one is asked; item-not-found when none knows it).
using AccountNodeProvider = std::function<asio::awaitable<std::optional<IqResult>>(AccountNodeQuery)>;
using SessionHook = std::function<void(Session&)>;

// --- Session filters and stream elements (docs/ARCHITECTURE.md "Sessions") -------------------------
// An outbound filter sees every stanza a client session is about to write (and, while the session is
// detached, every stanza delivered to it), on the session's loop, highest priority first. Write lets
// it go on (to lower filters, then the socket); Hold means the filter took it over: it keeps it and
// may hand it back later with Session::deliver (it then passes this filter again).
enum class FilterVerdict : std::uint8_t { Write, Hold };
using StanzaFilter = std::function<FilterVerdict(Session&, const xmpp::StanzaPtr&)>;

// Where a stream is when a top-level element that is neither a stanza nor part of the core
// negotiation (STARTTLS, SASL, bind) arrives.
enum class StreamElementStage : std::uint8_t {
    PreAuth,   // not authenticated yet (and TLS done if the listener requires it)
    PostAuth,  // authenticated, no resource bound
    Bound,     // a resource is bound
};
struct StreamElementRequest {
    xml::Element element;
    Session& session;  // this stream's session; bound only at StreamElementStage::Bound
    StreamElementStage stage = StreamElementStage::PreAuth;
    std::string host;      // the served domain of the stream
    std::string username;  // the authenticated account's localpart ("" before authentication)
};
using StreamElementHandler = std::function<asio::awaitable<void>(StreamElementRequest)>;

// Events fired by the core where RFC 6120 says something happens (never for a XEP).
struct AccountDeletedEvent {
    std::string host;
    std::string username;
};

class ModuleContext {
  public:
    virtual ~ModuleContext() = default;

    virtual Registration onIq(xmpp::IqType type, unsigned scopeMask, std::string ns, std::string name,
                              IqHandler handler) = 0;
    virtual Registration onPreAuthIq(std::string ns, std::string name, PreAuthIqHandler handler) = 0;
    virtual Registration addStreamFeature(StreamStage stage, StreamFeatureProvider provider) = 0;
    virtual Registration addDiscoFeature(std::string var) = 0;
    virtual Registration addDiscoIdentity(DiscoIdentity identity) = 0;
    // What every account's bare JID advertises in disco#info besides account/registered (a service the
    // server runs for each account), and the items it lists in disco#items.
    virtual Registration addAccountDiscoFeature(std::string var) = 0;
    virtual Registration addAccountDiscoIdentity(DiscoIdentity identity) = 0;
    virtual Registration addAccountDiscoItems(AccountItemsProvider provider) = 0;
    // What an account's bare JID answers to disco#info / disco#items with a `node` (see AccountNodeQuery).
    virtual Registration addAccountDiscoNodes(AccountNodeProvider provider) = 0;
    virtual Registration onAccountDeleted(std::function<void(const AccountDeletedEvent&)> handler) = 0;
    // Higher `priority` runs first; hooks of equal priority run in registration order.
    virtual Registration onStanza(StanzaHookPoint point, xmpp::StanzaKind kind, int priority,
                                  StanzaHook hook) = 0;
    // A client bound a resource (RFC 6120 §7); runs on the session's loop before it reads its next stanza.
    virtual Registration onSessionBound(SessionHook hook) = 0;
    // A bound session ended (closed, dropped, replaced); runs once, on the session's loop, after it left
    // the registry. Session::isAvailable() still says whether it had announced available presence.
    virtual Registration onSessionEnded(SessionHook hook) = 0;
    // Top-level elements in namespace `ns` on a client stream at `stage`; the handler runs on the
    // session's loop and the stream reads nothing else until it completes. Unclaimed elements end
    // the stream with <unsupported-stanza-type/> (RFC 6120 §4.9.3.24).
    virtual Registration onStreamElement(StreamElementStage stage, std::string ns,
                                         StreamElementHandler handler) = 0;
    // Outbound stanza filters (see StanzaFilter); higher `priority` runs first.
    virtual Registration onStanzaOut(int priority, StanzaFilter filter) = 0;
    // A stanza a bound client sent has been handled: routed to completion (delivered, stored or
    // bounced) or answered with a stanza error. Runs on the session's loop, in the client's order.
    virtual Registration onStanzaHandled(SessionHook hook) = 0;
    // A slot in every session for this module's per-session state (Session::data / setData), touched
    // only on the session's loop.
    virtual std::size_t allocateSessionSlot() = 0;

    // The server's advertised features and identities (what disco#info lists).
    virtual std::vector<std::string> discoFeatures() const = 0;
    virtual std::vector<DiscoIdentity> discoIdentities() const = 0;
    virtual std::vector<std::string> accountDiscoFeatures() const = 0;
    virtual std::vector<DiscoIdentity> accountDiscoIdentities() const = 0;
    virtual std::vector<AccountItemsProvider> accountDiscoItems() const = 0;
    virtual std::vector<AccountNodeProvider> accountDiscoNodes() const = 0;

    virtual const ServerConfig& config() const = 0;
    // This module's options from [modules.<name>] ("" when absent).
    virtual std::string option(std::string_view key, std::string_view fallback = {}) const = 0;
    // Called from start(): the module cannot run as configured (say, an option value it cannot use).
    // The server then does not start; it reports "module '<name>': <problem>", so `problem` names the
    // option and says how to fix it. start() returns soon after; what it registered is undone.
    // (parley/modules/options.h reads typed options and calls this for bad values.)
    virtual void refuseStart(std::string problem) = 0;
    virtual storage::Storage& storage() = 0;
    virtual const Clock& clock() const = 0;
    virtual const Logger& log() const = 0;

    // Routes a stanza the server generates (from must be set). send() returns at once (the routing runs
    // later on this loop); route() completes once the stanza was delivered, stored or bounced, and
    // keeps the order of the stanzas one coroutine routes.
    virtual void send(xmpp::Stanza stanza) = 0;
    virtual asio::awaitable<void> route(xmpp::StanzaPtr stanza) = 0;
    // Delivers again a stanza that was routed once already (its hooks ran: it was archived, copied,
    // checked) but whose session ended before the client had it: the delivery rules for its `to`
    // (another resource, or the Undeliverable hooks such as offline storage), without the Outbound and
    // Inbound hooks a second time.
    virtual asio::awaitable<void> redeliver(xmpp::StanzaPtr stanza) = 0;
    // Sends an iq get/set from the server (`from`: a served domain or a local account's bare JID;
    // the id is chosen by the server) and completes with the answer, or IqFailure::Timeout once the
    // Clock passed `timeout` (IqTracker, docs/routing.md).
    virtual asio::awaitable<IqAnswer> sendIq(xmpp::Stanza request, std::chrono::seconds timeout) = 0;
    // The sessions bound for an account (a snapshot).
    virtual std::vector<SessionPtr> sessionsOf(const Jid& bareJid) const = 0;
    // Closes every session of an account (password change, deletion), except the resource `keep`.
    virtual void closeSessionsOf(const Jid& bareJid, xmpp::StreamError error, const Jid* keep = nullptr) = 0;
    // Runs `work` later on the current event loop, after the stanzas routed so far (e.g. close a
    // stream only after the iq result that announces it has been queued).
    virtual void defer(std::function<void()> work) = 0;
    // Runs a coroutine on the current event loop (loop 0 off the loops), detached.
    virtual void spawn(std::function<asio::awaitable<void>()> work) = 0;
    // Periodic work (retention, expiry): `work` runs on an event loop each time `interval` of the
    // server's Clock has passed since the previous run ended, the first time one interval from now;
    // never two runs at once. after(): once, `delay` from now. The handle cancels the runs not started
    // yet. Tests move the Clock (TestServer::advanceClock) instead of waiting (core/timers.h).
    virtual Registration every(std::chrono::nanoseconds interval, TimerWork work) = 0;
    virtual Registration after(std::chrono::nanoseconds delay, TimerWork work) = 0;
    // Threads for CPU-heavy work such as PBKDF2; use with offload() from offload.h.
    virtual asio::thread_pool& cpuPool() = 0;
    // Announces that an account was deleted, so other modules drop what they keep for it.
    virtual void accountDeleted(const AccountDeletedEvent& event) = 0;
};

class Module {
  public:
    virtual ~Module() = default;
    virtual void start(ModuleContext& context) = 0;
};

struct ModuleInfo {
    std::string_view name;               // as in the configuration: "ping"
    std::string_view description;        // one line for `parleyctl modules` and docs
    std::vector<std::string_view> xeps;  // "XEP-0199" ...
    std::unique_ptr<Module> (*create)();
};

}  // namespace parley::server
