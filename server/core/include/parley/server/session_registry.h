#pragma once
// SessionRegistry: bare JID -> bound resources. Sharded by bare JID, each shard under its own
// reader-writer lock, so there is no global lock on the routing path.
#include <array>
#include <cstddef>
#include <functional>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "parley/server/session.h"

namespace parley::server {

class SessionRegistry {
  public:
    struct BindOutcome {
        bool bound = false;   // false: the account already has maxResources other resources
        SessionPtr replaced;  // the session that had the same full JID (RFC 6120 §7.7.2.2 conflict)
    };

    // Binds a session under its full JID. A session with the same full JID is replaced (the caller
    // closes it with <conflict/>). Fails when the account already has `maxResources` other resources.
    BindOutcome bind(const SessionPtr& session, std::size_t maxResources);
    // Removes the session if it is still the one bound under its JID.
    void unbind(const Session& session);
    // Puts `heir` (with the same full JID) in the place of `previous`; false if `previous` is not bound.
    bool replace(const Session& previous, const SessionPtr& heir);

    SessionPtr find(const Jid& fullJid) const;
    std::vector<SessionPtr> resourcesOf(const Jid& bareJid) const;
    std::size_t resourceCount(const Jid& bareJid) const;
    std::size_t size() const;
    // Calls `visit` for every session (admin listings, shutdown); a snapshot, so `visit` may do anything.
    void forEach(const std::function<void(const SessionPtr&)>& visit) const;

  private:
    // Transparent hashing: lookups by string_view allocate nothing.
    struct StringHash {
        using is_transparent = void;
        std::size_t operator()(std::string_view text) const noexcept {
            return std::hash<std::string_view>{}(text);
        }
    };
    struct Shard {
        mutable std::shared_mutex mutex;
        std::unordered_map<std::string, std::vector<SessionPtr>, StringHash, std::equal_to<>> byBare;
    };
    Shard& shardFor(std::string_view bare) const;
    static constexpr std::size_t kShards = 64;
    mutable std::array<Shard, kShards> shards_;
};

}  // namespace parley::server
