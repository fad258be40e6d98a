// Files: read-only mappings, whole-file reads, atomic writes (temporary file + fsync + rename),
// folder helpers. The only place with POSIX file-system calls.
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../internal.h"

cf_status cf__file_map(cf_ctx *ctx, const char *path, cf_file *f) {
    memset(f, 0, sizeof *f);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return CF_ERR(ctx, CF_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return CF_ERR(ctx, CF_ERR_IO, "%s: not a regular file", path);
    }
    f->size = (size_t)st.st_size;
    if (f->size == 0) {
        close(fd);
        f->data = NULL;
        return CF_OK;
    }
    void *p = mmap(NULL, f->size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p != MAP_FAILED) {
        close(fd);
        f->data = p;
        f->mapped = 1;
        return CF_OK;
    }
    // Fall back to reading (e.g. a pipe-backed or special file system).
    f->data = cf__malloc(f->size);
    if (!f->data) {
        close(fd);
        return CF_NOMEM(ctx);
    }
    size_t got = 0;
    while (got < f->size) {
        ssize_t r = read(fd, f->data + got, f->size - got);
        if (r <= 0) {
            close(fd);
            cf__free(f->data);
            f->data = NULL;
            return CF_ERR(ctx, CF_ERR_IO, "%s: read failed", path);
        }
        got += (size_t)r;
    }
    close(fd);
    return CF_OK;
}

void cf__file_unmap(cf_file *f) {
    if (!f || !f->data) return;
    if (f->mapped) munmap(f->data, f->size);
    else cf__free(f->data);
    memset(f, 0, sizeof *f);
}

cf_status cf__file_read(cf_ctx *ctx, const char *path, size_t max_size, char **out,
                        size_t *size) {
    *out = NULL;
    FILE *fp = fopen(path, "rb");
    if (!fp) return CF_ERR(ctx, CF_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 4096, len = 0;
    char *buf = cf__malloc(cap + 1);
    if (!buf) {
        fclose(fp);
        return CF_NOMEM(ctx);
    }
    for (;;) {
        if (len == cap) {
            if (cap >= max_size) {
                if (fgetc(fp) == EOF && !ferror(fp)) break;  // exactly max_size bytes: fine
                fclose(fp);
                cf__free(buf);
                return CF_ERR(ctx, CF_ERR_FORMAT, "%s: larger than the %zu-byte limit", path,
                              max_size);
            }
            size_t ncap = cap * 2 > max_size ? max_size : cap * 2;
            char *nb = cf__realloc(buf, ncap + 1);
            if (!nb) {
                fclose(fp);
                cf__free(buf);
                return CF_NOMEM(ctx);
            }
            buf = nb;
            cap = ncap;
        }
        size_t r = fread(buf + len, 1, cap - len, fp);
        if (r == 0) break;
        len += r;
    }
    int err = ferror(fp);
    fclose(fp);
    if (err) {
        cf__free(buf);
        return CF_ERR(ctx, CF_ERR_IO, "%s: read failed", path);
    }
    buf[len] = 0;
    *out = buf;
    if (size) *size = len;
    return CF_OK;
}

void cf__wbuf_put(cf_wbuf *b, const void *p, size_t n) {
    if (b->oom) return;
    if (b->len + n > b->cap) {
        size_t ncap = b->cap ? b->cap : 256;
        while (ncap < b->len + n) ncap *= 2;
        uint8_t *nd = cf__realloc(b->data, ncap);
        if (!nd) {
            b->oom = true;
            return;
        }
        b->data = nd;
        b->cap = ncap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

void cf__wbuf_printf(cf_wbuf *b, const char *fmt, ...) {
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof tmp) {
        cf__wbuf_put(b, tmp, (size_t)n);
        return;
    }
    char *big = cf__malloc((size_t)n + 1);
    if (!big) {
        b->oom = true;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    cf__wbuf_put(b, big, (size_t)n);
    cf__free(big);
}

void cf__wbuf_free(cf_wbuf *b) {
    cf__free(b->data);
    memset(b, 0, sizeof *b);
}

static void fsync_dir_of(const char *path) {
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (!slash) snprintf(dir, sizeof dir, ".");
    else snprintf(dir, sizeof dir, "%.*s", (int)(slash - path + (slash == path)), path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

cf_status cf__write_atomic(cf_ctx *ctx, const char *path, const void *const *chunks,
                           const size_t *lens, int n_chunks) {
    char tmp[4200];
    int n = snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    if (n < 0 || (size_t)n >= sizeof tmp)
        return CF_ERR(ctx, CF_ERR_INVALID_ARG, "%s: path too long", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return CF_ERR(ctx, CF_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
    for (int i = 0; i < n_chunks; i++) {
        const uint8_t *p = chunks[i];
        size_t left = lens[i];
        while (left) {
            size_t part = left > (1u << 30) ? (1u << 30) : left;
            ssize_t w = write(fd, p, part);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) {
                int e = errno;
                close(fd);
                unlink(tmp);
                return CF_ERR(ctx, CF_ERR_IO, "%s: write failed: %s", tmp, strerror(e));
            }
            p += w;
            left -= (size_t)w;
        }
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        unlink(tmp);
        return CF_ERR(ctx, CF_ERR_IO, "%s: fsync/close failed: %s", tmp, strerror(errno));
    }
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return CF_ERR(ctx, CF_ERR_IO, "%s: rename failed: %s", path, strerror(e));
    }
    fsync_dir_of(path);
    return CF_OK;
}

bool cf__is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

bool cf__file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

cf_status cf__mkdir_p(cf_ctx *ctx, const char *path) {
    char buf[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf) return CF_ERR(ctx, CF_ERR_INVALID_ARG, "bad folder path");
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] == '/' || buf[i] == 0) {
            char c = buf[i];
            buf[i] = 0;
            if (mkdir(buf, 0755) != 0 && errno != EEXIST)
                return CF_ERR(ctx, CF_ERR_IO, "%s: cannot create folder: %s", buf,
                              strerror(errno));
            buf[i] = c;
        }
    }
    if (!cf__is_dir(path)) return CF_ERR(ctx, CF_ERR_IO, "%s: not a folder", path);
    return CF_OK;
}

char *cf__path_join(const char *dir, const char *name) {
    size_t a = strlen(dir), b = strlen(name);
    char *s = cf__malloc(a + b + 2);
    if (!s) return NULL;
    memcpy(s, dir, a);
    size_t k = a;
    if (a && dir[a - 1] != '/') s[k++] = '/';
    memcpy(s + k, name, b + 1);
    return s;
}
