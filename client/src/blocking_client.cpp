#include "parley/client/blocking_client.h"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>

#include <future>
#include <type_traits>

namespace parley::client {

namespace asio = boost::asio;

namespace {

// Runs `work` on the io thread and waits for its result (the Client's state lives there). A promise,
// not a packaged_task: Asio treats a packaged_task handler as a completion token of its own.
template <class F>
auto onIoThread(asio::io_context& io, F work) {
    using T = decltype(work());
    std::promise<T> promise;
    auto result = promise.get_future();
    asio::post(io, [&promise, &work] {
        if constexpr (std::is_void_v<T>) {
            work();
            promise.set_value();
        } else {
            promise.set_value(work());
        }
    });
    return result.get();
}

}  // namespace

BlockingClient::BlockingClient(ClientOptions options) : client_(io_.get_executor(), std::move(options)) {
    Handlers& h = client_.handlers();
    h.message = [this](const Message& m) { push(m); };
    h.presence = [this](const Presence& p) { push(p); };
    h.subscription = [this](const std::string& jid, SubscriptionEvent e) {
        push(SubscriptionNotice{jid, e});
    };
    h.rosterChanged = [this](const RosterItem& item) { push(item); };
    h.receipt = [this](const Receipt& r) { push(r); };
    h.disconnected = [this](const Error& e) { push(Disconnected{e}); };
    h.reconnected = [this](bool resumed) { push(Reconnected{resumed}); };
    thread_ = std::thread([this] {
        auto guard = asio::make_work_guard(io_);
        io_.run();
    });
}

BlockingClient::~BlockingClient() {
    disconnect();
    io_.stop();
    thread_.join();
}

Outcome<void> BlockingClient::registerAccount(ClientOptions options) {
    asio::io_context io;
    auto task = Client::registerAccount(io.get_executor(), std::move(options));
    auto future = asio::co_spawn(io, std::move(task), asio::use_future);
    io.run();
    return future.get();
}

Outcome<void> BlockingClient::connect() {
    return run(client_.connect());
}

void BlockingClient::disconnect() {
    run(client_.disconnect());
}

bool BlockingClient::isConnected() {
    return onIoThread(io_, [this] { return client_.isConnected(); });
}

std::string BlockingClient::boundJid() {
    return onIoThread(io_, [this] { return client_.boundJid(); });
}

ConnectionInfo BlockingClient::connectionInfo() {
    return onIoThread(io_, [this] { return client_.connectionInfo(); });
}

Outcome<void> BlockingClient::changePassword(std::string newPassword) {
    return run(client_.changePassword(std::move(newPassword)));
}

Outcome<void> BlockingClient::deleteAccount() {
    return run(client_.deleteAccount());
}

Outcome<std::vector<RosterItem>> BlockingClient::roster() {
    return run(client_.roster());
}

Outcome<void> BlockingClient::addContact(std::string jid, std::string name, std::vector<std::string> groups) {
    return run(client_.addContact(std::move(jid), std::move(name), std::move(groups)));
}

Outcome<void> BlockingClient::renameContact(std::string jid, std::string name) {
    return run(client_.renameContact(std::move(jid), std::move(name)));
}

Outcome<void> BlockingClient::removeContact(std::string jid) {
    return run(client_.removeContact(std::move(jid)));
}

Outcome<void> BlockingClient::subscribe(std::string jid) {
    return run(client_.subscribe(std::move(jid)));
}

Outcome<void> BlockingClient::approve(std::string jid) {
    return run(client_.approve(std::move(jid)));
}

Outcome<void> BlockingClient::deny(std::string jid) {
    return run(client_.deny(std::move(jid)));
}

Outcome<void> BlockingClient::unsubscribe(std::string jid) {
    return run(client_.unsubscribe(std::move(jid)));
}

Outcome<void> BlockingClient::setPresence(Availability availability, std::string status, int priority) {
    return run(client_.setPresence(availability, std::move(status), priority));
}

Outcome<std::string> BlockingClient::sendMessage(std::string to, std::string body) {
    return run(client_.sendMessage(std::move(to), std::move(body)));
}

Outcome<HistoryPage> BlockingClient::history(HistoryQuery query) {
    return run(client_.history(std::move(query)));
}

Outcome<DiscoInfo> BlockingClient::discoInfo(std::string jid, std::string node) {
    return run(client_.discoInfo(std::move(jid), std::move(node)));
}

Outcome<std::vector<DiscoItem>> BlockingClient::discoItems(std::string jid, std::string node) {
    return run(client_.discoItems(std::move(jid), std::move(node)));
}

Outcome<VCard> BlockingClient::vcard(std::string jid) {
    return run(client_.vcard(std::move(jid)));
}

Outcome<void> BlockingClient::setVCard(VCard card) {
    return run(client_.setVCard(std::move(card)));
}

Outcome<std::chrono::milliseconds> BlockingClient::ping(std::string jid) {
    return run(client_.ping(std::move(jid)));
}

std::optional<Event> BlockingClient::nextEvent(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    if (!arrived_.wait_for(lock, timeout, [this] { return !events_.empty(); }))
        return std::nullopt;
    Event event = std::move(events_.front());
    events_.pop_front();
    return event;
}

void BlockingClient::dropConnectionForTest() {
    onIoThread(io_, [this] { client_.dropConnectionForTest(); });
}

void BlockingClient::push(Event event) {
    {
        std::lock_guard lock(mutex_);
        events_.push_back(std::move(event));
    }
    arrived_.notify_all();
}

}  // namespace parley::client
