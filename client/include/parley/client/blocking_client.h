#pragma once
// BlockingClient: the Client for scripts and tools that do not use coroutines. It runs its own
// io_context on a background thread; each call blocks until the server answered (or the request
// timed out), and what arrives unasked (messages, presence, subscription requests) queues up until
// you take it with nextEvent().
//
//   BlockingClient c({.jid = "alerts@example.org", .password = secret});
//   if (auto ok = c.connect(); !ok) { std::cerr << ok.error().describe() << "\n"; return 1; }
//   c.sendMessage("ops@example.org", "disk full on db1");
//   auto page = c.history({.with = "ops@example.org", .latest = true});
//
// Calls may come from any thread, one call at a time, except that nextEvent() may wait on one thread
// while another thread makes calls (an interactive chat reads input and prints events at once).
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "parley/client/client.h"

namespace parley::client {

/// A contact's subscription request or answer (see Handlers::subscription).
struct SubscriptionNotice {
    std::string jid;
    SubscriptionEvent event;
};
/// The connection ended and will not come back by itself.
struct Disconnected {
    Error error;
};
/// The connection came back; `resumed`: the session survived (XEP-0198).
struct Reconnected {
    bool resumed = false;
};
/// Something that arrived without being asked for, in arrival order.
using Event =
    std::variant<Message, Presence, SubscriptionNotice, RosterItem, Receipt, Disconnected, Reconnected>;

class BlockingClient {
  public:
    explicit BlockingClient(ClientOptions options);
    /// Disconnects if connected and stops the background thread.
    ~BlockingClient();
    BlockingClient(const BlockingClient&) = delete;
    BlockingClient& operator=(const BlockingClient&) = delete;

    /// Creates an account (XEP-0077) without logging in; see Client::registerAccount.
    static Outcome<void> registerAccount(ClientOptions options);

    /// See Client::connect.
    Outcome<void> connect();
    void disconnect();
    bool isConnected();
    std::string boundJid();
    ConnectionInfo connectionInfo();

    Outcome<void> changePassword(std::string newPassword);
    Outcome<void> deleteAccount();

    Outcome<std::vector<RosterItem>> roster();
    Outcome<void> addContact(std::string jid, std::string name = {}, std::vector<std::string> groups = {});
    Outcome<void> renameContact(std::string jid, std::string name);
    Outcome<void> removeContact(std::string jid);
    Outcome<void> subscribe(std::string jid);
    Outcome<void> approve(std::string jid);
    Outcome<void> deny(std::string jid);
    Outcome<void> unsubscribe(std::string jid);

    Outcome<void> setPresence(Availability availability = Availability::Available, std::string status = {},
                              int priority = 0);
    /// Returns the message id (receipts carry it).
    Outcome<std::string> sendMessage(std::string to, std::string body);

    Outcome<HistoryPage> history(HistoryQuery query);
    Outcome<DiscoInfo> discoInfo(std::string jid = {}, std::string node = {});
    Outcome<std::vector<DiscoItem>> discoItems(std::string jid = {}, std::string node = {});
    Outcome<VCard> vcard(std::string jid = {});
    Outcome<void> setVCard(VCard card);
    Outcome<std::chrono::milliseconds> ping(std::string jid = {});

    /// The next event, waiting at most `timeout`; nullopt if none came in time.
    std::optional<Event> nextEvent(std::chrono::milliseconds timeout);

    /// The asynchronous client underneath, for what this facade lacks. Use it only from inside
    /// post()ed work or coroutines spawned on executor(): it belongs to the background thread.
    Client& async() noexcept { return client_; }
    boost::asio::io_context::executor_type executor() noexcept { return io_.get_executor(); }

    void dropConnectionForTest();

  private:
    template <class T>
    T run(boost::asio::awaitable<T> task) {
        return boost::asio::co_spawn(io_, std::move(task), boost::asio::use_future).get();
    }
    void push(Event event);

    boost::asio::io_context io_;
    Client client_;
    std::mutex mutex_;
    std::condition_variable arrived_;
    std::deque<Event> events_;
    std::thread thread_;
};

}  // namespace parley::client
