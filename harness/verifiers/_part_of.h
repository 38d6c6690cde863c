/* index.py's part_of in C, for the loops of _typed_loop.c and _split_loop.c: the CRC-32 of a
 * key's UTF-8 text (zlib's crc32, table-driven, so no zlib headers are needed to build),
 * modulo the count of parts. */

#include <stdint.h>

static uint32_t crc_table[256];

static void crc_init(void)
{
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = n;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[n] = c;
    }
}

static uint32_t crc32_of(const unsigned char *data, Py_ssize_t size)
{
    uint32_t c = 0xFFFFFFFFu;
    for (Py_ssize_t n = 0; n < size; n++)
        c = crc_table[(c ^ data[n]) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

/* The part of a str key among `count` (> 0); -1, with no error set, for a key this cannot
 * encode as part_of does (not a str, or holding a lone surrogate): the caller asks part_of. */
static long key_part(PyObject *key, long count)
{
    Py_ssize_t size;
    if (!PyUnicode_CheckExact(key))
        return -1;
    const char *text = PyUnicode_AsUTF8AndSize(key, &size);
    if (text == NULL) {
        PyErr_Clear();
        return -1;
    }
    return (long)(crc32_of((const unsigned char *)text, size) % (uint32_t)count);
}
