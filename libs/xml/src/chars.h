#pragma once
// Character classes of XML 1.0 (Fifth Edition) and Namespaces in XML 1.0 (Third Edition), and a
// resumable UTF-8 validator. Private to parley_xml.
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace parley::xml::detail {

// Byte classes used by the lexer's scanning loops. Bytes >= 0x80 count as name bytes: the UTF-8
// validator has already checked them, and a name containing them is checked code point by code
// point (NameCheck) as it arrives.
enum : std::uint8_t {
    kSpace = 1,      // XML 1.0 §2.3 S: space, tab, CR, LF
    kNameByte = 2,   // may appear in a name (provisional for bytes >= 0x80)
    kTextStop = 4,   // ends a fast run of character data: < & CR ]
    kValueStop = 8,  // ends a fast run of an attribute value: ' " & < tab LF CR
    kAsciiAlpha = 16,
    kNcStart = 32,  // ASCII NCName start character: letter or '_'
    kNcChar = 64,   // ASCII NCName character: letter, digit, '_', '-', '.'
};

inline constexpr std::array<std::uint8_t, 256> kByteClass = [] {
    std::array<std::uint8_t, 256> t{};
    for (int c : {' ', '\t', '\r', '\n'}) {
        t[static_cast<unsigned char>(c)] |= kSpace;
    }
    for (int c = 'a'; c <= 'z'; ++c) {
        t[c] |= kNameByte | kAsciiAlpha;
        t[c - 'a' + 'A'] |= kNameByte | kAsciiAlpha;
    }
    for (int c = '0'; c <= '9'; ++c) {
        t[c] |= kNameByte;
    }
    for (int c : {'_', ':', '-', '.'}) {
        t[static_cast<unsigned char>(c)] |= kNameByte;
    }
    for (int c = 0x80; c < 0x100; ++c) {
        t[c] |= kNameByte;
    }
    for (int c = 0; c < 0x80; ++c) {
        if ((t[c] & kAsciiAlpha) != 0 || c == '_') {
            t[c] |= kNcStart | kNcChar;
        }
        if ((c >= '0' && c <= '9') || c == '-' || c == '.') {
            t[c] |= kNcChar;
        }
    }
    for (int c : {'<', '&', '\r', ']'}) {
        t[static_cast<unsigned char>(c)] |= kTextStop;
    }
    for (int c : {'\'', '"', '&', '<', '\t', '\n', '\r'}) {
        t[static_cast<unsigned char>(c)] |= kValueStop;
    }
    return t;
}();

inline bool hasClass(char c, std::uint8_t cls) noexcept {
    return (kByteClass[static_cast<unsigned char>(c)] & cls) != 0;
}
inline bool isSpace(char c) noexcept {
    return hasClass(c, kSpace);
}

// XML 1.0 §2.2 Char.
constexpr bool isXmlChar(std::uint32_t cp) noexcept {
    return cp == 0x9 || cp == 0xA || cp == 0xD || (cp >= 0x20 && cp <= 0xD7FF) ||
           (cp >= 0xE000 && cp <= 0xFFFD) || (cp >= 0x10000 && cp <= 0x10FFFF);
}

// XML 1.0 (Fifth Edition) §2.3 NameStartChar, without ':' (Namespaces in XML: NCName).
constexpr bool isNcNameStartChar(std::uint32_t c) noexcept {
    if (c < 0x80) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    }
    return (c >= 0xC0 && c <= 0xD6) || (c >= 0xD8 && c <= 0xF6) || (c >= 0xF8 && c <= 0x2FF) ||
           (c >= 0x370 && c <= 0x37D) || (c >= 0x37F && c <= 0x1FFF) || (c >= 0x200C && c <= 0x200D) ||
           (c >= 0x2070 && c <= 0x218F) || (c >= 0x2C00 && c <= 0x2FEF) || (c >= 0x3001 && c <= 0xD7FF) ||
           (c >= 0xF900 && c <= 0xFDCF) || (c >= 0xFDF0 && c <= 0xFFFD) || (c >= 0x10000 && c <= 0xEFFFF);
}

// XML 1.0 (Fifth Edition) §2.3 NameChar, without ':'.
constexpr bool isNcNameChar(std::uint32_t c) noexcept {
    if (c < 0x80) {
        return isNcNameStartChar(c) || c == '-' || c == '.' || (c >= '0' && c <= '9');
    }
    return isNcNameStartChar(c) || c == 0xB7 || (c >= 0x300 && c <= 0x36F) || (c >= 0x203F && c <= 0x2040);
}

// Decodes one code point of text that is already known to be valid UTF-8.
inline std::uint32_t decodeValidUtf8(std::string_view s, std::size_t& i) noexcept {
    const auto b0 = static_cast<unsigned char>(s[i]);
    if (b0 < 0x80) {
        ++i;
        return b0;
    }
    const std::size_t len = b0 >= 0xF0 ? 4 : b0 >= 0xE0 ? 3 : 2;
    std::uint32_t cp = b0 & (0x7F >> len);
    for (std::size_t k = 1; k < len && i + k < s.size(); ++k) {
        cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    }
    i += len;
    return cp;
}

// The first byte in [p, end) that may end a run of attribute value characters: a quote, '&', '<',
// or a byte <= 0x0D (tab, LF, CR; other controls never get here, the validator rejects them).
inline const char* findValueStop(const char* p, const char* end) noexcept {
#if defined(__SSE2__)
    const __m128i apos = _mm_set1_epi8('\'');
    const __m128i quot = _mm_set1_epi8('"');
    const __m128i amp = _mm_set1_epi8('&');
    const __m128i lt = _mm_set1_epi8('<');
    const __m128i cr = _mm_set1_epi8('\r');
    while (end - p >= 16) {
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
        const __m128i m =
            _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, apos), _mm_cmpeq_epi8(v, quot)),
                         _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, amp), _mm_cmpeq_epi8(v, lt)),
                                      _mm_cmpeq_epi8(_mm_min_epu8(v, cr), v)));  // unsigned v <= 0x0D
        const int mask = _mm_movemask_epi8(m);
        if (mask != 0) {
            return p + __builtin_ctz(static_cast<unsigned>(mask));
        }
        p += 16;
    }
#endif
    while (p < end && !hasClass(*p, kValueStop)) {
        ++p;
    }
    return p;
}

// The first byte in [p, end) that may end a run of character data: '<', '&', CR or ']'.
inline const char* findTextStop(const char* p, const char* end) noexcept {
#if defined(__SSE2__)
    const __m128i lt = _mm_set1_epi8('<');
    const __m128i amp = _mm_set1_epi8('&');
    const __m128i cr = _mm_set1_epi8('\r');
    const __m128i rbr = _mm_set1_epi8(']');
    while (end - p >= 16) {
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
        const __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, lt), _mm_cmpeq_epi8(v, amp)),
                                       _mm_or_si128(_mm_cmpeq_epi8(v, cr), _mm_cmpeq_epi8(v, rbr)));
        const int mask = _mm_movemask_epi8(m);
        if (mask != 0) {
            return p + __builtin_ctz(static_cast<unsigned>(mask));
        }
        p += 16;
    }
#endif
    while (p < end && !hasClass(*p, kTextStop)) {
        ++p;
    }
    return p;
}

// Incremental QName check: a bad name is reported at its first bad character, even before the rest
// of it arrives (as expat does), and each byte is looked at once however the name is split.
class NameCheck {
  public:
    void reset() noexcept { *this = NameCheck(); }
    // Checks the complete code points of name[checked..]; false at the first one that cannot be
    // part of a QName here.
    bool advance(std::string_view name) noexcept {
        std::size_t i = checked_;
        while (i < name.size()) {
            const auto b = static_cast<unsigned char>(name[i]);
            std::uint32_t c = b;
            std::size_t next = i + 1;
            if (b >= 0x80) {
                const std::size_t len = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : 2;
                if (i + len > name.size()) {
                    break;  // the rest of this character has not arrived yet
                }
                next = i;
                c = decodeValidUtf8(name, next);
            } else if (b != ':') {
                if ((kByteClass[b] & (atStart_ ? kNcStart : kNcChar)) == 0) {
                    return false;
                }
                atStart_ = false;
                i = next;
                continue;
            }
            if (c == ':') {
                if (sawColon_ || atStart_) {
                    return false;
                }
                sawColon_ = true;
                atStart_ = true;
            } else if (atStart_ ? !isNcNameStartChar(c) : !isNcNameChar(c)) {
                return false;
            } else {
                atStart_ = false;
            }
            i = next;
        }
        checked_ = static_cast<std::uint32_t>(i);
        return true;
    }
    // The name is complete: neither empty nor ending with ':'.
    bool complete() const noexcept { return !atStart_; }

  private:
    std::uint32_t checked_ = 0;
    bool atStart_ = true;
    bool sawColon_ = false;
};

inline void appendUtf8(std::string& out, std::uint32_t cp) {
    if (cp < 0x80) {
        out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
        const char b[2] = {static_cast<char>(0xC0 | (cp >> 6)), static_cast<char>(0x80 | (cp & 0x3F))};
        out.append(b, 2);
    } else if (cp < 0x10000) {
        const char b[3] = {static_cast<char>(0xE0 | (cp >> 12)), static_cast<char>(0x80 | ((cp >> 6) & 0x3F)),
                           static_cast<char>(0x80 | (cp & 0x3F))};
        out.append(b, 3);
    } else {
        const char b[4] = {
            static_cast<char>(0xF0 | (cp >> 18)), static_cast<char>(0x80 | ((cp >> 12) & 0x3F)),
            static_cast<char>(0x80 | ((cp >> 6) & 0x3F)), static_cast<char>(0x80 | (cp & 0x3F))};
        out.append(b, 4);
    }
}

// Resumable check that a byte stream is UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing
// above U+10FFFF) and that every code point is an XML 1.0 Char. A sequence split across feeds is
// carried over in a few bytes of state.
class Utf8Validator {
  public:
    // The number of leading bytes of `s` that are acceptable; a trailing incomplete sequence is
    // acceptable until proven otherwise. Returns s.size() when everything is acceptable.
    std::size_t validate(std::string_view s) noexcept {
        const auto* p = reinterpret_cast<const unsigned char*>(s.data());
        const std::size_t n = s.size();
        std::size_t i = 0;
        while (i < n) {
            if (need_ == 0) {
                // Fast path: eight printable ASCII bytes at a time.
                while (i + 8 <= n) {
                    std::uint64_t w;
                    std::memcpy(&w, p + i, 8);
                    constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
                    constexpr std::uint64_t kHigh = 0x8080808080808080ULL;
                    // A byte is >= 0x80, or < 0x20 (the "has less than" bit trick).
                    if (((w | ((w - kOnes * 0x20) & ~w)) & kHigh) != 0) {
                        break;
                    }
                    i += 8;
                }
                if (i == n) {
                    break;
                }
                const unsigned char b = p[i];
                if (b < 0x80) {
                    if (b < 0x20 && b != '\t' && b != '\n' && b != '\r') {
                        return i;
                    }
                    ++i;
                    continue;
                }
                lo_ = 0x80;
                hi_ = 0xBF;
                if (b >= 0xC2 && b <= 0xDF) {
                    need_ = 1;
                    cp_ = b & 0x1F;
                } else if (b >= 0xE0 && b <= 0xEF) {
                    need_ = 2;
                    cp_ = b & 0x0F;
                    if (b == 0xE0) {
                        lo_ = 0xA0;  // overlong
                    } else if (b == 0xED) {
                        hi_ = 0x9F;  // surrogates
                    }
                } else if (b >= 0xF0 && b <= 0xF4) {
                    need_ = 3;
                    cp_ = b & 0x07;
                    if (b == 0xF0) {
                        lo_ = 0x90;  // overlong
                    } else if (b == 0xF4) {
                        hi_ = 0x8F;  // above U+10FFFF
                    }
                } else {
                    return i;  // continuation byte, overlong C0/C1, or F5..FF
                }
                ++i;
                continue;
            }
            const unsigned char b = p[i];
            if (b < lo_ || b > hi_) {
                return i;
            }
            cp_ = (cp_ << 6) | (b & 0x3F);
            lo_ = 0x80;
            hi_ = 0xBF;
            if (--need_ == 0 && (cp_ == 0xFFFE || cp_ == 0xFFFF)) {
                return i;
            }
            ++i;
        }
        return n;
    }
    bool midSequence() const noexcept { return need_ != 0; }

  private:
    std::uint32_t cp_ = 0;
    std::uint8_t need_ = 0;
    std::uint8_t lo_ = 0x80;
    std::uint8_t hi_ = 0xBF;
};

}  // namespace parley::xml::detail
