#pragma once
// offload(pool, work): runs CPU-heavy work (PBKDF2 at registration, password checks for SASL PLAIN)
// on a worker pool and resumes the awaiting coroutine on its own executor, so a network loop never
// stalls for milliseconds.
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <type_traits>
#include <utility>

namespace parley::server {

// runOn(executor, work): runs `work` on `executor` (say, another event loop, to touch state that
// loop owns) and resumes the awaiting coroutine on its own executor with the result.
template <class Executor, class Work>
auto runOn(Executor executor, Work work) {
    using ResultType = std::invoke_result_t<Work&>;
    namespace asio = boost::asio;
    return asio::async_initiate<const asio::use_awaitable_t<>, void(ResultType)>(
        [executor](auto handler, Work task) {
            auto resumeOn = asio::get_associated_executor(handler);
            asio::post(executor, [handler = std::move(handler), task = std::move(task), resumeOn]() mutable {
                ResultType result = task();
                asio::post(resumeOn, [handler = std::move(handler), result = std::move(result)]() mutable {
                    std::move(handler)(std::move(result));
                });
            });
        },
        asio::use_awaitable, std::move(work));
}

template <class Work>
auto offload(boost::asio::thread_pool& pool, Work work) {
    return runOn(pool.get_executor(), std::move(work));
}

}  // namespace parley::server
