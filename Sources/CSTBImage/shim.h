// Debian's libstb.so already contains the implementations; only the declarations are needed.
#include <stb_image.h>
#include <stb_image_write.h>
// Header-only: a tiny vector font for labels drawn on images (static functions, compiled here).
#include <stb_easy_font.h>
