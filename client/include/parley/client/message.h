#pragma once
// Messages and presence as the application sees them.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "parley/xml/element.h"

namespace parley::client {

enum class MessageType { Chat, Normal, Groupchat, Headline, Error };
std::string_view toString(MessageType type) noexcept;

struct Message {
    std::string from;  ///< full JID of the sender ("" for messages from our own server)
    std::string to;
    MessageType type = MessageType::Chat;
    std::string id;
    std::string body;
    std::string thread;
    /// XEP-0203: when the server had to store it first (offline message), the original send time.
    std::optional<std::chrono::system_clock::time_point> delayedAt;
    /// The sender asked for a delivery receipt (XEP-0184); the library answers it on its own.
    bool receiptRequested = false;
    /// The whole stanza, for extensions the library does not decode.
    xml::Element stanza;
};

/// XEP-0184: the message with this id reached one of the recipient's clients.
struct Receipt {
    std::string from;
    std::string id;
};

/// RFC 6121 §4.7.2.1 <show/>, plus Available (no show) and Unavailable (type='unavailable').
enum class Availability { Available, Chat, Away, ExtendedAway, DoNotDisturb, Unavailable };
std::string_view toString(Availability availability) noexcept;
std::optional<Availability> availabilityFromString(std::string_view text) noexcept;

struct Presence {
    std::string from;  ///< full JID
    Availability availability = Availability::Available;
    std::string status;
    int priority = 0;
};

}  // namespace parley::client
