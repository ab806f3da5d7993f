#include "parley/server/session_registry.h"

#include <algorithm>
#include <mutex>

namespace parley::server {

SessionRegistry::Shard& SessionRegistry::shardFor(std::string_view bare) const {
    return shards_[std::hash<std::string_view>{}(bare) % kShards];
}

SessionRegistry::BindOutcome SessionRegistry::bind(const SessionPtr& session, std::size_t maxResources) {
    const Jid& jid = session->jid();
    const std::string_view bare = jid.bareView();
    Shard& shard = shardFor(bare);
    std::unique_lock lock(shard.mutex);
    auto& resources = shard.byBare[std::string(bare)];
    BindOutcome outcome;
    auto same = std::find_if(resources.begin(), resources.end(),
                             [&](const SessionPtr& s) { return s->jid().resource() == jid.resource(); });
    if (same != resources.end()) {
        // RFC 6120 §7.7.2.2: our policy is to terminate the older session (the caller sends <conflict/>).
        outcome.replaced = std::move(*same);
        *same = session;
        outcome.bound = true;
        return outcome;
    }
    if (maxResources > 0 && resources.size() >= maxResources) {
        if (resources.empty())
            shard.byBare.erase(std::string(bare));
        return outcome;
    }
    resources.push_back(session);
    outcome.bound = true;
    return outcome;
}

void SessionRegistry::unbind(const Session& session) {
    if (!session.isBound())
        return;
    const std::string_view bare = session.jid().bareView();
    Shard& shard = shardFor(bare);
    std::unique_lock lock(shard.mutex);
    auto it = shard.byBare.find(bare);
    if (it == shard.byBare.end())
        return;
    auto& resources = it->second;
    std::erase_if(resources, [&](const SessionPtr& s) { return s.get() == &session; });
    if (resources.empty())
        shard.byBare.erase(it);
}

bool SessionRegistry::replace(const Session& previous, const SessionPtr& heir) {
    if (!previous.isBound())
        return false;
    Shard& shard = shardFor(previous.jid().bareView());
    std::unique_lock lock(shard.mutex);
    auto it = shard.byBare.find(previous.jid().bareView());
    if (it == shard.byBare.end())
        return false;
    for (SessionPtr& s : it->second) {
        if (s.get() == &previous) {
            s = heir;
            return true;
        }
    }
    return false;
}

SessionPtr SessionRegistry::find(const Jid& fullJid) const {
    const std::string_view bare = fullJid.bareView();
    Shard& shard = shardFor(bare);
    std::shared_lock lock(shard.mutex);
    auto it = shard.byBare.find(bare);
    if (it == shard.byBare.end())
        return nullptr;
    for (const SessionPtr& s : it->second) {
        if (s->jid().resource() == fullJid.resource())
            return s;
    }
    return nullptr;
}

std::vector<SessionPtr> SessionRegistry::resourcesOf(const Jid& bareJid) const {
    const std::string_view bare = bareJid.bareView();
    Shard& shard = shardFor(bare);
    std::shared_lock lock(shard.mutex);
    auto it = shard.byBare.find(bare);
    if (it == shard.byBare.end())
        return {};
    return it->second;
}

std::size_t SessionRegistry::resourceCount(const Jid& bareJid) const {
    const std::string_view bare = bareJid.bareView();
    Shard& shard = shardFor(bare);
    std::shared_lock lock(shard.mutex);
    auto it = shard.byBare.find(bare);
    return it == shard.byBare.end() ? 0 : it->second.size();
}

std::size_t SessionRegistry::size() const {
    std::size_t total = 0;
    for (Shard& shard : shards_) {
        std::shared_lock lock(shard.mutex);
        for (const auto& [bare, resources] : shard.byBare)
            total += resources.size();
    }
    return total;
}

void SessionRegistry::forEach(const std::function<void(const SessionPtr&)>& visit) const {
    std::vector<SessionPtr> snapshot;
    for (Shard& shard : shards_) {
        std::shared_lock lock(shard.mutex);
        for (const auto& [bare, resources] : shard.byBare) {
            snapshot.insert(snapshot.end(), resources.begin(), resources.end());
        }
    }
    for (const SessionPtr& session : snapshot)
        visit(session);
}

}  // namespace parley::server
