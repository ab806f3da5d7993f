#pragma once
// ModuleHost: starts the configured modules and keeps what they register (iq handlers, stream
// features, disco features and identities, hooks). Tables change only while modules start or stop,
// before and after the event loops run, so lookups on the routing path take no lock.
#include <array>
#include <list>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "parley/server/module.h"

namespace parley::server {

class ServerCore;

class ModuleHost {
  public:
    explicit ModuleHost(ServerCore& core);
    ~ModuleHost();

    // Starts every module enabled in the configuration, in order; `available` is what the binary has.
    // The error names the module and what is wrong.
    Result<void, std::string> start(const std::vector<ModuleInfo>& available);
    // Stops all modules (in reverse order), which unregisters everything they registered.
    void stop();

    const IqHandler* findIq(xmpp::IqType type, IqScope scope, std::string_view ns,
                            std::string_view name) const;
    const PreAuthIqHandler* findPreAuthIq(std::string_view ns, std::string_view name) const;
    std::vector<xml::Element> streamFeatures(StreamStage stage, const StreamFeatureContext& context) const;
    std::vector<std::string> discoFeatures() const;
    std::vector<DiscoIdentity> discoIdentities() const;
    std::vector<std::string> accountDiscoFeatures() const;
    void fireAccountDeleted(const AccountDeletedEvent& event) const;
    void fireSessionBound(Session& session) const;
    void fireSessionEnded(Session& session) const;
    void fireStanzaHandled(Session& session) const;
    const StreamElementHandler* findStreamElement(StreamElementStage stage, std::string_view ns) const;
    struct StanzaFilterEntry {
        int priority;
        std::uint64_t id;
        StanzaFilter filter;
    };
    // The outbound filters, in the order they run.
    const std::vector<StanzaFilterEntry>& stanzaFilters() const noexcept { return stanzaFilters_; }

    struct StanzaHookEntry {
        int priority;
        std::uint64_t id;
        StanzaHook hook;
    };
    // The hooks for a point and stanza kind, in the order they run.
    const std::vector<StanzaHookEntry>& stanzaHooks(StanzaHookPoint point, xmpp::StanzaKind kind) const {
        return stanzaHooks_[hookIndex(point, kind)];
    }
    std::vector<std::string> startedModules() const;
    // Slots allocated so far (sessions created after the modules started make room for all of them).
    std::size_t sessionSlotCount() const noexcept { return nextSessionSlot_; }

  private:
    class Context;
    friend class Context;

    struct IqKey {
        xmpp::IqType type;
        IqScope scope;
        std::string ns;
        std::string name;
        friend auto operator<=>(const IqKey&, const IqKey&) = default;
    };
    struct Started {
        std::string name;
        std::unique_ptr<Context> context;
        std::unique_ptr<Module> module;
    };

    static std::size_t hookIndex(StanzaHookPoint point, xmpp::StanzaKind kind) {
        return static_cast<std::size_t>(point) * 3 + static_cast<std::size_t>(kind);
    }

    ServerCore& core_;
    std::array<std::vector<StanzaHookEntry>, 9> stanzaHooks_;
    std::uint64_t nextHookId_ = 0;
    std::size_t nextSessionSlot_ = 0;
    std::list<SessionHook> sessionBoundHooks_;
    std::list<SessionHook> sessionEndedHooks_;
    std::list<SessionHook> stanzaHandledHooks_;
    std::vector<StanzaFilterEntry> stanzaFilters_;
    std::map<std::pair<StreamElementStage, std::string>, StreamElementHandler, std::less<>> streamElements_;
    std::map<IqKey, IqHandler, std::less<>> iqHandlers_;
    std::map<std::pair<std::string, std::string>, PreAuthIqHandler, std::less<>> preAuthIqHandlers_;
    std::list<std::pair<StreamStage, StreamFeatureProvider>> streamFeatures_;
    std::list<std::string> discoFeatures_;
    std::list<DiscoIdentity> discoIdentities_;
    std::list<std::string> accountDiscoFeatures_;
    std::list<DiscoIdentity> accountDiscoIdentities_;
    std::list<AccountItemsProvider> accountDiscoItems_;
    std::list<AccountNodeProvider> accountDiscoNodes_;
    std::list<std::function<void(const AccountDeletedEvent&)>> accountDeletedHandlers_;
    std::vector<Started> started_;
};

}  // namespace parley::server
