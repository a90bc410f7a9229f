// Debian's libstb.so already contains the implementations; only the declarations are needed.
#include <stb_image.h>
#include <stb_image_write.h>
