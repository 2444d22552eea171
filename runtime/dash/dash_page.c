/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The page files (runtime/dash/page/), embedded in the binary as they are
 * with the assembler's .incbin: no build step, nothing fetched at run time.
 * DASH_PAGE_DIR is set by CMake, which also rebuilds this file when a page
 * file changes.
 */
#include <string.h>

#include "dash/dash_int.h"

#ifndef DASH_PAGE_DIR
#error "DASH_PAGE_DIR must name runtime/dash/page (set by CMakeLists.txt)"
#endif

/* sym: the bytes of file, then sym_end */
#define DASH_INCBIN(sym, file)                                                 \
    __asm__(".section .rodata\n"                                               \
            ".balign 16\n"                                                     \
            ".type " #sym ", @object\n" #sym ":\n"                             \
            ".incbin \"" DASH_PAGE_DIR "/" file "\"\n" #sym "_end:\n"          \
            ".byte 0\n"                                                        \
            ".previous\n");                                                    \
    extern const unsigned char sym[], sym##_end[]

DASH_INCBIN(dash_page_index, "index.html");
DASH_INCBIN(dash_page_js, "dash.js");
DASH_INCBIN(dash_page_css, "dash.css");

int dash_page_find(const char *path, dash_file *f)
{
    static const char *const paths[] = {"/index.html", "/dash.js", "/dash.css"};
    static const char *const types[] = {"text/html; charset=utf-8",
                                        "text/javascript; charset=utf-8",
                                        "text/css; charset=utf-8"};
    const unsigned char *start[] = {dash_page_index, dash_page_js,
                                    dash_page_css};
    const unsigned char *end[] = {dash_page_index_end, dash_page_js_end,
                                  dash_page_css_end};
    if (!strcmp(path, "/") || !strcmp(path, "/status"))
        path = "/index.html"; /* /status: where dask users look */
    for (int i = 0; i < 3; i++) {
        if (strcmp(path, paths[i]))
            continue;
        f->path = paths[i];
        f->type = types[i];
        f->data = start[i];
        f->len = (size_t)(end[i] - start[i]);
        return 1;
    }
    return 0;
}
