#pragma once
// KeyedMutex: an asynchronous mutex per key (an account's bare JID), for read-modify-write sequences
// that suspend on storage, such as a roster change that reads an item, writes it back and pushes it.
// Waiters resume in arrival order on their own executors; no thread ever blocks on it. Unused keys
// cost nothing: an entry lives only while someone holds or waits for it. The table is shared with the
// guards, so a guard in a coroutine frame destroyed after the owner (at shutdown, when suspended
// coroutines are destroyed after the modules) releases safely.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace parley::server {

class KeyedMutex {
    struct Table;

  public:
    class [[nodiscard]] Guard {
      public:
        Guard() = default;
        Guard(std::shared_ptr<Table> owner, std::string key)
            : owner_(std::move(owner)), key_(std::move(key)) {}
        Guard(Guard&& other) noexcept : owner_(std::move(other.owner_)), key_(std::move(other.key_)) {}
        Guard& operator=(Guard&& other) noexcept {
            if (this != &other) {
                release();
                owner_ = std::move(other.owner_);
                key_ = std::move(other.key_);
            }
            return *this;
        }
        Guard(const Guard&) = delete;
        Guard& operator=(const Guard&) = delete;
        ~Guard() { release(); }
        void release() {
            if (auto owner = std::exchange(owner_, nullptr))
                owner->unlock(key_);
        }

      private:
        std::shared_ptr<Table> owner_;
        std::string key_;
    };

    // Completes once the caller holds the key; the guard releases it.
    boost::asio::awaitable<Guard> lock(std::string key) {
        namespace asio = boost::asio;
        std::shared_ptr<Table> table = table_;
        bool acquired = false;
        {
            std::lock_guard lock(table->mutex);
            auto [it, inserted] = table->entries.try_emplace(key);
            acquired = inserted;
        }
        if (!acquired) {
            auto wait = [&table, &key](auto handler) {
                auto shared = std::make_shared<decltype(handler)>(std::move(handler));
                std::function<void()> resume = [shared] {
                    auto executor = asio::get_associated_executor(*shared);
                    asio::post(executor, std::move(*shared));
                };
                std::unique_lock lock(table->mutex);
                auto it = table->entries.find(key);
                if (it == table->entries.end()) {
                    // Released between our two looks: take it now.
                    table->entries.try_emplace(key);
                    lock.unlock();
                    resume();
                    return;
                }
                it->second.push_back(std::move(resume));
            };
            co_await asio::async_initiate<const asio::use_awaitable_t<>&, void()>(wait, asio::use_awaitable);
        }
        co_return Guard(std::move(table), std::move(key));
    }

  private:
    struct Table {
        void unlock(const std::string& key) {
            std::function<void()> next;
            {
                std::lock_guard lock(mutex);
                auto it = entries.find(key);
                if (it == entries.end())
                    return;
                if (it->second.empty()) {
                    entries.erase(it);
                    return;
                }
                // Ownership passes straight to the first waiter: nobody can slip in between.
                next = std::move(it->second.front());
                it->second.pop_front();
            }
            next();
        }

        std::mutex mutex;
        // key -> waiters; present while the key is held.
        std::unordered_map<std::string, std::deque<std::function<void()>>> entries;
    };

    std::shared_ptr<Table> table_ = std::make_shared<Table>();
};

}  // namespace parley::server
