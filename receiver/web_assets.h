/* The page, its script and its style sheet, embedded at build time from
 * receiver/web/ (embed.cmake writes web_assets.c), so the receiver serves
 * them without files or any resource from elsewhere. */
#ifndef SITX_RECV_WEB_ASSETS_H
#define SITX_RECV_WEB_ASSETS_H

#include <stddef.h>

extern const char web_index_html[];
extern const size_t web_index_html_len;
extern const char web_app_js[];
extern const size_t web_app_js_len;
extern const char web_style_css[];
extern const size_t web_style_css_len;

#endif
