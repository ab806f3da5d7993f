#include "test_server.h"

#include <gtest/gtest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_future.hpp>

#include <chrono>
#include <cstdlib>
#include <future>
#include <thread>

#include "parley/base/random.h"
#include "parley/sasl/scram_credential.h"
#include "parley/storage/storage.h"
#include "parley/streams/c2s_service.h"

namespace parley::test {

namespace {

template <class Awaitable>
auto runSync(Awaitable awaitable) {
    boost::asio::io_context context;
    auto future = boost::asio::co_spawn(context, std::move(awaitable), boost::asio::use_future);
    context.run();
    return future.get();
}

server::LogLevel testLogLevel() {
    const char* level = std::getenv("PARLEY_TEST_LOG");
    if (!level)
        return server::LogLevel::Error;
    const std::string text = level;
    if (text == "trace")
        return server::LogLevel::Trace;
    if (text == "debug")
        return server::LogLevel::Debug;
    if (text == "info")
        return server::LogLevel::Info;
    return server::LogLevel::Warn;
}

}  // namespace

TestServer::TestServer(std::function<void(server::ServerConfig&)> tweak, StorageWrapper wrapStorage) {
    directory_ = std::filesystem::temp_directory_path() / ("parley-test-" + randomId(10));
    std::filesystem::create_directories(directory_);
    server::ServerConfig config;
    config.dataDir = directory_;
    config.logLevel = testLogLevel();
    config.threads = 2;  // two loops, so cross-loop delivery is always exercised
    for (const char* domain : {"localhost", "example.org"}) {
        server::HostConfig host;
        host.domain = domain;
        host.selfSignedCertificate = true;
        host.registration = server::RegistrationPolicy::Open;
        host.admins = {std::string("admin@") + domain};
        config.hosts.push_back(host);
    }
    config.listeners.push_back({"c2s", "127.0.0.1", 0, server::TlsMode::StartTls, false});
    config.listeners.push_back({"c2s", "127.0.0.1", 0, server::TlsMode::StartTls, true});
    config.listeners.push_back({"c2s", "127.0.0.1", 0, server::TlsMode::Direct, true});
    config.storage.backend = "memory";
    for (const std::string& name : server::defaultModules())
        config.modules.push_back({name, {}});
    if (tweak)
        tweak(config);

    clock_ = std::make_shared<server::FakeClock>();
    server::Server::Options options;
    options.config = std::move(config);
    options.clock = clock_;
    options.adminSocket = false;
    storage::StorageOptions storageOptions;
    storageOptions.backend = options.config.storage.backend;
    storageOptions.path = directory_ / "parley.db";
    auto storage = storage::openStorage(storageOptions);
    if (!storage)
        throw std::runtime_error("test storage: " + storage.error().message);
    options.storage = wrapStorage ? wrapStorage(std::move(*storage)) : std::move(*storage);
    // A server that does not start leaves no folder behind (the destructor does not run).
    auto fail = [this](const std::string& why) {
        server_.reset();
        std::error_code ignored;
        std::filesystem::remove_all(directory_, ignored);
        throw std::runtime_error("test server: " + why);
    };
    auto created = server::Server::create(std::move(options));
    if (!created)
        fail(created.error());
    server_ = std::move(*created);
    if (auto started = server_->start(); !started)
        fail(started.error());
}

TestServer::~TestServer() {
    server_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(directory_, ignored);
}

std::uint16_t TestServer::port(std::size_t listener) const {
    return server_->endpoints().at(listener).port();
}

void TestServer::addAccount(const std::string& user, const std::string& domain, const std::string& password) {
    storage::Account account;
    account.host = domain;
    account.username = user;
    account.credentials = sasl::deriveAllScramCredentials(password, server_->core().config().scramIterations);
    auto result = runSync(server_->core().storage().accounts().createAccount(std::move(account)));
    ASSERT_TRUE(result.has_value()) << "cannot create " << user << "@" << domain;
}

void TestServer::addContact(const std::string& user, const std::string& domain, const std::string& contact,
                            const std::string& subscription) {
    storage::RosterItem item;
    item.jid = contact;
    if (subscription == "to")
        item.subscription = storage::Subscription::To;
    else if (subscription == "from")
        item.subscription = storage::Subscription::From;
    else if (subscription == "both")
        item.subscription = storage::Subscription::Both;
    else
        ASSERT_EQ(subscription, "none") << "unknown subscription state " << subscription;
    auto result = runSync(server_->core().storage().roster().putItem(domain, user, std::move(item), 0));
    ASSERT_TRUE(result.has_value()) << "cannot add " << contact << " to " << user << "@" << domain;
}

void TestServer::setPassword(const std::string& user, const std::string& domain,
                             const std::string& password) {
    auto credentials = sasl::deriveAllScramCredentials(password, server_->core().config().scramIterations);
    auto result =
        runSync(server_->core().storage().accounts().setCredentials(domain, user, std::move(credentials)));
    ASSERT_TRUE(result.has_value()) << "cannot change the password of " << user << "@" << domain;
}

bool TestServer::accountExists(const std::string& user, const std::string& domain) {
    auto result = runSync(server_->core().storage().accounts().findAccount(domain, user));
    return result.has_value() && result->has_value();
}

void TestServer::advanceClock(std::chrono::seconds by) {
    clock_->advance(by);
    server_->c2s().sweepTimeoutsForTest();
    server_->core().iqTracker().expire(clock_->now());
    server_->core().timers().runDue();
    // The sweeps run on the loops; a marker posted after them on each loop (handlers posted from one
    // thread run in order) tells when they are done, so the caller sees their effects. Bounded wait.
    std::vector<std::future<void>> done;
    for (std::size_t i = 0; i < server_->core().loops().size(); ++i) {
        auto marker = std::make_shared<std::promise<void>>();
        done.push_back(marker->get_future());
        boost::asio::post(server_->core().loops().loop(i), [marker] { marker->set_value(); });
    }
    for (auto& future : done) {
        EXPECT_EQ(future.wait_for(std::chrono::seconds(10)), std::future_status::ready)
            << "timeout sweep did not run";
    }
    // Module timers that became due were started by then; their work (which may wait for storage)
    // is done once none runs.
    EXPECT_TRUE(waitFor([this] { return server_->core().timers().runningForTest() == 0; }))
        << "a module timer's work did not finish";
}

bool TestServer::waitFor(const std::function<bool()>& predicate) {
    // Polls shared state that another thread changes; bounded so that a bug fails instead of hanging.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!predicate()) {
        if (std::chrono::steady_clock::now() > deadline)
            return false;
        std::this_thread::yield();
    }
    return true;
}

}  // namespace parley::test
