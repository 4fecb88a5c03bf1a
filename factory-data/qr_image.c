/* qr_image.c - label images of the onboarding QR code: SVG and PNG (libpng),
 * each with the dashed manual pairing code printed under the code (see build.h). */
#include <stdlib.h>
#include <string.h>

#include <png.h>
#include <qrencode.h>

#include "factory-data/build.h"
#include "util.h"

#define QUIET 4 /* modules of white around the code */

void mp_manual_dashed(const char *manual, char out[32])
{
    static const int cuts11[] = {4, 7, 11}, cuts21[] = {4, 7, 11, 16, 21};
    size_t n = strlen(manual), o = 0, k = 0;
    const int *cuts = n == 21 ? cuts21 : cuts11;
    size_t nc = n == 21 ? 5 : 3;
    if (n != 11 && n != 21) {
        snprintf(out, 32, "%s", manual);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (k < nc && (int)i == cuts[k]) {
            out[o++] = '-';
            k++;
        }
        out[o++] = manual[i];
    }
    out[o] = 0;
}

static QRcode *encode(const char *udid, const char *qr)
{
    QRcode *c = QRcode_encodeString(qr, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    if (c == NULL) mp_err(MP_ERR_GENERAL, "%s: cannot encode the QR code", udid);
    return c;
}

static int qr_svg(const char *udid, const char *qr, const char *manual_dashed, uint8_t **out, size_t *len)
{
    QRcode *c = encode(udid, qr);
    if (c == NULL) return MP_ERR_GENERAL;
    int size = c->width + 2 * QUIET, text = 4, px = 6;
    size_t cap = (size_t)c->width * (size_t)c->width * 64 + 1024, o = 0;
    char *svg = malloc(cap);
    if (svg == NULL) {
        QRcode_free(c);
        return mp_err(MP_ERR_GENERAL, "out of memory");
    }
    /* pixel coordinates (a module is px units): renderers without viewBox scaling read it too */
    int W = size * px, Hh = (size + text) * px;
    o += (size_t)snprintf(svg + o, cap - o,
                          "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" shape-rendering=\"crispEdges\">"
                          "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#ffffff\"/><path fill=\"#000000\" d=\"",
                          W, Hh, W, Hh, W, Hh);
    for (int y = 0; y < c->width; y++) {
        for (int x = 0; x < c->width; x++) {
            if (c->data[y * c->width + x] & 1) {
                o += (size_t)snprintf(svg + o, cap - o, "M%d %dH%dV%dH%dZ", (x + QUIET) * px, (y + QUIET) * px, (x + QUIET + 1) * px,
                                      (y + QUIET + 1) * px, (x + QUIET) * px);
            }
        }
    }
    o += (size_t)snprintf(svg + o, cap - o,
                          "\"/><text x=\"%d\" y=\"%d\" font-family=\"monospace\" font-size=\"%d\" text-anchor=\"middle\" fill=\"#000000\">%s</text></svg>\n",
                          W / 2, (size + 2) * px, 2 * px + px / 2, manual_dashed);
    QRcode_free(c);
    *out = (uint8_t *)svg;
    *len = o;
    return MP_OK;
}

/* 5x7 glyphs of 0-9 and '-', one byte a row, bit 4 the leftmost column. */
static const uint8_t font[11][7] = {
    {0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E}, {0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E},
    {0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F}, {0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E},
    {0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02}, {0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E},
    {0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E}, {0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08},
    {0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E}, {0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C},
    {0x00, 0x00, 0x00, 0x0E, 0x00, 0x00, 0x00},
};

typedef struct membuf {
    uint8_t *p;
    size_t len, cap;
    int oom;
} membuf;

static void png_mem_write(png_structp png, png_bytep data, png_size_t n)
{
    membuf *m = png_get_io_ptr(png);
    if (m->oom) return;
    if (m->len + n > m->cap) {
        size_t nc = m->cap ? 2 * m->cap : 4096;
        while (nc < m->len + n) nc *= 2;
        uint8_t *np = realloc(m->p, nc);
        if (np == NULL) {
            m->oom = 1;
            return;
        }
        m->p = np;
        m->cap = nc;
    }
    memcpy(m->p + m->len, data, n);
    m->len += n;
}

static void png_mem_flush(png_structp png)
{
    (void)png;
}

/* The 8-bit grey image: the code at px pixels a module, the text under it. */
static int render(const QRcode *c, const char *text, int px, uint8_t **img, int *w, int *h)
{
    int size = (c->width + 2 * QUIET) * px, n = (int)strlen(text);
    int s = n > 0 ? (size - 2 * px) / (6 * n - 1) : 1;
    if (s > px) s = px;
    if (s < 1) s = 1;
    int th = 7 * s + 2 * px;
    *w = size;
    *h = size + th;
    uint8_t *p = malloc((size_t)*w * (size_t)*h);
    if (p == NULL) return mp_err(MP_ERR_GENERAL, "out of memory");
    memset(p, 255, (size_t)*w * (size_t)*h);
    for (int y = 0; y < c->width; y++) {
        for (int x = 0; x < c->width; x++) {
            if (!(c->data[y * c->width + x] & 1)) continue;
            for (int dy = 0; dy < px; dy++) {
                memset(p + (size_t)((y + QUIET) * px + dy) * (size_t)*w + (size_t)((x + QUIET) * px), 0, (size_t)px);
            }
        }
    }
    int x0 = (size - (6 * n - 1) * s) / 2, y0 = size + px / 2;
    if (x0 < 0) x0 = 0;
    for (int i = 0; i < n; i++) {
        int g = text[i] == '-' ? 10 : text[i] - '0';
        if (g < 0 || g > 10) continue;
        for (int r = 0; r < 7; r++) {
            for (int col = 0; col < 5; col++) {
                if (!(font[g][r] & (0x10 >> col))) continue;
                for (int dy = 0; dy < s; dy++) {
                    int yy = y0 + r * s + dy, xx = x0 + (6 * i + col) * s;
                    if (yy < *h && xx + s <= *w) memset(p + (size_t)yy * (size_t)*w + (size_t)xx, 0, (size_t)s);
                }
            }
        }
    }
    *img = p;
    return MP_OK;
}

static int png_encode(const uint8_t *img, int w, int h, membuf *m, const char *udid)
{
    png_bytep *rows = malloc((size_t)h * sizeof(*rows));
    png_structp png = rows ? png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL) : NULL;
    png_infop info = png ? png_create_info_struct(png) : NULL;
    volatile int ok = 0;
    if (info != NULL && !setjmp(png_jmpbuf(png))) {
        for (int y = 0; y < h; y++) rows[y] = (png_bytep)(img + (size_t)y * (size_t)w);
        png_set_write_fn(png, m, png_mem_write, png_mem_flush);
        png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
                     PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
        png_write_info(png, info);
        png_write_image(png, rows);
        png_write_end(png, NULL);
        ok = !m->oom;
    }
    if (png != NULL) png_destroy_write_struct(&png, info ? &info : NULL);
    free(rows);
    return ok ? MP_OK : mp_err(MP_ERR_GENERAL, "%s: cannot encode the PNG image", udid);
}

static int qr_png(const char *udid, const char *qr, const char *manual_dashed, int module_px, uint8_t **out, size_t *len)
{
    uint8_t *img = NULL;
    int w = 0, h = 0, rc;
    membuf m = {0};
    QRcode *c = encode(udid, qr);
    if (c == NULL) return MP_ERR_GENERAL;
    rc = render(c, manual_dashed, module_px > 0 ? module_px : 6, &img, &w, &h);
    QRcode_free(c);
    if (rc != MP_OK) return rc;
    rc = png_encode(img, w, h, &m, udid);
    mp_free_secret(img, (size_t)w * (size_t)h);
    if (rc != MP_OK) {
        mp_free_secret(m.p, m.cap);
        return rc;
    }
    *out = m.p;
    *len = m.len;
    return MP_OK;
}

int mp_fd_qr_image(int kind, const char *udid, const char *qr, const char *manual_dashed, int module_px, uint8_t **out,
                   size_t *len)
{
    *out = NULL;
    *len = 0;
    return kind == MP_QR_PNG ? qr_png(udid, qr, manual_dashed, module_px, out, len)
                             : qr_svg(udid, qr, manual_dashed, out, len);
}
