// Test helper: writes tar / tar.gz / tar.zst archives with arbitrary (also hostile) entries using
// libarchive's writer. Thread-safety: one thread.
#pragma once

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace rollgate::testing {

enum class Compression { kNone, kGzip, kZstd };

class ArchiveBuilder {
 public:
  ArchiveBuilder(const std::string& path, Compression compression, const char* gzipLevel = "1")
      : archive_(archive_write_new()) {
    archive_write_set_format_pax_restricted(archive_);
    if (compression == Compression::kGzip) {
      archive_write_add_filter_gzip(archive_);
      archive_write_set_filter_option(archive_, "gzip", "compression-level", gzipLevel);
    } else if (compression == Compression::kZstd) {
      archive_write_add_filter_zstd(archive_);
      archive_write_set_filter_option(archive_, "zstd", "compression-level", "1");
    }
    if (archive_write_open_filename(archive_, path.c_str()) != ARCHIVE_OK) {
      throw std::runtime_error(path + ": " + archive_error_string(archive_));
    }
    entry_ = archive_entry_new();
  }
  ~ArchiveBuilder() {
    close();
    archive_entry_free(entry_);
  }
  ArchiveBuilder(const ArchiveBuilder&) = delete;
  ArchiveBuilder& operator=(const ArchiveBuilder&) = delete;

  ArchiveBuilder& file(const std::string& name, const std::string& content, int mode = 0644) {
    start(name, AE_IFREG, mode);
    archive_entry_set_size(entry_, static_cast<la_int64_t>(content.size()));
    header();
    if (!content.empty()) archive_write_data(archive_, content.data(), content.size());
    return *this;
  }
  // A file of `bytes` zero bytes, written in 1 MiB pieces (a bomb's payload without holding it).
  ArchiveBuilder& zeros(const std::string& name, std::uint64_t bytes) {
    start(name, AE_IFREG, 0644);
    archive_entry_set_size(entry_, static_cast<la_int64_t>(bytes));
    header();
    static const std::string piece(1 << 20, '\0');
    for (std::uint64_t left = bytes; left > 0;) {
      std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(left, piece.size()));
      archive_write_data(archive_, piece.data(), n);
      left -= n;
    }
    return *this;
  }
  ArchiveBuilder& dir(const std::string& name, int mode = 0755) {
    start(name, AE_IFDIR, mode);
    header();
    return *this;
  }
  ArchiveBuilder& symlink(const std::string& name, const std::string& target) {
    start(name, AE_IFLNK, 0777);
    archive_entry_set_symlink(entry_, target.c_str());
    header();
    return *this;
  }
  ArchiveBuilder& hardlink(const std::string& name, const std::string& target) {
    start(name, AE_IFREG, 0644);
    archive_entry_set_hardlink(entry_, target.c_str());
    header();
    return *this;
  }
  ArchiveBuilder& node(const std::string& name, unsigned type) {  // AE_IFCHR, AE_IFBLK, AE_IFIFO
    start(name, type, 0644);
    if (type == AE_IFCHR || type == AE_IFBLK) archive_entry_set_rdev(entry_, makedev(1, 3));
    header();
    return *this;
  }
  void close() {
    if (archive_) {
      archive_write_close(archive_);
      archive_write_free(archive_);
      archive_ = nullptr;
    }
  }

 private:
  void start(const std::string& name, unsigned type, int mode) {
    archive_entry_clear(entry_);
    archive_entry_set_pathname(entry_, name.c_str());
    archive_entry_set_filetype(entry_, type);
    archive_entry_set_perm(entry_, static_cast<mode_t>(mode));
    archive_entry_set_mtime(entry_, 1700000000, 0);
  }
  void header() {
    if (archive_write_header(archive_, entry_) != ARCHIVE_OK) {
      throw std::runtime_error(std::string("archive header: ") + archive_error_string(archive_));
    }
  }
  struct archive* archive_;
  struct archive_entry* entry_;
};

}  // namespace rollgate::testing
