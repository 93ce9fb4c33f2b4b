// The system zlib (zlib1g-dev), for deflate-compressed PNG images.
#include <zlib.h>
