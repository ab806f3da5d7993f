// ensureSelfSignedCertificate: a development certificate so that `make run` offers TLS at once.
#include <fcntl.h>
#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string_view>

#include "openssl_util.h"
#include "parley/base/random.h"
#include "parley/net/connection.h"

namespace parley::net {

namespace {

namespace fs = std::filesystem;

constexpr long kValiditySeconds = 365L * 24 * 60 * 60;

// A host name of letters, digits, '-', '.' and '_' only: it goes into an OpenSSL extension string,
// where ',' or ':' would add entries.
bool isPlainHostName(std::string_view domain) {
    if (domain.empty() || domain.size() > 253) {
        return false;
    }
    for (char c : domain) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                  c == '.' || c == '_';
        if (!ok) {
            return false;
        }
    }
    return true;
}

bool addExtension(X509* certificate, int nid, const std::string& value) {
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, certificate, certificate, nullptr, nullptr, 0);
    detail::X509ExtensionPtr extension(X509V3_EXT_nconf_nid(nullptr, &ctx, nid, value.c_str()));
    return extension && X509_add_ext(certificate, extension.get(), -1) == 1;
}

Result<void, std::string> makeCertificate(const std::string& domain, std::string& certificatePem,
                                          std::string& keyPem) {
    auto fail = [](const char* what) { return std::string(what) + ": " + detail::takeOpenSslError(); };
    ERR_clear_error();
    detail::EvpPkeyPtr key(EVP_EC_gen("P-256"));
    if (!key) {
        return fail("cannot generate an ECDSA P-256 key");
    }
    detail::X509Ptr certificate(X509_new());
    if (!certificate || X509_set_version(certificate.get(), X509_VERSION_3) != 1) {
        return fail("cannot create a certificate");
    }
    // RFC 5280 §4.1.2.2: a positive serial of at most 20 octets; 16 random ones, top bit clear.
    std::string serialBytes = randomBytes(16);
    serialBytes[0] = static_cast<char>((static_cast<unsigned char>(serialBytes[0]) & 0x7f) | 0x01);
    detail::BignumPtr serial(BN_bin2bn(reinterpret_cast<const unsigned char*>(serialBytes.data()),
                                       static_cast<int>(serialBytes.size()), nullptr));
    if (!serial || BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(certificate.get())) == nullptr) {
        return fail("cannot set the certificate serial number");
    }
    if (X509_gmtime_adj(X509_getm_notBefore(certificate.get()), 0) == nullptr ||
        X509_gmtime_adj(X509_getm_notAfter(certificate.get()), kValiditySeconds) == nullptr) {
        return fail("cannot set the certificate validity");
    }
    X509_NAME* name = X509_get_subject_name(certificate.get());
    // The CN is limited to 64 characters (RFC 5280 ub-common-name); the subjectAltName is what counts.
    if (domain.size() <= 64 &&
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>(domain.data()),
                                   static_cast<int>(domain.size()), -1, 0) != 1) {
        return fail("cannot set the certificate subject");
    }
    if (X509_set_issuer_name(certificate.get(), name) != 1 ||
        X509_set_pubkey(certificate.get(), key.get()) != 1) {
        return fail("cannot set the certificate issuer or key");
    }
    std::string altNames = "DNS:" + domain;
    if (domain == "localhost") {
        altNames += ",IP:127.0.0.1,IP:::1";
    }
    if (!addExtension(certificate.get(), NID_subject_alt_name, altNames) ||
        !addExtension(certificate.get(), NID_basic_constraints, "critical,CA:FALSE") ||
        !addExtension(certificate.get(), NID_key_usage, "critical,digitalSignature") ||
        !addExtension(certificate.get(), NID_ext_key_usage, "serverAuth") ||
        !addExtension(certificate.get(), NID_subject_key_identifier, "hash")) {
        return fail("cannot add the certificate extensions");
    }
    if (X509_sign(certificate.get(), key.get(), EVP_sha256()) == 0) {
        return fail("cannot sign the certificate");
    }

    detail::BioPtr certificateBio(BIO_new(BIO_s_mem()));
    detail::BioPtr keyBio(BIO_new(BIO_s_secmem()));
    if (!certificateBio || !keyBio || PEM_write_bio_X509(certificateBio.get(), certificate.get()) != 1 ||
        PEM_write_bio_PrivateKey(keyBio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
        return fail("cannot encode the certificate and key as PEM");
    }
    char* data = nullptr;
    long size = BIO_get_mem_data(certificateBio.get(), &data);
    certificatePem.assign(data, static_cast<std::size_t>(size));
    size = BIO_get_mem_data(keyBio.get(), &data);
    keyPem.assign(data, static_cast<std::size_t>(size));
    return {};
}

// Writes `data` to a temporary file in the same folder, then renames it over `path`, so that a crash
// never leaves a truncated file and the key is never readable by others, not even for a moment.
Result<void, std::string> writeFileAtomically(const std::string& path, std::string_view data, mode_t mode,
                                              const char* what) {
    std::string temporary = path + ".tmp-" + randomId(8);
    int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) {
        return std::string("cannot create ") + what + " " + temporary + ": " + std::strerror(errno) +
               "; check that the folder is writable by the server's user";
    }
    auto failAndRemove = [&](const char* step) {
        std::string message =
            std::string("cannot ") + step + " " + what + " " + temporary + ": " + std::strerror(errno);
        ::close(fd);
        ::unlink(temporary.c_str());
        return message + "; check the free space and the folder's permissions";
    };
    // open(2) applies the umask; the modes we promise must hold whatever it is.
    if (::fchmod(fd, mode) != 0) {
        return failAndRemove("set the mode of");
    }
    std::size_t done = 0;
    while (done < data.size()) {
        ssize_t n = ::write(fd, data.data() + done, data.size() - done);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return failAndRemove("write");
        }
        done += static_cast<std::size_t>(n);
    }
    if (::fsync(fd) != 0) {
        return failAndRemove("flush");
    }
    ::close(fd);
    if (::rename(temporary.c_str(), path.c_str()) != 0) {
        std::string message =
            std::string("cannot rename ") + temporary + " to " + path + ": " + std::strerror(errno);
        ::unlink(temporary.c_str());
        return message;
    }
    return {};
}

Result<void, std::string> createParentFolder(const std::string& file) {
    fs::path parent = fs::path(file).parent_path();
    if (parent.empty()) {
        return {};
    }
    std::error_code ec;
    fs::create_directories(parent, ec);
    if (ec) {
        return "cannot create the folder " + parent.string() + " for " + file + ": " + ec.message() +
               "; create it or choose another path";
    }
    return {};
}

}  // namespace

Result<bool, std::string> ensureSelfSignedCertificate(const std::string& certificateFile,
                                                      const std::string& privateKeyFile,
                                                      const std::string& domain) {
    std::error_code ec;
    bool haveCertificate = fs::exists(certificateFile, ec);
    bool haveKey = fs::exists(privateKeyFile, ec);
    if (haveCertificate && haveKey) {
        return false;
    }
    if (haveCertificate) {
        return "the certificate " + certificateFile + " exists but its private key " + privateKeyFile +
               " is missing; restore the key, or delete " + certificateFile + " to have a new pair made";
    }
    if (haveKey) {
        return "the private key " + privateKeyFile + " exists but its certificate " + certificateFile +
               " is missing; restore the certificate, or delete " + privateKeyFile +
               " to have a new pair made";
    }
    if (!isPlainHostName(domain)) {
        return "cannot make a self-signed certificate for \"" + domain +
               "\": not a plain host name (letters, digits, '-', '.', '_'); fix the domain in the "
               "configuration";
    }
    std::string certificatePem;
    std::string keyPem;
    if (auto made = makeCertificate(domain, certificatePem, keyPem); !made) {
        return "cannot make a self-signed certificate for " + domain + ": " + made.error();
    }
    for (const std::string* file : {&privateKeyFile, &certificateFile}) {
        if (auto created = createParentFolder(*file); !created) {
            return created.error();
        }
    }
    // The key first: if the certificate then fails, remove the key again, so that the next start does
    // not find a lone key.
    if (auto written = writeFileAtomically(privateKeyFile, keyPem, 0600, "private key"); !written) {
        OPENSSL_cleanse(keyPem.data(), keyPem.size());
        return written.error();
    }
    OPENSSL_cleanse(keyPem.data(), keyPem.size());
    if (auto written = writeFileAtomically(certificateFile, certificatePem, 0644, "certificate"); !written) {
        ::unlink(privateKeyFile.c_str());
        return written.error();
    }
    return true;
}

}  // namespace parley::net
