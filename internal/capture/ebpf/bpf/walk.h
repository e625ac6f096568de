/* SPDX-License-Identifier: GPL-2.0 */
/* Header-only copying: the walker follows the Kafka frames of one direction
 * of a connection, byte by byte as the syscalls move them, and tells the
 * copy loop which bytes to copy and which to skip. It skips only the records
 * of v2 record batches inside Produce requests (v3-13) and Fetch responses
 * (v4-18), after each batch's 61-byte header: kscope counts records and
 * bytes from those headers and never reads keys or values. Everything else
 * is copied: other requests and responses, legacy message sets, a batch
 * whose length does not fit its records field, and any frame the walker
 * does not understand from its first byte on (it then copies the frame to
 * its end and reads the next size prefix).
 *
 * Skipped bytes are reported with their exact count (event_hdr.skip, or a
 * segment's: struct segment in capture.c), so the stream keeps its
 * positions: user space reads them as zeros and counts them apart from
 * lost bytes. walk.go in the package is the same state machine in Go (its
 * user-space twin), fuzzed against the decoder. */

#define MAX_FRAME (100 << 20) /* larger size prefixes stop the walk */
#define WALK_STEPS (1 << 17)  /* walker runs per syscall; the rest is lost */
#define MAX_FIELD_STEPS 64    /* fields and decisions between two runs, per loop */
#define MAX_FETCH_VERS 16384  /* Fetch requests awaiting their response */
/* Frames up to this size are copied whole: walking one costs more than
 * copying it. */
#define SMALL_FRAME 2048

/* Keep in step with walk.go. */
enum walk_state {
	W_OFF = 0,   /* not walking: every byte is copied */
	W_SIZE,      /* frame size prefix (int32) */
	W_HEAD,      /* request: api key, version, correlation id; response: correlation id */
	W_COPY,      /* copy run bytes, then go to next */
	W_SKIP,      /* skip run bytes, then go to next */
	W_END,       /* the frame should end here */
	W_TAGS,      /* tagged fields: count (uvarint) */
	W_TAG,       /* a tag (uvarint), or ret when none is left */
	W_TAGLEN,    /* its length (uvarint), then its data is copied */
	P_CLIENT,    /* request header client id length (int16) */
	P_TXN,       /* Produce transactional id length */
	P_TOPICS,    /* topic count */
	P_TOPIC,     /* next topic: name length, or the end of topics */
	P_PARTS,     /* partition count */
	P_PART,      /* next partition, or the end of the topic */
	P_RECS,      /* records length */
	P_PART_END,  /* after a partition's records */
	R_BATCH,     /* next batch in a records field */
	R_LEN,       /* base offset (int64) and batch length (int32) */
	R_MAGIC,     /* partition leader epoch (int32) and magic (int8) */
	R_BODY,      /* skip a batch's records */
	F_TOPICS,    /* Fetch response topic count */
	F_TOPIC,
	F_PARTS,
	F_PART,
	F_ABORTED,   /* aborted transactions count */
	F_ABORT,     /* next aborted transaction (flexible versions) */
	F_PREF,      /* preferred read replica */
	F_RECS,
	F_PART_END,
	W_NAME,      /* topic name length; then parts */
	F_FIXED,     /* Fetch response fields before its topics */
};

struct walk {
	__u64 acc;   /* field being read, big-endian */
	__u32 left;  /* bytes of the frame after its size prefix not consumed */
	__u32 run;   /* bytes left of a W_COPY or W_SKIP run */
	__u32 recs;  /* bytes left of the records field */
	__u32 blen;  /* batch length of the batch being walked */
	__u32 topics;
	__u32 parts;
	__u32 items; /* tagged fields left */
	__u32 aborted; /* aborted transactions left */
	__u8 state;
	__u8 next;   /* after W_COPY, W_SKIP */
	__u8 ret;    /* after tagged fields */
	__u8 need;   /* bytes of a fixed field still to read; 0: none begun */
	__u8 shift;  /* bits of a uvarint read so far */
	__u8 ver;
	__u8 api;    /* 0: Produce request, 1: Fetch response */
	__u8 req;    /* this direction carries requests */
};

/* A frame boundary user space found in a connection the kernel joined in
 * mid-stream (it follows frames from their first byte only): the byte
 * offset in the direction where a frame starts. The kernel starts walking
 * when a syscall starts there, and marks the hint taken. */
#define MAX_HINTS 4096

struct hint_key {
	__u64 conn_id;
	__u32 dir;
	__u32 _pad;
};

struct hint {
	__u64 offset;
	__u8 req;   /* the direction carries requests */
	__u8 taken; /* set by the kernel */
	__u8 _pad[6];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MAX_HINTS);
	__type(key, struct hint_key);
	__type(value, struct hint);
} hints SEC(".maps");

struct fetch_key {
	__u64 conn_id;
	__s32 corr;
	__u32 _pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MAX_FETCH_VERS);
	__type(key, struct fetch_key);
	__type(value, __u8);
} fetch_vers SEC(".maps");

static __always_inline bool w_flex(struct walk *w)
{
	return w->api == 0 ? w->ver >= 9 : w->ver >= 12;
}

/* w_field returns the size of the fixed field state s reads, -1 for a
 * uvarint, 0 when it reads nothing (a decision on what was read). */
static __always_inline int w_field(struct walk *w)
{
	bool flex = w_flex(w);
	switch (w->state) {
	case W_SIZE:
		return 4;
	case W_HEAD:
		return w->req ? 8 : 4;
	case W_TAGS:
	case W_TAGLEN:
		return -1;
	case W_TAG:
		return w->items ? -1 : 0;
	case P_CLIENT:
		return 2;
	case P_TXN:
	case W_NAME:
		return flex ? -1 : 2;
	case P_TOPICS:
	case P_PARTS:
	case P_RECS:
	case F_TOPICS:
	case F_PARTS:
	case F_ABORTED:
	case F_RECS:
		return flex ? -1 : 4;
	case R_LEN:
		return 12;
	case R_MAGIC:
		return 5;
	}
	return 0;
}

/* w_copy copies n bytes of the frame, then goes to next; a run longer
 * than what is left of the frame means the walker misread it: the frame
 * is copied to its end. */
static __always_inline void w_copy(struct walk *w, __u64 n, __u8 next)
{
	if (n > w->left) {
		w->state = W_COPY;
		w->run = w->left;
		w->next = W_SIZE;
		return;
	}
	w->state = W_COPY;
	w->run = n;
	w->next = next;
}

static __always_inline void w_skip(struct walk *w, __u64 n, __u8 next)
{
	if (n > w->left) {
		w_copy(w, n, W_SIZE);
		return;
	}
	w->state = W_SKIP;
	w->run = n;
	w->next = next;
}

/* w_rest copies the rest of the frame. */
static __always_inline void w_rest(struct walk *w)
{
	w_copy(w, w->left, W_SIZE);
}

static __always_inline void w_tags(struct walk *w, __u8 ret)
{
	w->state = W_TAGS;
	w->ret = ret;
}

/* w_count turns an array count as read into entries: flexible versions
 * send count+1 (0: null), others an int32 (-1: null). */
static __always_inline __u32 w_count(struct walk *w, __u64 v)
{
	if (w_flex(w))
		return v ? v - 1 : 0;
	__s32 n = (__s32)v;
	return n > 0 ? n : 0;
}

/* w_len is a string's or bytes' length as read, null as 0. */
static __always_inline __u64 w_len(struct walk *w, __u64 v, bool short_len)
{
	if (w_flex(w))
		return v ? v - 1 : 0;
	if (short_len) {
		__s16 n = (__s16)v;
		return n > 0 ? n : 0;
	}
	__s32 n = (__s32)v;
	return n > 0 ? n : 0;
}

static __always_inline void w_batch(struct walk *w, __u8 ret)
{
	w->ret = ret;
	w->state = R_BATCH;
}

/* w_decide moves the walker on once the field of its state was read (v),
 * or at once for states that read nothing. */
static __always_inline void w_decide(struct walk *w, __u64 v, __u64 conn_id)
{
	bool flex = w_flex(w);
	switch (w->state) {
	case W_SIZE: {
		__s32 size = (__s32)v;
		if (size < 4 || size > MAX_FRAME) {
			w->state = W_OFF;
			return;
		}
		w->left = size;
		w->state = W_HEAD;
		return;
	}
	case W_HEAD:
		if (w->req) {
			__s16 api = (__s16)(v >> 48);
			__s16 ver = (__s16)(v >> 32);
			if (api == 1 && ver >= 0 && ver <= 127) {
				struct fetch_key k = {.conn_id = conn_id, .corr = (__s32)v};
				__u8 ver8 = ver;
				bpf_map_update_elem(&fetch_vers, &k, &ver8, BPF_ANY);
			}
			if (api == 0 && ver >= 3 && ver <= 13 && w->left > SMALL_FRAME) {
				w->api = 0;
				w->ver = ver;
				w->state = P_CLIENT;
				return;
			}
			w_rest(w);
			return;
		} else {
			struct fetch_key k = {.conn_id = conn_id, .corr = (__s32)v};
			__u8 *ver = bpf_map_lookup_elem(&fetch_vers, &k);
			if (!ver) {
				w_rest(w);
				return;
			}
			__u8 v8 = *ver;
			bpf_map_delete_elem(&fetch_vers, &k);
			if (v8 < 4 || v8 > 18 || w->left <= SMALL_FRAME) {
				w_rest(w);
				return;
			}
			w->api = 1;
			w->ver = v8;
			if (w_flex(w))
				w_tags(w, F_FIXED);
			else
				w->state = F_FIXED;
			return;
		}
	case W_END:
		if (w->left)
			w_rest(w);
		else
			w->state = W_SIZE;
		return;
	case W_TAGS:
		w->items = v;
		w->state = W_TAG;
		return;
	case W_TAG:
		if (w->items == 0)
			w->state = w->ret;
		else
			w->state = W_TAGLEN;
		return;
	case W_TAGLEN:
		w->items--;
		w_copy(w, v, W_TAG);
		return;
	case P_CLIENT: {
		__s16 n = (__s16)v;
		__u64 len = n > 0 ? n : 0;
		if (flex) {
			w_copy(w, len, W_TAGS);
			w->ret = P_TXN;
			return;
		}
		w_copy(w, len, P_TXN);
		return;
	}
	case P_TXN:
		/* transactional_id, then acks (int16) and timeout_ms (int32) */
		w_copy(w, w_len(w, v, true) + 6, P_TOPICS);
		return;
	case P_TOPICS:
		w->topics = w_count(w, v);
		w->state = P_TOPIC;
		return;
	case P_TOPIC:
		if (w->topics == 0) {
			if (flex)
				w_tags(w, W_END);
			else
				w->state = W_END;
			return;
		}
		w->topics--;
		if (w->ver >= 13) {
			w_copy(w, 16, P_PARTS); /* topic id */
			return;
		}
		w->state = W_NAME;
		return;
	case W_NAME:
		w_copy(w, w_len(w, v, true), w->api == 0 ? P_PARTS : F_PARTS);
		return;
	case P_PARTS:
		w->parts = w_count(w, v);
		w->state = P_PART;
		return;
	case P_PART:
		if (w->parts == 0) {
			if (flex)
				w_tags(w, P_TOPIC);
			else
				w->state = P_TOPIC;
			return;
		}
		w->parts--;
		w_copy(w, 4, P_RECS); /* partition index */
		return;
	case P_RECS:
	case F_RECS: {
		__u64 n = w_len(w, v, false);
		if (n > w->left) {
			w_rest(w);
			return;
		}
		w->recs = n;
		w_batch(w, w->state == P_RECS ? P_PART_END : F_PART_END);
		return;
	}
	case P_PART_END:
		if (flex)
			w_tags(w, P_PART);
		else
			w->state = P_PART;
		return;
	case R_BATCH:
		if (w->recs == 0) {
			w->state = w->ret;
			return;
		}
		if (w->recs < 17) {
			__u32 n = w->recs;
			w->recs = 0;
			w_copy(w, n, w->ret);
			return;
		}
		w->state = R_LEN;
		return;
	case R_LEN: {
		__s32 blen = (__s32)v;
		w->recs -= 12;
		if (blen < 49 || blen > w->recs) {
			__u32 n = w->recs;
			w->recs = 0;
			w_copy(w, n, w->ret);
			return;
		}
		w->blen = blen;
		w->state = R_MAGIC;
		return;
	}
	case R_MAGIC:
		w->recs -= 5;
		if ((v & 0xff) != 2) {
			/* A legacy message set: copied whole. */
			w->recs -= w->blen - 5;
			w_copy(w, w->blen - 5, R_BATCH);
			return;
		}
		/* The rest of the 61-byte header, then its records. */
		w->recs -= 44;
		w_copy(w, 44, R_BODY);
		return;
	case R_BODY:
		w->recs -= w->blen - 49;
		w_skip(w, w->blen - 49, R_BATCH);
		return;
	case F_FIXED:
		/* throttle_time_ms; from v7 error_code, session_id */
		w_copy(w, w->ver >= 7 ? 10 : 4, F_TOPICS);
		return;
	case F_TOPICS:
		w->topics = w_count(w, v);
		w->state = F_TOPIC;
		return;
	case F_TOPIC:
		if (w->topics == 0) {
			if (flex)
				w_tags(w, W_END);
			else
				w->state = W_END;
			return;
		}
		w->topics--;
		if (w->ver >= 13) {
			w_copy(w, 16, F_PARTS);
			return;
		}
		w->state = W_NAME;
		return;
	case F_PARTS:
		w->parts = w_count(w, v);
		w->state = F_PART;
		return;
	case F_PART:
		if (w->parts == 0) {
			if (flex)
				w_tags(w, F_TOPIC);
			else
				w->state = F_TOPIC;
			return;
		}
		w->parts--;
		/* partition index, error code, high watermark, last stable
		 * offset, from v5 log start offset */
		w_copy(w, w->ver >= 5 ? 30 : 22, F_ABORTED);
		return;
	case F_ABORTED: {
		__u32 n = w_count(w, v);
		if (flex) {
			w->aborted = n;
			w->state = F_ABORT;
			return;
		}
		w_copy(w, (__u64)n * 16, F_PREF);
		return;
	}
	case F_ABORT:
		if (w->aborted == 0) {
			w->state = F_PREF;
			return;
		}
		w->aborted--;
		/* producer id, first offset, then tagged fields */
		w_copy(w, 16, W_TAGS);
		w->ret = F_ABORT;
		return;
	case F_PREF:
		if (w->ver >= 11)
			w_copy(w, 4, F_RECS);
		else
			w->state = F_RECS;
		return;
	case F_PART_END:
		if (flex)
			w_tags(w, F_PART);
		else
			w->state = F_PART;
		return;
	}
	w->state = W_OFF;
}
