// Speed and memory figures for docs/xml-parser.md. Not a test: it prints timings (thread CPU time).
//   cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release
//   cmake --build build/release --target parley_xml_bench && build/release/libs/xml/parley_xml_bench
#include <expat.h>
#include <malloc.h>
#include <time.h>

#include <cstdio>
#include <cstdlib>
#include <new>
#include <string>

#include "parley/xml/stream_parser.h"

namespace {
std::size_t gAllocs = 0;
std::size_t gLiveBytes = 0;
}  // namespace

void* operator new(std::size_t size) {
    void* p = std::malloc(size == 0 ? 1 : size);
    if (p == nullptr) {
        throw std::bad_alloc();
    }
    ++gAllocs;
    gLiveBytes += malloc_usable_size(p);
    return p;
}
void operator delete(void* p) noexcept {
    if (p != nullptr) {
        gLiveBytes -= malloc_usable_size(p);
    }
    std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
    operator delete(p);
}

using parley::xml::StreamParser;

namespace {

constexpr std::string_view kHeader =
    "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
    "xmlns:stream='http://etherx.jabber.org/streams' "
    "to='example.com' version='1.0' xml:lang='en'>";
constexpr std::string_view kMessage =
    "<message to='juliet@capulet.example/balcony' from='romeo@montague.example/orchard' type='chat' "
    "id='a3f1c9e2-5b7d-4e8a-9c6f-1d2e3f4a5b6c'><body>hello</body>"
    "<active xmlns='http://jabber.org/protocol/chatstates'/></message>";

// CPU time of this thread: the build machines are shared, wall time would count other processes.
double nowNs() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

void XMLCALL noStart(void*, const XML_Char*, const XML_Char**) {}
void XMLCALL noEnd(void*, const XML_Char*) {}

template <class F>
double bestOf(int rounds, int iterations, F f) {
    double best = 1e300;
    for (int r = 0; r < rounds; ++r) {
        const double t0 = nowNs();
        for (int i = 0; i < iterations; ++i) {
            f();
        }
        best = std::min(best, (nowNs() - t0) / iterations);
    }
    return best;
}

}  // namespace

int main() {
    std::printf("sizeof(StreamParser) = %zu bytes\n", sizeof(StreamParser));
    {
        // Warm up first: the interned namespace strings are allocated once per process.
        StreamParser warm;
        warm.feed(kHeader);
        warm.feed(kMessage);
        while (warm.next()) {
        }
        const std::size_t before = gLiveBytes;
        StreamParser p;
        p.feed(kHeader);
        while (p.next()) {
        }
        p.feed(kMessage);
        while (p.next()) {
        }
        std::printf("idle heap after header + one stanza = %zu bytes (malloc_usable_size)\n",
                    gLiveBytes - before);
        std::printf("bufferedBytes() when idle = %zu\n", p.bufferedBytes());
        std::size_t allocs = gAllocs;
        p.feed(kMessage);
        auto e = p.next();
        allocs = gAllocs - allocs;
        std::printf("allocations per stanza (tree included) = %zu, message size = %zu bytes\n", allocs,
                    kMessage.size());
    }
    {
        StreamParser p;
        p.feed(kHeader);
        while (p.next()) {
        }
        const double ns = bestOf(7, 200000, [&] {
            p.feed(kMessage);
            auto e = p.next();
            if (!e) {
                std::abort();
            }
        });
        std::printf("parse one %zu-byte message: %.0f ns (feed + next + destroy, best of 7 x 200000)\n",
                    kMessage.size(), ns);
        // The same message through expat (namespace processing, no-op handlers, no tree built).
        XML_Parser x = XML_ParserCreateNS("UTF-8", '\x01');
        XML_SetElementHandler(x, noStart, noEnd);
        XML_Parse(x, kHeader.data(), static_cast<int>(kHeader.size()), XML_FALSE);
        const double ex = bestOf(
            7, 200000, [&] { XML_Parse(x, kMessage.data(), static_cast<int>(kMessage.size()), XML_FALSE); });
        XML_ParserFree(x);
        std::printf("same message through expat (no tree built): %.0f ns; ours/expat = %.2f\n", ex, ns / ex);
    }
    {
        // 256 KiB stanza, one byte per feed.
        std::string stanza = "<message><body>";
        while (stanza.size() < 262000) {
            stanza += "abcdefghijklmnopqrstuvwxyz &amp; 0123456789 ";
        }
        stanza += "</body></message>";
        const double ns = bestOf(3, 1, [&] {
            StreamParser p;
            p.feed(kHeader);
            for (char c : stanza) {
                p.feed(std::string_view(&c, 1));
            }
            int n = 0;
            while (p.next()) {
                ++n;
            }
            if (n != 2) {
                std::abort();
            }
        });
        std::printf("%zu-byte stanza fed one byte at a time: %.2f ms (%.1f ns/byte)\n", stanza.size(),
                    ns / 1e6, ns / static_cast<double>(stanza.size()));
    }
    {
        parley::xml::StreamLimits limits;
        limits.maxAttributes = 300000;
        limits.maxElementBytes = 1 << 24;
        std::string many = "<a";
        for (int i = 0; i < 100000; ++i) {
            many += " xmlns:p" + std::to_string(i) + "='urn:" + std::to_string(i) + "' p" +
                    std::to_string(i) + ":x='1'";
        }
        many += "/>";
        const double ns = bestOf(3, 1, [&] {
            StreamParser p(limits);
            p.feed(kHeader);
            p.feed(many);
            int n = 0;
            while (p.next()) {
                ++n;
            }
            if (n != 2) {
                std::abort();
            }
        });
        std::printf("element with 100000 declarations + 100000 prefixed attributes: %.1f ms\n", ns / 1e6);
    }
    return 0;
}
