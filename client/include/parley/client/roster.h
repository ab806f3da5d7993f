#pragma once
// The contact list (RFC 6121 §2) and presence subscriptions (RFC 6121 §3).
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace parley::client {

/// RFC 6121 §2.1.2.5: whose presence each side sees.
enum class Subscription { None, To, From, Both, Remove };
std::string_view toString(Subscription subscription) noexcept;
std::optional<Subscription> subscriptionFromString(std::string_view text) noexcept;

struct RosterItem {
    std::string jid;   ///< bare JID of the contact
    std::string name;  ///< display name; empty if none
    Subscription subscription = Subscription::None;
    bool pendingOut = false;  ///< we asked to see their presence, no answer yet (ask='subscribe')
    bool approved = false;    ///< pre-approved (RFC 6121 §3.4)
    std::vector<std::string> groups;

    friend bool operator==(const RosterItem&, const RosterItem&) = default;
};

/// What a contact asked of us, or told us, about presence subscriptions (RFC 6121 §3).
enum class SubscriptionEvent {
    Request,       ///< they want to see our presence: approve() or deny()
    Approved,      ///< they approved our request
    Denied,        ///< they refused our request, or cancelled a subscription they had approved
    Unsubscribed,  ///< they stopped seeing our presence
};

}  // namespace parley::client
