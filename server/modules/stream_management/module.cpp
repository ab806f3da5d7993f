// XEP-0198: Stream Management. Acknowledgements (<r/>, <a h/>) and resumption of a session whose
// connection was lost, built on the session's generic extension points: stream elements at the bound
// and authenticated stages (ModuleContext::onStreamElement), the outbound stanza filter that keeps a
// copy of every stanza written until the client acknowledges it (onStanzaOut), the count of the
// client's stanzas the server has handled (onStanzaHandled), and detached sessions that a new
// connection of the same account takes over (Session::setDetachTimeout, Session::takeOver).
//
// Nothing is lost: when a session ends (its resumption timed out, its queue overflowed, it closed),
// every stanza the client did not acknowledge goes back through routing: messages reach another
// resource or offline storage, else bounce with <recipient-unavailable/>; iq requests bounce;
// presence is dropped (XEP-0198 §5 "server SHOULD treat unacknowledged stanzas ... as sent to an
// unavailable resource").
#include <charconv>
#include <deque>
#include <mutex>
#include <unordered_map>
#include <unordered_set>

#include "parley/base/random.h"
#include "parley/modules/delay.h"
#include "parley/modules/options.h"
#include "parley/server/module.h"
#include "parley/xmpp/namespaces.h"

namespace parley::server::modules {
namespace {

constexpr std::string_view kSm = "urn:xmpp:sm:3";
constexpr std::size_t kDefaultResumeTimeout = 300;
constexpr std::size_t kDefaultMaxUnacked = 1000;

using xmpp::StanzaError;
using xmpp::StanzaErrorCondition;
using xmpp::StreamError;
using xmpp::StreamErrorCondition;

// Per-session state, touched only on the session's loop; it moves with the session when a new
// connection takes it over.
struct SmState final : SessionData {
    bool enabled = false;
    std::string id;                       // the resumption id; empty: resumption not enabled
    std::uint32_t handled = 0;            // the client's stanzas handled since <enabled/> (our h), mod 2^32
    std::uint32_t sent = 0;               // stanzas written to the client since <enabled/>, mod 2^32
    std::deque<xmpp::StanzaPtr> unacked;  // written, not acknowledged: sequence numbers up to `sent`
    std::deque<xmpp::StanzaPtr> held;     // not written: the queue was full, the session is ending
    // Session::whenWritten callbacks, each with the `sent` count it waits for, in order: called with
    // true once the client acknowledged that many, or once what it did not acknowledge was routed again.
    std::deque<std::pair<std::uint32_t, std::function<void(bool)>>> receipts;
};

// Runs the receipts whose stanzas are all acknowledged (`ackedUpTo` = the client's h), or all of them.
void settleReceipts(SmState& state, std::optional<std::uint32_t> ackedUpTo) {
    std::vector<std::function<void(bool)>> ready;
    while (!state.receipts.empty()) {
        // Modulo 2^32 (§4 wrap-around): the mark is reached when h is not behind it.
        const std::uint32_t mark = state.receipts.front().first;
        if (ackedUpTo && static_cast<std::int32_t>(*ackedUpTo - mark) < 0)
            break;
        ready.push_back(std::move(state.receipts.front().second));
        state.receipts.pop_front();
    }
    for (const auto& done : ready)
        done(true);
}

// XEP-0198 §4: h is an unsigned 32-bit integer (xs:unsignedInt).
std::optional<std::uint32_t> parseCount(std::string_view text) {
    std::uint32_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size())
        return std::nullopt;
    return value;
}

xml::Element smElement(std::string name) {
    return xml::Element(std::move(name), std::string(kSm));
}

class StreamManagementModule final : public Module {
  public:
    void start(ModuleContext& context) override {
        context_ = &context;
        resumeTimeout_ = countOption(context, "stream_management", "resume_timeout", kDefaultResumeTimeout);
        maxUnacked_ = countOption(context, "stream_management", "max_unacked", kDefaultMaxUnacked, 1);
        const bool resume = boolOption(context, "stream_management", "resume", true);
        allowResume_ = resume && resumeTimeout_ > 0;
        location_ = context.option("location", "");
        slot_ = context.allocateSessionSlot();

        // XEP-0198 §2: offered once the client is authenticated.
        registrations_.push_back(context.addStreamFeature(
            StreamStage::PostAuth, [](const StreamFeatureContext&) { return smElement("sm"); }));
        for (StreamElementStage stage :
             {StreamElementStage::PreAuth, StreamElementStage::PostAuth, StreamElementStage::Bound}) {
            registrations_.push_back(context.onStreamElement(
                stage, std::string(kSm),
                [this](StreamElementRequest request) { return handle(std::move(request)); }));
        }
        // Lowest priority: the copy is kept only for what is really written (after any filter that
        // holds stanzas back).
        registrations_.push_back(context.onStanzaOut(
            -1000,
            [this](Session& session, const xmpp::StanzaPtr& stanza) { return onOut(session, stanza); }));
        registrations_.push_back(context.onStanzaHandled([this](Session& session) {
            if (SmState* state = stateOf(session); state && state->enabled)
                ++state->handled;
        }));
        registrations_.push_back(context.onSessionEnded([this](Session& session) { onEnded(session); }));
        // What we route again after a session ended and nobody takes: <recipient-unavailable/>.
        registrations_.push_back(
            context.onStanza(StanzaHookPoint::Undeliverable, xmpp::StanzaKind::Message, -1000,
                             [this](RoutedStanza& routed) { return bounceRerouted(routed.stanza); }));
    }

  private:
    struct Resumable {
        std::weak_ptr<Session> session;
        std::string account;  // bare JID: only its own account may resume a session
    };

    SmState* stateOf(Session& session) const { return static_cast<SmState*>(session.data(slot_)); }

    static void failed(Session& session, StanzaErrorCondition condition) {
        // XEP-0198 §6: <failed/> with a stanza error condition.
        xml::Element element = smElement("failed");
        element.append(std::string(xmpp::toString(condition)), std::string(ns::kStanzaErrors));
        session.sendNonza(element);
    }

    asio::awaitable<void> handle(StreamElementRequest request) {
        Session& session = request.session;
        const std::string name = request.element.name();
        if (request.stage == StreamElementStage::PreAuth) {
            failed(session, StanzaErrorCondition::NotAuthorized);  // reliability row 31: authenticate first
            co_return;
        }
        if (name == "resume") {
            if (request.stage == StreamElementStage::Bound) {
                failed(session, StanzaErrorCondition::UnexpectedRequest);  // §5: resume instead of bind
                co_return;
            }
            co_await resume(std::move(request));
            co_return;
        }
        if (name == "enable") {
            enable(session, request.element, request.stage == StreamElementStage::Bound);
            co_return;
        }
        SmState* state = request.stage == StreamElementStage::Bound ? stateOf(session) : nullptr;
        if (name != "r" && name != "a") {
            session.close({StreamErrorCondition::UnsupportedStanzaType,
                           "Unknown element " + name + " in " + std::string(kSm),
                           {}});
            co_return;
        }
        if (!state || !state->enabled) {
            failed(session, StanzaErrorCondition::UnexpectedRequest);  // §4: enable first
            co_return;
        }
        if (name == "r") {
            // §4: answer a request at once with the count of handled stanzas.
            xml::Element answer = smElement("a");
            answer.setAttr("h", std::to_string(state->handled));
            session.sendNonza(answer);
            co_return;
        }
        auto h = parseCount(request.element.attr("h"));
        if (!h) {
            session.close({StreamErrorCondition::UndefinedCondition,
                           "The h of <a/> must be a whole number from 0 to 4294967295",
                           {}});
            co_return;
        }
        acknowledge(session, *state, *h);
    }

    // §3: enabling after binding; the client may ask for resumption and propose a timeout (`max`).
    void enable(Session& session, const xml::Element& request, bool bound) {
        if (!bound) {
            failed(session, StanzaErrorCondition::UnexpectedRequest);  // §3: bind a resource first
            return;
        }
        SmState& state = session.dataOrCreate<SmState>(slot_);
        if (state.enabled) {
            failed(session, StanzaErrorCondition::UnexpectedRequest);
            return;
        }
        const std::string_view wantsResume = request.attr("resume");
        xml::Element enabled = smElement("enabled");
        std::string id;
        if (allowResume_ && (wantsResume == "true" || wantsResume == "1")) {
            std::size_t timeout = resumeTimeout_;
            if (auto max = parseCount(request.attr("max")); max && *max > 0)
                timeout = std::min<std::size_t>(timeout, *max);
            // §5: the id is the secret that identifies the session; it is only honoured for the
            // same account (§9: a session must never be resumed by another entity).
            id = hexId();
            enabled.setAttr("id", id);
            enabled.setAttr("resume", "true");
            enabled.setAttr("max", std::to_string(timeout));
            if (!location_.empty())
                enabled.setAttr("location", location_);
            session.setDetachTimeout(std::chrono::seconds(timeout));
            std::lock_guard lock(mutex_);
            resumable_[id] = Resumable{session.weak_from_this(), std::string(session.jid().bareView())};
        }
        // Stanzas queued before <enabled/> are written (and not counted) first: §4 counts from here.
        session.sendNonza(enabled);
        state.enabled = true;
        state.id = std::move(id);
        state.handled = 0;
        state.sent = 0;
        // Session::whenWritten now means "acknowledged" (offline storage keeps a message until then).
        session.setWrittenKeeper([this](Session& owner, std::function<void(bool)> done) {
            SmState* current = stateOf(owner);
            if (!current || !current->enabled) {
                done(false);
                return;
            }
            current->receipts.emplace_back(current->sent, std::move(done));
            settleReceipts(*current, current->sent - static_cast<std::uint32_t>(current->unacked.size()));
        });
    }

    // Drops what the client acknowledged; false (after closing the stream) if h is more than we sent.
    static bool acknowledge(Session& session, SmState& state, std::uint32_t h) {
        const std::uint32_t firstUnacked = state.sent - static_cast<std::uint32_t>(state.unacked.size());
        const std::uint32_t acked = h - firstUnacked;  // modulo 2^32 (§4 wrap-around)
        if (acked > state.unacked.size()) {
            // XEP-0198 §4 / reliability row 31: an acknowledgement of stanzas never sent.
            StreamError error{StreamErrorCondition::UndefinedCondition,
                              "You acknowledged " + std::to_string(h) + " stanzas; only " +
                                  std::to_string(state.sent) + " were sent",
                              smElement("handled-count-too-high")};
            error.applicationCondition->setAttr("h", std::to_string(h));
            error.applicationCondition->setAttr("send-count", std::to_string(state.sent));
            session.close(std::move(error));
            return false;
        }
        state.unacked.erase(state.unacked.begin(), state.unacked.begin() + acked);
        settleReceipts(state, h);
        return true;
    }

    // §5: a new stream of the same account, authenticated but not bound, takes the session over.
    asio::awaitable<void> resume(StreamElementRequest request) {
        Session& session = request.session;
        const std::string previd(request.element.attr("previd"));
        auto h = parseCount(request.element.attr("h"));
        if (!h) {
            failed(session, StanzaErrorCondition::BadRequest);
            co_return;
        }
        SessionPtr previous;
        {
            std::lock_guard lock(mutex_);
            auto it = resumable_.find(previd);
            // Another account's id is answered exactly like an unknown one (reliability row 31).
            if (it != resumable_.end() && it->second.account == request.username + "@" + request.host)
                previous = it->second.session.lock();
        }
        if (!previous) {
            failed(session, StanzaErrorCondition::ItemNotFound);
            co_return;
        }
        const std::uint32_t clientH = *h;
        std::function<void(Session&)> onTakenOver = [this, clientH, previd](Session& resumed) {
            onResumed(resumed, previd, clientH);
        };
        const bool resumed = co_await session.takeOver(previous, std::move(onTakenOver));
        if (!resumed)
            failed(session, StanzaErrorCondition::ItemNotFound);  // it ended (or was resumed) meanwhile
    }

    void onResumed(Session& session, const std::string& previd, std::uint32_t clientH) {
        SmState& state = session.dataOrCreate<SmState>(slot_);
        {
            std::lock_guard lock(mutex_);
            resumable_[previd].session = session.weak_from_this();
        }
        if (!acknowledge(session, state, clientH))
            return;  // the session ends; what the client did not get is routed again
        xml::Element resumedElement = smElement("resumed");
        resumedElement.setAttr("previd", previd);
        resumedElement.setAttr("h", std::to_string(state.handled));
        session.sendNonza(resumedElement);
        // §5: what the client did not acknowledge is sent again, first, and counted again from h.
        std::deque<xmpp::StanzaPtr> again = std::move(state.unacked);
        state.unacked.clear();
        state.sent = clientH;
        for (xmpp::StanzaPtr& stanza : again)
            session.deliver(std::move(stanza));
    }

    FilterVerdict onOut(Session& session, const xmpp::StanzaPtr& stanza) {
        SmState* state = stateOf(session);
        if (!state || !state->enabled)
            return FilterVerdict::Write;
        if (state->unacked.size() >= maxUnacked_ || !state->held.empty()) {
            // The client does not acknowledge (or is gone for long): end the session rather than grow,
            // and keep the stanza, which is routed again when the session ends; never drop it.
            state->held.push_back(stanza);
            if (state->held.size() == 1) {
                context_->log().info(session.jid().str() + " has " + std::to_string(state->unacked.size()) +
                                     " unacknowledged stanzas; closing its session");
                context_->defer([weak = session.weak_from_this(), max = maxUnacked_] {
                    if (auto closing = weak.lock()) {
                        closing->close({StreamErrorCondition::ResourceConstraint,
                                        "More than " + std::to_string(max) +
                                            " stanzas were not acknowledged (stream management)",
                                        {}});
                    }
                });
            }
            return FilterVerdict::Hold;
        }
        state->unacked.push_back(stanza);
        ++state->sent;
        return FilterVerdict::Write;
    }

    void onEnded(Session& session) {
        SmState* state = stateOf(session);
        if (!state || !state->enabled)
            return;
        if (!state->id.empty()) {
            std::lock_guard lock(mutex_);
            auto it = resumable_.find(state->id);
            if (it != resumable_.end() && it->second.session.lock().get() == &session)
                resumable_.erase(it);
        }
        std::vector<xmpp::StanzaPtr> pending(state->unacked.begin(), state->unacked.end());
        pending.insert(pending.end(), state->held.begin(), state->held.end());
        state->unacked.clear();
        state->held.clear();
        state->enabled = false;
        // Whoever waits for the client to have these learns it once they were routed again (stored
        // offline, given to another resource, or bounced): they are then no longer theirs to keep.
        auto receipts = std::make_shared<SmState>();
        receipts->receipts = std::move(state->receipts);
        state->receipts.clear();
        if (pending.empty()) {
            settleReceipts(*receipts, std::nullopt);
            return;
        }
        context_->spawn([this, pending = std::move(pending), owner = session.jid(), receipts]() {
            return routeAgain(pending, owner, receipts);
        });
    }

    // The session of `owner` ended with these stanzas unacknowledged (XEP-0198 §5, reliability row 37).
    asio::awaitable<void> routeAgain(std::vector<xmpp::StanzaPtr> pending, Jid owner,
                                     std::shared_ptr<SmState> receipts) {
        bool othersOnline = false;
        for (const SessionPtr& other : context_->sessionsOf(owner.bare()))
            othersOnline = othersOnline || other->isAvailable();
        for (const xmpp::StanzaPtr& stanza : pending) {
            if (stanza->isIq()) {
                if (stanza->iqType() == xmpp::IqType::Get || stanza->iqType() == xmpp::IqType::Set)
                    bounce(*stanza);
                continue;  // results and errors cannot be answered (RFC 6120 §8.2.3)
            }
            if (!stanza->isMessage() || stanza->isError())
                continue;  // presence is dropped (§5); an error is never bounced (RFC 6120 §8.3.1)
            xmpp::StanzaPtr again = stanza;
            if (othersOnline) {
                // Another resource gets it late: say so (XEP-0203). Offline storage adds its own stamp.
                xmpp::Stanza copy = *stanza;
                xml::Element element = copy.element();
                appendDelay(element, std::string(owner.domain()), context_->clock().unixSeconds(),
                            "Resent after a lost connection");
                auto withDelay = xmpp::Stanza::fromElement(std::move(element));
                if (withDelay)
                    again = std::make_shared<const xmpp::Stanza>(std::move(*withDelay));
            }
            {
                std::lock_guard lock(mutex_);
                rerouted_.insert(again.get());
            }
            // Its hooks ran when it first came (archived, carbon-copied, checked against block lists):
            // only the delivery rules apply now.
            co_await context_->redeliver(again);
            std::lock_guard lock(mutex_);
            rerouted_.erase(again.get());
        }
        settleReceipts(*receipts, std::nullopt);
    }

    asio::awaitable<HookVerdict> bounceRerouted(xmpp::StanzaPtr stanza) {
        {
            std::lock_guard lock(mutex_);
            if (!rerouted_.contains(stanza.get()))
                co_return HookVerdict::Continue;
        }
        bounce(*stanza);
        co_return HookVerdict::Handled;
    }

    void bounce(const xmpp::Stanza& stanza) {
        if (auto reply = xmpp::makeErrorReply(
                stanza, StanzaError(StanzaErrorCondition::RecipientUnavailable,
                                    "The recipient's connection was lost before it received this")))
            context_->send(std::move(*reply));
    }

    static std::string hexId() {
        static constexpr char kHex[] = "0123456789abcdef";
        const std::string raw = randomBytes(16);
        std::string id;
        for (unsigned char byte : raw) {
            id.push_back(kHex[byte >> 4]);
            id.push_back(kHex[byte & 15]);
        }
        return id;
    }

    ModuleContext* context_ = nullptr;
    std::size_t resumeTimeout_ = kDefaultResumeTimeout;
    std::size_t maxUnacked_ = kDefaultMaxUnacked;
    bool allowResume_ = true;
    std::string location_;
    std::size_t slot_ = 0;
    std::mutex mutex_;  // resumable_ and rerouted_ are shared by all loops
    std::unordered_map<std::string, Resumable> resumable_;
    std::unordered_set<const xmpp::Stanza*> rerouted_;
    std::vector<Registration> registrations_;
};

}  // namespace

ModuleInfo stream_managementModule() {
    return {"stream_management",
            "acknowledges stanzas and resumes sessions after a lost connection",
            {"XEP-0198"},
            [] { return std::unique_ptr<Module>(std::make_unique<StreamManagementModule>()); }};
}

}  // namespace parley::server::modules
