#pragma once
// parley::client::Client: an XMPP client session on Boost.Asio coroutines.
//
//   asio::io_context io;
//   Client client(io.get_executor(), {.jid = "alice@example.org", .password = "..."});
//   client.handlers().message = [](const Message& m) { std::cout << m.from << ": " << m.body << "\n"; };
//   co_spawn(io, [&]() -> asio::awaitable<void> {
//       auto ok = co_await client.connect();
//       if (!ok) { std::cerr << ok.error().describe() << "\n"; co_return; }
//       co_await client.sendMessage("bob@example.org", "hello");
//   }, asio::detached);
//   io.run();
//
// Threading: a Client belongs to its executor. Call it, and expect its handlers to be called, only on
// that executor (a single-threaded io_context, or a strand). For scripts without coroutines use
// BlockingClient (blocking_client.h), which runs its own thread.
//
// Errors: every call returns Outcome<T>; an Error names its layer (ErrorKind), the XMPP condition and
// a text. Calls that talk to the server fail with Usage/"not-connected" before connect() succeeded.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "parley/client/disco.h"
#include "parley/client/error.h"
#include "parley/client/history.h"
#include "parley/client/message.h"
#include "parley/client/options.h"
#include "parley/client/roster.h"
#include "parley/client/vcard.h"
#include "parley/xml/element.h"

namespace parley::client {

template <class T>
using Task = boost::asio::awaitable<Outcome<T>>;

/// Callbacks for what arrives without being asked for. Unset handlers drop their events. They run
/// on the client's executor; they may call the Client (e.g. reply to a message) but must not block.
struct Handlers {
    std::function<void(const Message&)> message;
    std::function<void(const Presence&)> presence;
    /// A contact's subscription request or answer (RFC 6121 §3); answer requests with approve()/deny().
    std::function<void(const std::string& bareJid, SubscriptionEvent)> subscription;
    /// A roster push (RFC 6121 §2.1.6): the item changed (subscription Remove: it was removed).
    std::function<void(const RosterItem&)> rosterChanged;
    /// XEP-0184: a message we sent was delivered.
    std::function<void(const Receipt&)> receipt;
    /// The connection was lost and will not come back on its own (no reconnect, or it gave up), or
    /// the server ended the stream. Not called after disconnect().
    std::function<void(const Error&)> disconnected;
    /// Reconnection worked: `resumed` says whether the session, with its presence and queued
    /// stanzas, survived (XEP-0198) or a fresh one was bound.
    std::function<void(bool resumed)> reconnected;
};

/// How the current connection was made (for logs, `parley --verbose`, and tests).
struct ConnectionInfo {
    std::string host;  ///< where we connected (SRV target or options.host)
    std::uint16_t port = 0;
    bool directTls = false;         ///< XEP-0368 direct TLS rather than STARTTLS
    std::string tlsVersion;         ///< e.g. "TLSv1.3"; empty without TLS
    std::string mechanism;          ///< SASL mechanism used, e.g. "SCRAM-SHA-256-PLUS"
    std::string channelBinding;     ///< e.g. "tls-exporter"; empty without channel binding
    bool streamManagement = false;  ///< XEP-0198 is on
    bool resumable = false;         ///< and the session can be resumed
};

class Client {
  public:
    using Executor = boost::asio::any_io_executor;

    Client(Executor executor, ClientOptions options);
    ~Client();
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    Handlers& handlers() noexcept;

    // --- connection -------------------------------------------------------------------------------

    /// Finds the server (SRV or options.host), connects, secures the stream (TLS, certificate
    /// checked), authenticates (SCRAM-SHA-256/-1, -PLUS with channel binding when possible, PLAIN
    /// only over TLS), binds the resource and enables stream management. Does not send presence.
    /// Errors: Dns, Network, Tls (with how to trust the certificate), Sasl (e.g. "not-authorized"),
    /// Stream, Timeout, Usage ("bad-jid").
    Task<void> connect();
    /// Ends the stream politely (unavailable presence is implied by the server) and closes.
    boost::asio::awaitable<void> disconnect();
    bool isConnected() const noexcept;
    /// The full JID the server bound, e.g. "alice@example.org/laptop" ("" before connect()).
    std::string boundJid() const;
    /// XEP-0198 resumption is possible if the connection breaks now.
    bool canResume() const noexcept;
    /// Details of the current (or last) connection.
    ConnectionInfo connectionInfo() const;

    // --- account (XEP-0077) --------------------------------------------------------------------

    /// Creates the account options.jid with options.password on a fresh connection, without logging
    /// in (call connect() afterwards). Errors: Stanza "conflict" (name taken), "not-acceptable" (name
    /// or password refused), "not-allowed" (registration closed), plus the connection errors.
    static Task<void> registerAccount(Executor executor, ClientOptions options);
    /// Changes the password of the logged-in account. The server may end our other sessions.
    Task<void> changePassword(std::string newPassword);
    /// Deletes the account; the server then closes the stream.
    Task<void> deleteAccount();

    // --- roster and subscriptions (RFC 6121) -----------------------------------------------------

    /// The whole roster. Also remembered: rosterCache() afterwards, kept current by pushes.
    Task<std::vector<RosterItem>> roster();
    const std::vector<RosterItem>& rosterCache() const noexcept;
    /// Adds or updates an item (name, groups). To add a friend: addContact() does this and subscribes.
    Task<void> setRosterItem(RosterItem item);
    /// Adds `jid` to the roster with `name` and asks to see its presence.
    Task<void> addContact(std::string jid, std::string name = {}, std::vector<std::string> groups = {});
    /// Renames a contact, keeping its groups.
    Task<void> renameContact(std::string jid, std::string name);
    /// Removes a contact; the server cancels the subscriptions both ways (RFC 6121 §2.5).
    Task<void> removeContact(std::string jid);
    /// Subscription requests and answers (RFC 6121 §3). Sent without waiting for a reply.
    Task<void> subscribe(std::string jid);
    Task<void> approve(std::string jid);
    Task<void> deny(std::string jid);
    /// Stop seeing their presence.
    Task<void> unsubscribe(std::string jid);

    // --- presence and messages -------------------------------------------------------------------

    /// Broadcasts our presence (RFC 6121 §4.2). Call once after connect() to receive messages sent to
    /// the bare JID and presence of contacts.
    Task<void> setPresence(Availability availability = Availability::Available, std::string status = {},
                           int priority = 0);
    /// Sends a chat message; returns its id (a receipt for it carries this id).
    Task<std::string> sendMessage(std::string to, std::string body);
    /// Sends any stanza as it is (message or presence); an id is added if it has none.
    Task<std::string> sendStanza(xml::Element stanza);

    // --- archive, discovery, profile, ping -------------------------------------------------------

    /// A page of our message archive (XEP-0313). Errors: Stanza "feature-not-implemented" if the
    /// server has no archive, "item-not-found" for an unknown paging id.
    Task<HistoryPage> history(HistoryQuery query);
    /// XEP-0030 info and items of any entity (empty `jid`: our server).
    Task<DiscoInfo> discoInfo(std::string jid = {}, std::string node = {});
    Task<std::vector<DiscoItem>> discoItems(std::string jid = {}, std::string node = {});
    /// XEP-0054: someone's vCard (empty `jid`: ours). "item-not-found" if they have none.
    Task<VCard> vcard(std::string jid = {});
    Task<void> setVCard(VCard card);
    /// XEP-0199 ping (empty `jid`: our server); returns the round-trip time.
    Task<std::chrono::milliseconds> ping(std::string jid = {});
    /// Sends an iq get/set (an id is added if missing) and returns the result stanza, or the error.
    Task<xml::Element> sendIq(xml::Element iq);

    /// Closes the TCP connection without a goodbye, as a network failure would (tests).
    void dropConnectionForTest();

    struct Impl;  ///< implementation detail (client.cpp)

  private:
    std::shared_ptr<Impl> impl_;
};

}  // namespace parley::client
