/*
 * The calls rampart makes into Intel's ISA-L (libisal, igzip): level-1 gzip
 * bodies without header, of a whole buffer (stateless) or fed piece by piece
 * (a stream). Compiled against the system's <isa-l/igzip_lib.h> by build.rs,
 * so struct isal_zstream is laid out by the header of the library we link,
 * never by hand.
 */
#include <stddef.h>
#include <stdint.h>
#include <isa-l/igzip_lib.h>

/* Bytes the caller allocates (8-aligned) for one stream state. */
size_t rampart_isal_stream_size(void) { return sizeof(struct isal_zstream); }

/* Bytes of the level-1 work buffer (hash table and token buffer). */
size_t rampart_isal_level_buf_size(void) { return ISAL_DEF_LVL1_LARGE; }

/*
 * Raw deflate of in[0..in_len) at level 1 followed by the gzip trailer
 * (CRC-32, ISIZE): the caller writes the 10-byte header itself. Returns the
 * bytes written to out, or 0 when out is too small or igzip refuses.
 */
static void level1_gzip(struct isal_zstream *s, uint8_t *level_buf, uint32_t level_buf_size) {
    s->level = 1;
    s->level_buf = level_buf;
    s->level_buf_size = level_buf_size;
    s->gzip_flag = IGZIP_GZIP_NO_HDR;
    s->flush = NO_FLUSH;
}

size_t rampart_isal_gzip_body(void *stream, uint8_t *level_buf, uint32_t level_buf_size,
                              const uint8_t *in, uint32_t in_len, uint8_t *out,
                              uint32_t out_cap) {
    struct isal_zstream *s = stream;
    isal_deflate_stateless_init(s);
    level1_gzip(s, level_buf, level_buf_size);
    s->end_of_stream = 1;
    s->next_in = (uint8_t *)in;
    s->avail_in = in_len;
    s->next_out = out;
    s->avail_out = out_cap;
    if (isal_deflate_stateless(s) != COMP_OK || s->avail_in != 0)
        return 0;
    return s->total_out;
}

/* Bytes of the level-1 work buffer of a stream (smaller than the whole-body
 * one: a stream's state lives as long as its response). */
size_t rampart_isal_stream_level_buf_size(void) { return ISAL_DEF_LVL1_MEDIUM; }

/* Starts (or restarts) a level-1 gzip stream without header. */
void rampart_isal_stream_init(void *stream, uint8_t *level_buf, uint32_t level_buf_size) {
    struct isal_zstream *s = stream;
    isal_deflate_init(s);
    level1_gzip(s, level_buf, level_buf_size);
    s->end_of_stream = 0;
}

/*
 * One step: compresses from in[0..in_len) into out[0..out_cap); `end` asks
 * for the end of the stream (the trailer is written by igzip), `sync` for a
 * sync flush (byte-aligned, everything so far out; complete once a call
 * leaves room in out). Reports the bytes used and written, and whether the
 * stream has ended. Returns 0, or igzip's error code.
 */
int rampart_isal_stream_deflate(void *stream, const uint8_t *in, uint32_t in_len, uint8_t *out,
                                uint32_t out_cap, int end, int sync, uint32_t *used,
                                uint32_t *written, int *done) {
    struct isal_zstream *s = stream;
    s->flush = sync ? SYNC_FLUSH : NO_FLUSH;
    s->next_in = (uint8_t *)in;
    s->avail_in = in_len;
    s->next_out = out;
    s->avail_out = out_cap;
    s->end_of_stream = end ? 1 : 0;
    int r = isal_deflate(s);
    *used = in_len - s->avail_in;
    *written = out_cap - s->avail_out;
    *done = s->internal_state.state == ZSTATE_END;
    return r;
}
