/* kundpuls_ratelimit: a mosquitto 2.0 plugin (plugin API 5) that limits how fast each kiosk may
 * publish, so that one kiosk's flood is refused by the broker before it is queued for the ingest
 * (where it would sit, first in, first out, in front of every other kiosk's answers).
 *
 * One token bucket per kiosk, in bytes: a kiosk may publish `burst_bytes` at once and `bytes_per_s`
 * after that, each message counting its payload plus `message_bytes` (what the centre spends on a
 * message apart from its bytes). Bytes, not messages: a message may be 20 bytes or 1 MiB, and the
 * centre's cost (and its disk) follows the bytes. A message larger than the burst counts as the
 * burst, so that one passes whenever the bucket is full: the limit delays a kiosk, never starves
 * it. A second bucket per kiosk, optional, is its day: `day_bytes` at once, refilled over 24 hours,
 * so a kiosk kept just under its rate (a bug, a stolen credential) stores a day's bytes a day, not
 * 86,400 seconds of its rate; it must hold at least the burst. The kiosk is the <id> of the topic kundpuls/v1/kiosk/<id>/..., so a store bridge
 * that carries several kiosks gives each of them its own bucket; any other topic counts against
 * the publishing client's id. It runs on MOSQ_EVT_MESSAGE, which mosquitto 2.0 calls for a client's
 * PUBLISH after the listener's acl_file allowed it and before anything is queued: a refused
 * message is dropped there and a QoS 1 publisher gets PUBACK 0x87 (not authorized). Wills never
 * pass through this event. Under `per_listener_settings true` it applies to the listener whose
 * block loads it (the kiosks' one) and to no other. See docs/deployment.md.
 *
 * Options (kundpuls.conf, where the numbers are, with their reasons): plugin_opt_bytes_per_s (> 0),
 * plugin_opt_burst_bytes (> 0), plugin_opt_message_bytes (>= 0), plugin_opt_day_bytes (>= the
 * burst; absent: no day's bucket, as before it existed).
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#define KIOSK_TOPIC "kundpuls/v1/kiosk/"
#define LOG_EVERY_S 60.0   /* a kiosk over its rate is logged at most this often */
#define DAY_S 86400.0

struct bucket {
	struct bucket *next;
	double tokens;
	double day_tokens;     /* the day's bucket (unused without day_bytes) */
	double at;             /* when `tokens` was counted (CLOCK_MONOTONIC, s) */
	double logged_at;      /* last log line about this kiosk, or -1 */
	unsigned long refused; /* refused since that line */
	char key[];
};

struct limiter {
	double rate;           /* bytes a second */
	double burst;          /* bytes */
	double per_message;    /* bytes each message counts on top of its payload */
	double day;            /* bytes of the day's bucket, 0: none */
	size_t nslots;
	size_t count;
	struct bucket **slots;
};

static mosquitto_plugin_id_t *plugin_id;
static struct limiter limiter;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t hash(const char *s, size_t len)
{
	uint64_t h = 1469598103934665603ULL;  /* FNV-1a */
	for(size_t i = 0; i < len; i++){
		h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
	}
	return h;
}

/* The bucket's key: the kiosk id of a kiosk topic, else the client id. */
static const char *bucket_key(const char *topic, const char *client_id, size_t *len)
{
	size_t plen = strlen(KIOSK_TOPIC);
	if(topic && strncmp(topic, KIOSK_TOPIC, plen) == 0){
		const char *id = topic + plen;
		const char *end = strchr(id, '/');
		if(end && end > id){
			*len = (size_t)(end - id);
			return id;
		}
	}
	*len = client_id ? strlen(client_id) : 0;
	return client_id ? client_id : "";
}

static int grow(struct limiter *l)
{
	size_t n = l->nslots ? l->nslots * 2 : 1024;
	struct bucket **slots = mosquitto_calloc(n, sizeof(*slots));
	if(!slots) return MOSQ_ERR_NOMEM;
	for(size_t i = 0; i < l->nslots; i++){
		struct bucket *b = l->slots[i];
		while(b){
			struct bucket *next = b->next;
			size_t j = hash(b->key, strlen(b->key)) % n;
			b->next = slots[j];
			slots[j] = b;
			b = next;
		}
	}
	mosquitto_free(l->slots);
	l->slots = slots;
	l->nslots = n;
	return MOSQ_ERR_SUCCESS;
}

/* The bucket for `key` (made full on first sight), or NULL when out of memory. One per kiosk:
 * the ACL lets a client write only its own (or, for a store bridge, its store's) kiosk topics,
 * and mosquitto calls this only for publishes the ACL allowed, so the table stays the fleet's size. */
static struct bucket *find(struct limiter *l, const char *key, size_t len, double now)
{
	if(l->count >= l->nslots && grow(l) != MOSQ_ERR_SUCCESS) return NULL;
	size_t i = hash(key, len) % l->nslots;
	for(struct bucket *b = l->slots[i]; b; b = b->next){
		if(strlen(b->key) == len && memcmp(b->key, key, len) == 0) return b;
	}
	struct bucket *b = mosquitto_calloc(1, sizeof(*b) + len + 1);
	if(!b) return NULL;
	memcpy(b->key, key, len);
	b->tokens = l->burst;
	b->day_tokens = l->day;
	b->at = now;
	b->logged_at = -1.0;
	b->next = l->slots[i];
	l->slots[i] = b;
	l->count++;
	return b;
}

enum verdict { TAKEN, OVER_RATE, OVER_DAY };

/* Take what a message of `payloadlen` bytes costs from both buckets; nothing is taken when either
 * has less (OVER_RATE, OVER_DAY). */
static enum verdict take(struct limiter *l, struct bucket *b, double now, uint32_t payloadlen)
{
	double cost = fmin(l->burst, (double)payloadlen + l->per_message);
	b->tokens = fmin(l->burst, b->tokens + (now - b->at) * l->rate);
	if(l->day > 0) b->day_tokens = fmin(l->day, b->day_tokens + (now - b->at) * l->day / DAY_S);
	b->at = now;
	if(b->tokens < cost) return OVER_RATE;
	if(l->day > 0 && b->day_tokens < cost) return OVER_DAY;
	b->tokens -= cost;
	b->day_tokens -= cost;
	return TAKEN;
}

static int on_message(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_message *ed = event_data;
	struct limiter *l = userdata;
	(void)event;
	size_t len;
	const char *key = bucket_key(ed->topic, mosquitto_client_id(ed->client), &len);
	double now = now_s();
	struct bucket *b = find(l, key, len, now);
	if(!b) return MOSQ_ERR_SUCCESS;        /* no memory for a bucket: never refuse for that */
	enum verdict verdict = take(l, b, now, ed->payloadlen);
	if(verdict == TAKEN){
		if(b->refused && now - b->logged_at >= LOG_EVERY_S){
			mosquitto_log_printf(MOSQ_LOG_NOTICE, "kundpuls_ratelimit: kiosk %s is under its rate again "
					"(%lu messages refused)", b->key, b->refused);
			b->refused = 0;
			b->logged_at = now;
		}
		return MOSQ_ERR_SUCCESS;
	}
	b->refused++;
	if(b->logged_at < 0 || now - b->logged_at >= LOG_EVERY_S){
		if(verdict == OVER_DAY){
			mosquitto_log_printf(MOSQ_LOG_WARNING, "kundpuls_ratelimit: kiosk %s (client %s) is over its day's "
					"%g bytes (%g more a message): %lu refused (logged at most every %.0f s)", b->key,
					mosquitto_client_id(ed->client), l->day, l->per_message, b->refused, LOG_EVERY_S);
		}else{
			mosquitto_log_printf(MOSQ_LOG_WARNING, "kundpuls_ratelimit: kiosk %s (client %s) is over its rate "
					"of %g bytes a second after a burst of %g bytes (%g more a message): %lu refused "
					"(logged at most every %.0f s)", b->key, mosquitto_client_id(ed->client), l->rate, l->burst,
					l->per_message, b->refused, LOG_EVERY_S);
		}
		b->refused = 0;
		b->logged_at = now;
	}
	return MOSQ_ERR_ACL_DENIED;
}

/* A finite number from an option's text, at least `low` (above it when `above`), or -1. */
static double number(const char *text, double low, int above)
{
	char *end;
	errno = 0;
	double v = strtod(text, &end);
	if(errno || end == text || *end != '\0' || !isfinite(v) || v < low || (above && v == low)) return -1;
	return v;
}

int mosquitto_plugin_version(int supported_version_count, const int *supported_versions)
{
	for(int i = 0; i < supported_version_count; i++){
		if(supported_versions[i] == 5) return 5;
	}
	return -1;
}

int mosquitto_plugin_init(mosquitto_plugin_id_t *identifier, void **userdata,
		struct mosquitto_opt *options, int option_count)
{
	limiter.rate = -1;
	limiter.burst = -1;
	limiter.per_message = -1;
	limiter.day = 0;
	for(int i = 0; i < option_count; i++){
		if(strcmp(options[i].key, "bytes_per_s") == 0){
			limiter.rate = number(options[i].value, 0, 1);
		}else if(strcmp(options[i].key, "burst_bytes") == 0){
			limiter.burst = number(options[i].value, 0, 1);
		}else if(strcmp(options[i].key, "message_bytes") == 0){
			limiter.per_message = number(options[i].value, 0, 0);
		}else if(strcmp(options[i].key, "day_bytes") == 0){
			limiter.day = number(options[i].value, 0, 1);
		}else{
			mosquitto_log_printf(MOSQ_LOG_ERR, "kundpuls_ratelimit: unknown option plugin_opt_%s", options[i].key);
			return MOSQ_ERR_INVAL;
		}
	}
	/* No default here: kundpuls.conf is where the numbers are. */
	if(limiter.rate <= 0 || limiter.burst <= 0 || limiter.per_message < 0){
		mosquitto_log_printf(MOSQ_LOG_ERR, "kundpuls_ratelimit: needs plugin_opt_bytes_per_s (> 0), "
				"plugin_opt_burst_bytes (> 0) and plugin_opt_message_bytes (>= 0)");
		return MOSQ_ERR_INVAL;
	}
	if(limiter.day < 0 || (limiter.day > 0 && limiter.day < limiter.burst)){
		mosquitto_log_printf(MOSQ_LOG_ERR, "kundpuls_ratelimit: plugin_opt_day_bytes must be a number of bytes "
				"no smaller than plugin_opt_burst_bytes");
		return MOSQ_ERR_INVAL;
	}
	if(grow(&limiter) != MOSQ_ERR_SUCCESS) return MOSQ_ERR_NOMEM;
	plugin_id = identifier;
	*userdata = &limiter;
	mosquitto_log_printf(MOSQ_LOG_INFO, "kundpuls_ratelimit: %g bytes a second per kiosk after a burst of %g "
			"bytes, each message counting %g bytes more than its payload; %g bytes a day (0: no day's bucket)",
			limiter.rate, limiter.burst, limiter.per_message, limiter.day);
	return mosquitto_callback_register(plugin_id, MOSQ_EVT_MESSAGE, on_message, NULL, &limiter);
}

int mosquitto_plugin_cleanup(void *userdata, struct mosquitto_opt *options, int option_count)
{
	struct limiter *l = userdata;
	(void)options;
	(void)option_count;
	mosquitto_callback_unregister(plugin_id, MOSQ_EVT_MESSAGE, on_message, NULL);
	for(size_t i = 0; i < l->nslots; i++){
		struct bucket *b = l->slots[i];
		while(b){
			struct bucket *next = b->next;
			mosquitto_free(b);
			b = next;
		}
	}
	mosquitto_free(l->slots);
	l->slots = NULL;
	l->nslots = l->count = 0;
	return MOSQ_ERR_SUCCESS;
}
