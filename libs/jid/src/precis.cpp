#include "precis.h"

#include <unicode/locid.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>
#include <unicode/uscript.h>
#include <unicode/utf8.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <initializer_list>

namespace parley::precis {
namespace {

// RFC 8264 §8: the derived property values. ID_DIS and FREE_PVAL are always assigned together (a
// code point that is ID_DIS is FREE_PVAL), so one value stands for both.
enum class Derived : unsigned char { PValid, ContextJ, ContextO, IdDisFreePval, Disallowed, Unassigned };

const icu::Normalizer2& nfc() {
    UErrorCode status = U_ZERO_ERROR;
    const icu::Normalizer2* instance = icu::Normalizer2::getNFCInstance(status);
    // ICU's data is linked in; failing to load it is a broken installation, not bad input.
    if (U_FAILURE(status) || instance == nullptr) {
        std::abort();
    }
    return *instance;
}

const icu::Normalizer2& nfkc() {
    UErrorCode status = U_ZERO_ERROR;
    const icu::Normalizer2* instance = icu::Normalizer2::getNFKCInstance(status);
    if (U_FAILURE(status) || instance == nullptr) {
        std::abort();
    }
    return *instance;
}

const icu::Normalizer2& nfkd() {
    UErrorCode status = U_ZERO_ERROR;
    const icu::Normalizer2* instance = icu::Normalizer2::getNFKDInstance(status);
    if (U_FAILURE(status) || instance == nullptr) {
        std::abort();
    }
    return *instance;
}

icu::UnicodeString toIcu(std::u32string_view text) {
    return icu::UnicodeString::fromUTF32(reinterpret_cast<const UChar32*>(text.data()),
                                         static_cast<int32_t>(text.size()));
}

std::u32string fromIcu(const icu::UnicodeString& text) {
    std::u32string out;
    out.reserve(static_cast<std::size_t>(text.length()));
    for (int32_t i = 0; i < text.length();) {
        const UChar32 c = text.char32At(i);
        out.push_back(static_cast<char32_t>(c));
        i += U16_LENGTH(c);
    }
    return out;
}

// RFC 8264 §9.13 HasCompat: toNFKC(cp) != cp.
bool hasCompat(UChar32 c) {
    UErrorCode status = U_ZERO_ERROR;
    const bool normalized = nfkc().isNormalized(icu::UnicodeString(c), status);
    return U_FAILURE(status) || !normalized;
}

bool isGeneralCategory(int8_t category, std::initializer_list<UCharCategory> set) {
    return std::find(set.begin(), set.end(), static_cast<UCharCategory>(category)) != set.end();
}

// RFC 8264 §8, in the order given there; the categories are those of §9.
Derived derivedProperty(UChar32 c) {
    // §9.2 Exceptions: the table of RFC 5892 §2.6.
    switch (c) {
        case 0x00DF:
        case 0x03C2:
        case 0x06FD:
        case 0x06FE:
        case 0x0F0B:
        case 0x3007:
            return Derived::PValid;
        case 0x00B7:
        case 0x0375:
        case 0x05F3:
        case 0x05F4:
        case 0x30FB:
            return Derived::ContextO;
        case 0x0640:
        case 0x07FA:
        case 0x302E:
        case 0x302F:
        case 0x3031:
        case 0x3032:
        case 0x3033:
        case 0x3034:
        case 0x3035:
        case 0x303B:
            return Derived::Disallowed;
        default:
            break;
    }
    if ((c >= 0x0660 && c <= 0x0669) || (c >= 0x06F0 && c <= 0x06F9)) {
        return Derived::ContextO;
    }
    // §9.3 BackwardCompatible is empty for every Unicode version so far.
    const int8_t category = u_charType(c);
    const bool noncharacter = u_hasBinaryProperty(c, UCHAR_NONCHARACTER_CODE_POINT);
    // §9.6 Unassigned: General_Category Cn and not a noncharacter.
    if (category == U_UNASSIGNED && !noncharacter) {
        return Derived::Unassigned;
    }
    // §9.7 ASCII7: U+0021..U+007E.
    if (c >= 0x21 && c <= 0x7E) {
        return Derived::PValid;
    }
    // §9.4 JoinControl.
    if (u_hasBinaryProperty(c, UCHAR_JOIN_CONTROL)) {
        return Derived::ContextJ;
    }
    // §9.5 OldHangulJamo: Hangul_Syllable_Type L, V or T.
    switch (u_getIntPropertyValue(c, UCHAR_HANGUL_SYLLABLE_TYPE)) {
        case U_HST_LEADING_JAMO:
        case U_HST_VOWEL_JAMO:
        case U_HST_TRAILING_JAMO:
            return Derived::Disallowed;
        default:
            break;
    }
    // §9.9 PrecisIgnorableProperties: Default_Ignorable_Code_Point or Noncharacter_Code_Point.
    if (noncharacter || u_hasBinaryProperty(c, UCHAR_DEFAULT_IGNORABLE_CODE_POINT)) {
        return Derived::Disallowed;
    }
    // §9.8 Controls (General_Category Cc, cf. erratum 5478).
    if (category == U_CONTROL_CHAR) {
        return Derived::Disallowed;
    }
    // §9.13 HasCompat.
    if (hasCompat(c)) {
        return Derived::IdDisFreePval;
    }
    // §9.1 LetterDigits.
    if (isGeneralCategory(category,
                          {U_LOWERCASE_LETTER, U_UPPERCASE_LETTER, U_OTHER_LETTER, U_DECIMAL_DIGIT_NUMBER,
                           U_MODIFIER_LETTER, U_NON_SPACING_MARK, U_COMBINING_SPACING_MARK})) {
        return Derived::PValid;
    }
    // §9.14 OtherLetterDigits, §9.10 Spaces, §9.11 Symbols, §9.12 Punctuation.
    if (isGeneralCategory(
            category, {U_TITLECASE_LETTER, U_LETTER_NUMBER, U_OTHER_NUMBER, U_ENCLOSING_MARK,
                       U_SPACE_SEPARATOR, U_MATH_SYMBOL, U_CURRENCY_SYMBOL, U_MODIFIER_SYMBOL, U_OTHER_SYMBOL,
                       U_CONNECTOR_PUNCTUATION, U_DASH_PUNCTUATION, U_START_PUNCTUATION, U_END_PUNCTUATION,
                       U_INITIAL_PUNCTUATION, U_FINAL_PUNCTUATION, U_OTHER_PUNCTUATION})) {
        return Derived::IdDisFreePval;
    }
    return Derived::Disallowed;
}

constexpr int kVirama = 9;  // Canonical_Combining_Class Virama

bool isJoiningType(UChar32 c, std::initializer_list<UJoiningType> set) {
    const auto type = static_cast<UJoiningType>(u_getIntPropertyValue(c, UCHAR_JOINING_TYPE));
    return std::find(set.begin(), set.end(), type) != set.end();
}

// RFC 5892 Appendix A.1: ZERO WIDTH NON-JOINER after a virama, or inside a cursive joining context
// (Joining_Type:{L,D})(Joining_Type:T)*\u200C(Joining_Type:T)*(Joining_Type:{R,D}).
bool zwnjAllowed(std::u32string_view text, std::size_t i) {
    if (i > 0 && u_getCombiningClass(static_cast<UChar32>(text[i - 1])) == kVirama) {
        return true;
    }
    std::size_t before = i;
    while (before > 0 && isJoiningType(static_cast<UChar32>(text[before - 1]), {U_JT_TRANSPARENT})) {
        --before;
    }
    if (before == 0 ||
        !isJoiningType(static_cast<UChar32>(text[before - 1]), {U_JT_LEFT_JOINING, U_JT_DUAL_JOINING})) {
        return false;
    }
    std::size_t after = i + 1;
    while (after < text.size() && isJoiningType(static_cast<UChar32>(text[after]), {U_JT_TRANSPARENT})) {
        ++after;
    }
    return after < text.size() &&
           isJoiningType(static_cast<UChar32>(text[after]), {U_JT_RIGHT_JOINING, U_JT_DUAL_JOINING});
}

UScriptCode scriptOf(char32_t c) {
    UErrorCode status = U_ZERO_ERROR;
    const UScriptCode script = uscript_getScript(static_cast<UChar32>(c), &status);
    return U_FAILURE(status) ? USCRIPT_INVALID_CODE : script;
}

// RFC 5892 Appendix A: the contextual rule for the code point at text[i].
bool contextAllows(std::u32string_view text, std::size_t i) {
    const char32_t c = text[i];
    const auto anyOf = [&](auto predicate) { return std::any_of(text.begin(), text.end(), predicate); };
    switch (c) {
        case 0x200C:  // A.1 ZERO WIDTH NON-JOINER
            return zwnjAllowed(text, i);
        case 0x200D:  // A.2 ZERO WIDTH JOINER
            return i > 0 && u_getCombiningClass(static_cast<UChar32>(text[i - 1])) == kVirama;
        case 0x00B7:  // A.3 MIDDLE DOT, only in "l·l" (Catalan)
            return i > 0 && i + 1 < text.size() && text[i - 1] == U'l' && text[i + 1] == U'l';
        case 0x0375:  // A.4 GREEK LOWER NUMERAL SIGN (KERAIA), before a Greek letter
            return i + 1 < text.size() && scriptOf(text[i + 1]) == USCRIPT_GREEK;
        case 0x05F3:  // A.5 HEBREW PUNCTUATION GERESH
        case 0x05F4:  // A.6 HEBREW PUNCTUATION GERSHAYIM
            return i > 0 && scriptOf(text[i - 1]) == USCRIPT_HEBREW;
        case 0x30FB:  // A.7 KATAKANA MIDDLE DOT, with at least one Hiragana, Katakana or Han
            return anyOf([](char32_t other) {
                const UScriptCode script = scriptOf(other);
                return script == USCRIPT_HIRAGANA || script == USCRIPT_KATAKANA || script == USCRIPT_HAN;
            });
        default:
            break;
    }
    if (c >= 0x0660 && c <= 0x0669) {  // A.8 ARABIC-INDIC DIGITS, not mixed with extended ones
        return !anyOf([](char32_t other) { return other >= 0x06F0 && other <= 0x06F9; });
    }
    if (c >= 0x06F0 && c <= 0x06F9) {  // A.9 EXTENDED ARABIC-INDIC DIGITS, not mixed with A.8
        return !anyOf([](char32_t other) { return other >= 0x0660 && other <= 0x0669; });
    }
    return false;  // a CONTEXTJ or CONTEXTO code point without a rule is not allowed
}

bool isWideOrNarrow(UChar32 c) {
    const auto type = u_getIntPropertyValue(c, UCHAR_DECOMPOSITION_TYPE);
    return type == U_DT_WIDE || type == U_DT_NARROW;
}

// RFC 8265 §3.3.1 Width Mapping Rule: fullwidth and halfwidth code points become their decomposition
// mapping (a single code point for every <wide> and <narrow> decomposition).
std::u32string mapWidth(std::u32string_view text) {
    std::u32string out;
    out.reserve(text.size());
    for (const char32_t c : text) {
        icu::UnicodeString decomposition;
        if (isWideOrNarrow(static_cast<UChar32>(c)) &&
            nfkd().getRawDecomposition(static_cast<UChar32>(c), decomposition)) {
            out += fromIcu(decomposition);
        } else {
            out.push_back(c);
        }
    }
    return out;
}

std::optional<std::u32string> normalizeNfc(const icu::UnicodeString& text) {
    UErrorCode status = U_ZERO_ERROR;
    const icu::UnicodeString normalized = nfc().normalize(text, status);
    if (U_FAILURE(status)) {
        return std::nullopt;
    }
    return fromIcu(normalized);
}

// RFC 7622 §3.3.1: characters that would make a localpart ambiguous in XMPP, URIs or XML.
bool isForbiddenInLocalpart(char32_t c) {
    switch (c) {
        case U'"':
        case U'&':
        case U'\'':
        case U'/':
        case U':':
        case U'<':
        case U'>':
        case U'@':
            return true;
        default:
            return false;
    }
}

}  // namespace

std::optional<std::u32string> decodeUtf8(std::string_view text) {
    std::u32string out;
    out.reserve(text.size());
    const auto* bytes = reinterpret_cast<const uint8_t*>(text.data());
    const auto length = static_cast<int32_t>(text.size());
    for (int32_t i = 0; i < length;) {
        UChar32 c = 0;
        U8_NEXT(bytes, i, length, c);  // negative for ill-formed input, including surrogates
        if (c < 0) {
            return std::nullopt;
        }
        out.push_back(static_cast<char32_t>(c));
    }
    return out;
}

std::string encodeUtf8(std::u32string_view text) {
    std::string out;
    out.reserve(text.size() * 2);
    for (const char32_t c : text) {
        uint8_t buffer[U8_MAX_LENGTH];
        int32_t length = 0;
        bool error = false;
        U8_APPEND(buffer, length, U8_MAX_LENGTH, static_cast<UChar32>(c), error);
        if (error) {
            std::abort();  // only ever called with decoded, valid scalar values
        }
        out.append(reinterpret_cast<const char*>(buffer), static_cast<std::size_t>(length));
    }
    return out;
}

bool conformsTo(std::u32string_view text, StringClass stringClass) {
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char32_t c = text[i];
        if (c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) {
            return false;
        }
        switch (derivedProperty(static_cast<UChar32>(c))) {
            case Derived::PValid:
                break;
            case Derived::IdDisFreePval:
                // RFC 8264 §4.2.3 / §4.3.2: ID_DIS is disallowed, FREE_PVAL is valid.
                if (stringClass == StringClass::Identifier) {
                    return false;
                }
                break;
            case Derived::ContextJ:
            case Derived::ContextO:
                if (!contextAllows(text, i)) {
                    return false;
                }
                break;
            case Derived::Disallowed:
            case Derived::Unassigned:
                return false;
        }
    }
    return true;
}

bool hasRightToLeft(std::u32string_view text) {
    return std::any_of(text.begin(), text.end(), [](char32_t c) {
        const UCharDirection direction = u_charDirection(static_cast<UChar32>(c));
        return direction == U_RIGHT_TO_LEFT || direction == U_RIGHT_TO_LEFT_ARABIC ||
               direction == U_ARABIC_NUMBER;
    });
}

bool satisfiesBidiRule(std::u32string_view text) {
    if (text.empty()) {
        return true;
    }
    const auto direction = [](char32_t c) { return u_charDirection(static_cast<UChar32>(c)); };
    // Condition 1: the first character has bidi class L, R or AL.
    const UCharDirection first = direction(text.front());
    if (first != U_LEFT_TO_RIGHT && first != U_RIGHT_TO_LEFT && first != U_RIGHT_TO_LEFT_ARABIC) {
        return false;
    }
    const bool rtl = first != U_LEFT_TO_RIGHT;
    bool seenEuropeanNumber = false;
    bool seenArabicNumber = false;
    for (const char32_t c : text) {
        const UCharDirection d = direction(c);
        switch (d) {
            case U_EUROPEAN_NUMBER:
                seenEuropeanNumber = true;
                break;
            case U_EUROPEAN_NUMBER_SEPARATOR:
            case U_COMMON_NUMBER_SEPARATOR:
            case U_EUROPEAN_NUMBER_TERMINATOR:
            case U_OTHER_NEUTRAL:
            case U_BOUNDARY_NEUTRAL:
            case U_DIR_NON_SPACING_MARK:
                break;
            case U_LEFT_TO_RIGHT:
                if (rtl) {
                    return false;  // condition 2
                }
                break;
            case U_RIGHT_TO_LEFT:
            case U_RIGHT_TO_LEFT_ARABIC:
                if (!rtl) {
                    return false;  // condition 5
                }
                break;
            case U_ARABIC_NUMBER:
                if (!rtl) {
                    return false;  // condition 5
                }
                seenArabicNumber = true;
                break;
            default:
                return false;  // conditions 2 and 5: B, S, WS, LRE, RLO, ... are in neither list
        }
    }
    // Condition 4: EN and AN are not mixed in an RTL label.
    if (rtl && seenEuropeanNumber && seenArabicNumber) {
        return false;
    }
    // Conditions 3 and 6: the last character that is not NSM.
    auto last = text.rbegin();
    while (last != text.rend() && direction(*last) == U_DIR_NON_SPACING_MARK) {
        ++last;
    }
    if (last == text.rend()) {
        return false;
    }
    const UCharDirection end = direction(*last);
    if (rtl) {
        return end == U_RIGHT_TO_LEFT || end == U_RIGHT_TO_LEFT_ARABIC || end == U_EUROPEAN_NUMBER ||
               end == U_ARABIC_NUMBER;
    }
    return end == U_LEFT_TO_RIGHT || end == U_EUROPEAN_NUMBER;
}

std::optional<std::u32string> enforceUsernameCaseMapped(std::u32string_view text) {
    // RFC 8265 §3.3.2 preparation: width mapping, then IdentifierClass membership.
    const std::u32string widthMapped = mapWidth(text);
    if (!conformsTo(widthMapped, StringClass::Identifier)) {
        return std::nullopt;
    }
    // §3.3.3 enforcement: (no additional mapping) case mapping with Unicode toLowerCase, then NFC.
    icu::UnicodeString lowered = toIcu(widthMapped);
    lowered.toLower(icu::Locale::getRoot());
    std::optional<std::u32string> result = normalizeNfc(lowered);
    if (!result || result->empty()) {
        return std::nullopt;
    }
    // The result must still belong to the class, and RFC 7622 §3.3.1 forbids a few more characters.
    if (!conformsTo(*result, StringClass::Identifier) ||
        std::any_of(result->begin(), result->end(), isForbiddenInLocalpart)) {
        return std::nullopt;
    }
    // Directionality rule: RFC 5893 applies to strings containing right-to-left code points.
    if (hasRightToLeft(*result) && !satisfiesBidiRule(*result)) {
        return std::nullopt;
    }
    return result;
}

std::optional<std::u32string> enforceOpaqueString(std::u32string_view text) {
    // RFC 8265 §4.2.2 preparation: FreeformClass membership (no width mapping).
    if (!conformsTo(text, StringClass::Freeform)) {
        return std::nullopt;
    }
    // §4.2.3 enforcement: non-ASCII spaces (General_Category Zs) become U+0020; no case mapping; NFC.
    std::u32string mapped(text);
    for (char32_t& c : mapped) {
        if (c != U' ' && u_charType(static_cast<UChar32>(c)) == U_SPACE_SEPARATOR) {
            c = U' ';
        }
    }
    std::optional<std::u32string> result = normalizeNfc(toIcu(mapped));
    if (!result || result->empty() || !conformsTo(*result, StringClass::Freeform)) {
        return std::nullopt;
    }
    return result;
}

}  // namespace parley::precis
