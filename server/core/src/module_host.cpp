#include "parley/server/module_host.h"

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>

#include "parley/server/core.h"

namespace parley::server {

namespace {

// Inserts `entry` (a hook or filter with `priority` and `id`) highest priority first, among equals in
// registration order; the handle erases it again.
template <class Entry>
Registration insertByPriority(std::vector<Entry>& list, Entry entry) {
    const std::uint64_t id = entry.id;
    auto position = std::find_if(list.begin(), list.end(),
                                 [&](const Entry& other) { return other.priority < entry.priority; });
    list.insert(position, std::move(entry));
    return Registration(
        [&list, id] { std::erase_if(list, [id](const Entry& other) { return other.id == id; }); });
}

}  // namespace

// The ModuleContext one module sees. Each registration returns a handle that erases the entry again.
class ModuleHost::Context final : public ModuleContext {
  public:
    Context(ModuleHost& host, const ModuleConfig& config, std::string name)
        : host_(host), config_(config), log_("mod_" + name) {}

    Registration onIq(xmpp::IqType type, unsigned scopeMask, std::string ns, std::string name,
                      IqHandler handler) override {
        std::vector<IqKey> keys;
        for (IqScope scope : {IqScope::Host, IqScope::Self, IqScope::Bare}) {
            if (scopeMask & static_cast<unsigned>(scope))
                keys.push_back(IqKey{type, scope, ns, name});
        }
        for (const IqKey& key : keys)
            host_.iqHandlers_[key] = handler;
        return Registration([&table = host_.iqHandlers_, keys] {
            for (const IqKey& key : keys)
                table.erase(key);
        });
    }

    Registration onPreAuthIq(std::string ns, std::string name, PreAuthIqHandler handler) override {
        auto key = std::make_pair(std::move(ns), std::move(name));
        host_.preAuthIqHandlers_[key] = std::move(handler);
        return Registration([&table = host_.preAuthIqHandlers_, key] { table.erase(key); });
    }

    Registration addStreamFeature(StreamStage stage, StreamFeatureProvider provider) override {
        auto& list = host_.streamFeatures_;
        auto it = list.insert(list.end(), {stage, std::move(provider)});
        return Registration([&list, it] { list.erase(it); });
    }

    Registration addDiscoFeature(std::string var) override {
        auto& list = host_.discoFeatures_;
        auto it = list.insert(list.end(), std::move(var));
        return Registration([&list, it] { list.erase(it); });
    }

    Registration addDiscoIdentity(DiscoIdentity identity) override {
        auto& list = host_.discoIdentities_;
        auto it = list.insert(list.end(), std::move(identity));
        return Registration([&list, it] { list.erase(it); });
    }

    Registration addAccountDiscoFeature(std::string var) override {
        return addTo(host_.accountDiscoFeatures_, std::move(var));
    }
    Registration addAccountDiscoIdentity(DiscoIdentity identity) override {
        return addTo(host_.accountDiscoIdentities_, std::move(identity));
    }
    Registration addAccountDiscoItems(AccountItemsProvider provider) override {
        return addTo(host_.accountDiscoItems_, std::move(provider));
    }
    Registration addAccountDiscoNodes(AccountNodeProvider provider) override {
        return addTo(host_.accountDiscoNodes_, std::move(provider));
    }

    Registration onAccountDeleted(std::function<void(const AccountDeletedEvent&)> handler) override {
        auto& list = host_.accountDeletedHandlers_;
        auto it = list.insert(list.end(), std::move(handler));
        return Registration([&list, it] { list.erase(it); });
    }

    Registration onStanza(StanzaHookPoint point, xmpp::StanzaKind kind, int priority,
                          StanzaHook hook) override {
        return insertByPriority(host_.stanzaHooks_[hookIndex(point, kind)],
                                StanzaHookEntry{priority, ++host_.nextHookId_, std::move(hook)});
    }

    Registration onSessionBound(SessionHook hook) override {
        auto& list = host_.sessionBoundHooks_;
        auto it = list.insert(list.end(), std::move(hook));
        return Registration([&list, it] { list.erase(it); });
    }

    Registration onSessionEnded(SessionHook hook) override {
        auto& list = host_.sessionEndedHooks_;
        auto it = list.insert(list.end(), std::move(hook));
        return Registration([&list, it] { list.erase(it); });
    }

    Registration onStreamElement(StreamElementStage stage, std::string ns,
                                 StreamElementHandler handler) override {
        auto key = std::make_pair(stage, std::move(ns));
        host_.streamElements_[key] = std::move(handler);
        return Registration([&table = host_.streamElements_, key] { table.erase(key); });
    }

    Registration onStanzaOut(int priority, StanzaFilter filter) override {
        return insertByPriority(host_.stanzaFilters_,
                                StanzaFilterEntry{priority, ++host_.nextHookId_, std::move(filter)});
    }

    Registration onStanzaHandled(SessionHook hook) override {
        auto& list = host_.stanzaHandledHooks_;
        auto it = list.insert(list.end(), std::move(hook));
        return Registration([&list, it] { list.erase(it); });
    }

    std::size_t allocateSessionSlot() override { return host_.nextSessionSlot_++; }

    std::vector<std::string> discoFeatures() const override { return host_.discoFeatures(); }
    std::vector<DiscoIdentity> discoIdentities() const override { return host_.discoIdentities(); }
    std::vector<std::string> accountDiscoFeatures() const override { return host_.accountDiscoFeatures(); }
    std::vector<DiscoIdentity> accountDiscoIdentities() const override {
        return {host_.accountDiscoIdentities_.begin(), host_.accountDiscoIdentities_.end()};
    }
    std::vector<AccountItemsProvider> accountDiscoItems() const override {
        return {host_.accountDiscoItems_.begin(), host_.accountDiscoItems_.end()};
    }
    std::vector<AccountNodeProvider> accountDiscoNodes() const override {
        return {host_.accountDiscoNodes_.begin(), host_.accountDiscoNodes_.end()};
    }
    const ServerConfig& config() const override { return host_.core_.config(); }
    std::string option(std::string_view key, std::string_view fallback) const override {
        auto it = config_.options.find(std::string(key));
        return it == config_.options.end() ? std::string(fallback) : it->second;
    }
    void refuseStart(std::string problem) override {
        if (!startProblem_)  // the first one says the most; the rest often follow from it
            startProblem_ = std::move(problem);
    }
    const std::optional<std::string>& startProblem() const noexcept { return startProblem_; }
    storage::Storage& storage() override { return host_.core_.storage(); }
    const Clock& clock() const override { return host_.core_.clock(); }
    const Logger& log() const override { return log_; }

    void send(xmpp::Stanza stanza) override {
        host_.core_.router().route(std::make_shared<const xmpp::Stanza>(std::move(stanza)));
    }

    asio::awaitable<void> route(xmpp::StanzaPtr stanza) override {
        co_await host_.core_.router().routeAsync(std::move(stanza));
    }
    asio::awaitable<void> redeliver(xmpp::StanzaPtr stanza) override {
        co_await host_.core_.router().redeliverAsync(std::move(stanza));
    }

    asio::awaitable<IqAnswer> sendIq(xmpp::Stanza request, std::chrono::seconds timeout) override {
        Router& router = host_.core_.router();
        std::function<void(xmpp::StanzaPtr)> send = [&router](xmpp::StanzaPtr stanza) {
            router.route(std::move(stanza));
        };
        IqAnswer answer =
            co_await host_.core_.iqTracker().request(std::move(request), timeout, std::move(send));
        co_return answer;
    }

    std::vector<SessionPtr> sessionsOf(const Jid& bareJid) const override {
        return host_.core_.sessions().resourcesOf(bareJid);
    }

    void closeSessionsOf(const Jid& bareJid, xmpp::StreamError error, const Jid* keep) override {
        for (const SessionPtr& session : host_.core_.sessions().resourcesOf(bareJid)) {
            if (!keep || session->jid() != *keep)
                session->close(error);
        }
    }

    void defer(std::function<void()> work) override {
        asio::post(host_.core_.loops().current(), std::move(work));
    }

    void spawn(std::function<asio::awaitable<void>()> work) override {
        asio::co_spawn(
            host_.core_.loops().current(), [work = std::move(work)]() { return work(); }, asio::detached);
    }

    Registration every(std::chrono::nanoseconds interval, TimerWork work) override {
        return host_.core_.timers().every(interval, std::move(work));
    }
    Registration after(std::chrono::nanoseconds delay, TimerWork work) override {
        return host_.core_.timers().after(delay, std::move(work));
    }

    asio::thread_pool& cpuPool() override { return host_.core_.cpuPool(); }

    void accountDeleted(const AccountDeletedEvent& event) override { host_.fireAccountDeleted(event); }

  private:
    // Appends to one of the host's lists; the handle erases the entry again.
    template <class T>
    static Registration addTo(std::list<T>& list, T value) {
        auto it = list.insert(list.end(), std::move(value));
        return Registration([&list, it] { list.erase(it); });
    }

    ModuleHost& host_;
    ModuleConfig config_;
    Logger log_;
    std::optional<std::string> startProblem_;
};

ModuleHost::ModuleHost(ServerCore& core) : core_(core) {}

ModuleHost::~ModuleHost() {
    stop();
}

Result<void, std::string> ModuleHost::start(const std::vector<ModuleInfo>& available) {
    for (const ModuleConfig& config : core_.config().modules) {
        auto info = std::find_if(available.begin(), available.end(),
                                 [&](const ModuleInfo& m) { return m.name == config.name; });
        if (info == available.end()) {
            return std::string("module '" + config.name +
                               "' is enabled in [modules] but this build has no such module");
        }
        Started started;
        started.name = config.name;
        started.context = std::make_unique<Context>(*this, config, config.name);
        started.module = info->create();
        started.module->start(*started.context);
        if (const auto& problem = started.context->startProblem()) {
            // `started` goes out of scope: the module is destroyed and its registrations undone; the
            // modules started before it are stopped with the host.
            return std::string("module '" + config.name + "': " + *problem);
        }
        started_.push_back(std::move(started));
    }
    return {};
}

void ModuleHost::stop() {
    // Reverse order: a module may rely on what an earlier one registered.
    while (!started_.empty())
        started_.pop_back();
}

const IqHandler* ModuleHost::findIq(xmpp::IqType type, IqScope scope, std::string_view ns,
                                    std::string_view name) const {
    auto it = iqHandlers_.find(IqKey{type, scope, std::string(ns), std::string(name)});
    return it == iqHandlers_.end() ? nullptr : &it->second;
}

const PreAuthIqHandler* ModuleHost::findPreAuthIq(std::string_view ns, std::string_view name) const {
    auto it = preAuthIqHandlers_.find(std::make_pair(std::string(ns), std::string(name)));
    return it == preAuthIqHandlers_.end() ? nullptr : &it->second;
}

std::vector<xml::Element> ModuleHost::streamFeatures(StreamStage stage,
                                                     const StreamFeatureContext& context) const {
    std::vector<xml::Element> features;
    for (const auto& [featureStage, provider] : streamFeatures_) {
        if (featureStage != stage)
            continue;
        if (auto element = provider(context))
            features.push_back(std::move(*element));
    }
    return features;
}

namespace {

// Features in the order disco#info lists them (and XEP-0115 hashes them): sorted, each once.
std::vector<std::string> sortedUnique(const std::list<std::string>& list) {
    std::vector<std::string> features(list.begin(), list.end());
    std::sort(features.begin(), features.end());
    features.erase(std::unique(features.begin(), features.end()), features.end());
    return features;
}
}  // namespace

std::vector<std::string> ModuleHost::discoFeatures() const {
    return sortedUnique(discoFeatures_);
}

std::vector<std::string> ModuleHost::accountDiscoFeatures() const {
    return sortedUnique(accountDiscoFeatures_);
}

std::vector<DiscoIdentity> ModuleHost::discoIdentities() const {
    return {discoIdentities_.begin(), discoIdentities_.end()};
}

void ModuleHost::fireAccountDeleted(const AccountDeletedEvent& event) const {
    for (const auto& handler : accountDeletedHandlers_)
        handler(event);
}

void ModuleHost::fireSessionBound(Session& session) const {
    for (const auto& hook : sessionBoundHooks_)
        hook(session);
}

void ModuleHost::fireSessionEnded(Session& session) const {
    for (const auto& hook : sessionEndedHooks_)
        hook(session);
}

void ModuleHost::fireStanzaHandled(Session& session) const {
    for (const auto& hook : stanzaHandledHooks_)
        hook(session);
}

const StreamElementHandler* ModuleHost::findStreamElement(StreamElementStage stage,
                                                          std::string_view ns) const {
    auto it = streamElements_.find(std::make_pair(stage, std::string(ns)));
    return it == streamElements_.end() ? nullptr : &it->second;
}

std::vector<std::string> ModuleHost::startedModules() const {
    std::vector<std::string> names;
    for (const Started& s : started_)
        names.push_back(s.name);
    return names;
}

}  // namespace parley::server
