/* kundpuls_ratelimit: a mosquitto 2.0 plugin (plugin API 5) that keeps one kiosk from hurting the
 * others through the broker, on the kiosks' listener. Four jobs:
 *
 * 1. How fast each kiosk may publish, so that one kiosk's flood is refused by the broker before it
 * is queued for the ingest (where it would sit, first in, first out, in front of every other
 * kiosk's answers).
 *
 * One token bucket per kiosk, in bytes: a kiosk may publish `burst_bytes` at once and `bytes_per_s`
 * after that, each message counting its payload plus `message_bytes` (what the centre spends on a
 * message apart from its bytes). Bytes, not messages: a message may be 20 bytes or 1 MiB, and the
 * centre's cost (and its disk) follows the bytes. A message larger than the burst counts as the
 * burst, so that one passes whenever the bucket is full: the limit delays a kiosk, never starves
 * it. A second bucket per kiosk, optional, is its day: `day_bytes` at once, refilled over 24 hours,
 * so a kiosk kept just under its rate (a bug, a stolen credential) stores a day's bytes a day, not
 * 86,400 seconds of its rate; it must hold at least the burst. The kiosk is the <id> of the topic
 * <prefix>kundpuls/v1/kiosk/<id>/..., so a store bridge that carries several kiosks gives each of
 * them its own bucket; any other topic counts against the publishing client's user name.
 *
 * Each message is charged once, where mosquitto 2.0.11 lets a plugin see it (found in its source
 * and on the broker, tests/test_broker_rate_limit.py):
 *   - MOSQ_EVT_ACL_CHECK with write access runs for a client's PUBLISH, with its payload's length,
 *     before the listener's acl_file (a listener's plugins come first), and for its Last Will when
 *     the broker is about to publish it: at an unexpected disconnect or a DISCONNECT with reason
 *     0x04, at the end of a Will Delay, or when a new connection takes over the session (never at
 *     CONNECT, which checks nothing of the Will). It is the one event a Will passes, so every
 *     write is charged there, to the bucket of the client's own user name: never by the topic,
 *     for the check runs before the acl_file, for forged topics too, and by the topic a kiosk
 *     could spend another's bucket. A refused PUBLISH gets PUBACK 0x87 (not authorized) at QoS 1;
 *     a refused Will is dropped. A forged topic costs its sender, then the acl_file refuses it.
 *     With check_retain_source (off unless set) the broker also checks a retained message's
 *     publisher for write access each time it hands the message to a new subscriber, as a client
 *     of no protocol: that is no message of the client's, and is not charged.
 *   - MOSQ_EVT_MESSAGE runs for a PUBLISH right after that check, once the acl_file allowed it and
 *     before anything is queued (a Will never passes it). A message whose topic names another
 *     kiosk than its sender (a store bridge's, for one of its kiosks) has its charge moved there:
 *     given back to the bridge's bucket and taken from the kiosk's, or refused (0x87) when that
 *     one is spent.
 *
 * 2. What a client may SUBSCRIBE to (mosquitto 2.0's acl_file grants every subscription). Every
 * subscription that matches a message costs the broker a delivery attempt and an ACL check for
 * every message any kiosk publishes, and every shared subscription with a group name of its own
 * matches on its own: one kiosk credential with 200,000 `$share/gN/kundpuls/v1/kiosk/+/events`
 * filters made another kiosk's publish 0.2 -> 78 ms on mosquitto 2.0.11, and a persistent session
 * kept them past the kiosk's deactivation. On MOSQ_EVT_ACL_CHECK for MOSQ_ACL_SUBSCRIBE this plugin
 * refuses (SUBACK 0x87, or 0x80 to MQTT 3.1.1) every filter but the ones a kiosk subscribes to
 * (kiosk/sync_agent.py): its own `<prefix>kundpuls/v1/kiosk/<user>/ack` and `.../config` (the user
 * name is the kiosk id, and the client id too: use_username_as_clientid) and its site's
 * `<prefix>kundpuls/v1/site/<site>/alerts` (any one site id: the plugin does not know a kiosk's
 * site, the acl_file does, and delivers only its own site's); a store bridge's user (`store-...`,
 * bridge-store.conf) may also have its kiosks' ack and config, by id or with `+` for the id. No
 * `$share/`, no `#`, no other wildcard. What it allows it defers to the acl_file (which grants it;
 * the acl_file still decides what is delivered). See `MAX_SUBSCRIPTIONS` for the count.
 *
 * 3. The MQTT v5 properties of every PUBLISH a client of the listener sends (MOSQ_EVT_MESSAGE:
 * dropped before the message is stored, retained or queued). Kundpuls sends none (the sync agent;
 * a store bridge passes on its kiosks', which its own broker's copy of this plugin dropped), and
 * the budget of bytes does not count them: a PUBLISH may carry nearly max_packet_size of them
 * besides a 1-byte payload. A paho subscriber parses a property block in time quadratic in its
 * number of properties, in its network thread: 40,000 empty User Properties (200 KB) took the
 * centre 4.8 s, 200,000 of them 160 s, while every other kiosk's messages waited; the broker held
 * them in RAM too (100 such messages: 10 -> 1,322 MiB, max_queued_bytes counts payloads only). A
 * Last Will's properties pass: mosquitto 2.0 shows a plugin neither a Will nor its properties, so
 * the centre's clients bound what they parse themselves (server_sync/mqtt_properties.py). Every
 * client of this listener is a store's (kiosks, store bridges): the centre's are on their own
 * listener, where this plugin is not loaded, so nothing of theirs is dropped.
 *
 * 4. QoS at most 1 (`MAX_QOS`), the listener's `max_qos 1` again. A QoS 2 PUBLISH whose PUBREL
 * never comes is held by mosquitto 2.0.11 in RAM beyond the client's receive maximum, charged to
 * the kiosk's budget but not delivered, until the kiosk releases it all at once
 * (tests/test_broker_qos.py). `max_qos 1` refuses QoS 2 but does not last: at every reload
 * (SIGHUP: `systemctl reload mosquitto`, Debian's logrotate) mosquitto 2.0.11 resets a listener's
 * settings to their defaults (max_qos 2) and reads none of them again, while this plugin stays
 * loaded. So on MOSQ_EVT_ACL_CHECK it refuses a write at QoS 2, before anything is charged: a
 * PUBLISH gets PUBREC 0x87 and mosquitto frees it (nothing is held, and a PUBREL then finds
 * nothing to release), a Will is dropped (a plugin sees it only when the broker would publish it;
 * `max_qos 1` refuses it at CONNECT). A subscription's QoS is checked after the listener lowered
 * it: a plugin can refuse one but not lower it, so a QoS 2 subscription, granted QoS 1 by
 * `max_qos 1`, is refused (SUBACK 0x87) after a reload. Kundpuls itself publishes, subscribes and
 * leaves its Wills at QoS 1 (the sync agent; bridge-store.conf).
 *
 * Under `per_listener_settings true` it applies to the listener whose block loads it (the kiosks'
 * one) and to no other: loaded for every listener it would refuse the ingest's shared
 * subscription. See docs/deployment.md.
 *
 * Options (kundpuls.conf, where the numbers are, with their reasons): plugin_opt_bytes_per_s (> 0),
 * plugin_opt_burst_bytes (> 0), plugin_opt_message_bytes (>= 0), plugin_opt_day_bytes (>= the
 * burst; absent: no day's bucket, as before it existed), plugin_opt_topic_prefix (the kiosks'
 * broker.topic_prefix, e.g. `acme/`; absent: none).
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

#define ROOT "kundpuls/v1/"
#define KIOSK_LEVEL "kiosk/"
#define SITE_LEVEL "site/"
#define LOG_EVERY_S 60.0   /* a kiosk over its rate, or refused subscriptions, is logged at most this often */
#define DAY_S 86400.0
#define ID_MAX 64          /* kiosk and site ids: 1-64 of A-Z a-z 0-9 - _ (protocol/vocabulary.py) */
/* The user names bridge-store.conf gives store bridges (store-SITE): they subscribe to their kiosks'
 * ack and config with `+` for the kiosk id. A kiosk whose id happened to start so could do the
 * same: two more filters, each delivered only what the acl_file lets it read. */
#define BRIDGE_USER_PREFIX "store-"
/* The most subscriptions one client session may hold, by mosquitto's own count
 * (mosquitto_client_sub_count: the slots of its non-shared subscriptions, which go with the
 * session across reconnects and, restored from the persistence file, across restarts; an
 * UNSUBSCRIBE empties a slot for reuse but does not lower the count, so a session that once held
 * this many gets no new subscription, not even one it holds, until it ends: a clean start, its
 * expiry). A kiosk holds three, a store bridge three; a kiosk whose site changed holds one more
 * for each earlier site while its session lives (it never unsubscribes the old site's alerts).
 * Each filter allowed names one kiosk's topic, or for a bridge its kiosks' acks or configs; the
 * one kind a client could make without end is a site's alerts under made-up site ids. Those match
 * only the centre's alerts for that site, so they cost memory (a few hundred bytes each) rather
 * than time, and this count bounds that to a few KiB per credential. Counted by mosquitto rather
 * than by this plugin: a count of the plugin's own would start from nothing at every restart while
 * the subscriptions come back from the persistence file, and would have to follow every session's
 * end (a clean start, an expiry), which a plugin of mosquitto 2.0 is not told of. */
#define MAX_SUBSCRIPTIONS 16
/* The highest QoS a client of the listener may publish, subscribe or leave a Will at (4. at the top). */
#define MAX_QOS 1

/* One kind of refusal of one client, logged at most once a minute (`noticed`). */
struct notice {
	double logged_at;      /* last log line, or -1 */
	unsigned long refused; /* refused since that line */
};

struct bucket {
	struct bucket *next;
	double tokens;
	double day_tokens;     /* the day's bucket (unused without day_bytes) */
	double at;             /* when `tokens` was counted (CLOCK_MONOTONIC, s) */
	double logged_at;      /* last log line about this kiosk, or -1 */
	unsigned long refused; /* refused since that line */
	struct notice subscription; /* subscriptions this client was refused */
	struct notice qos;     /* messages at QoS 2 this client was refused */
	char key[];
};

struct limiter {
	double rate;           /* bytes a second */
	double burst;          /* bytes */
	double per_message;    /* bytes each message counts on top of its payload */
	double day;            /* bytes of the day's bucket, 0: none */
	char prefix[256];      /* the topics' prefix (plugin_opt_topic_prefix), "" or ending in '/' */
	size_t prefix_len;
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

/* The client's own bucket: its user name (on the kiosks' listener also its client id:
 * use_username_as_clientid), else its client id. */
static const char *client_key(const struct mosquitto *client)
{
	const char *key = mosquitto_client_username(client);
	if(!key || !key[0]) key = mosquitto_client_id(client);
	return key ? key : "";
}

/* `text` past `head` when it starts so, else NULL. */
static const char *after(const char *text, const char *head)
{
	size_t n = strlen(head);
	return strncmp(text, head, n) == 0 ? text + n : NULL;
}

/* `topic` past the prefix and "kundpuls/v1/", else NULL. */
static const char *after_root(const struct limiter *l, const char *topic)
{
	if(!topic || strncmp(topic, l->prefix, l->prefix_len) != 0) return NULL;
	return after(topic + l->prefix_len, ROOT);
}

/* The bucket's key: the kiosk id of a kiosk topic, else the client's own `key`. */
static const char *bucket_key(const struct limiter *l, const char *topic, const char *key, size_t *len)
{
	const char *rest = after_root(l, topic);
	const char *id = rest ? after(rest, KIOSK_LEVEL) : NULL;
	if(id){
		const char *end = strchr(id, '/');
		if(end && end > id){
			*len = (size_t)(end - id);
			return id;
		}
	}
	*len = strlen(key);
	return key;
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

/* The bucket for `key` (made full on first sight), or NULL when out of memory. One per user name
 * of the listener (kiosks and store bridges: it runs on authenticated clients only) and one per
 * kiosk a bridge carries (MOSQ_EVT_MESSAGE: only topics the acl_file allowed, a bridge only its
 * store's kiosks), so the table stays the fleet's size. */
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
	b->subscription.logged_at = -1.0;
	b->qos.logged_at = -1.0;
	b->next = l->slots[i];
	l->slots[i] = b;
	l->count++;
	return b;
}

enum verdict { TAKEN, OVER_RATE, OVER_DAY };

/* What a message of `payloadlen` bytes costs: its bytes and the charge per message, at most the
 * burst. */
static double cost_of(const struct limiter *l, uint32_t payloadlen)
{
	return fmin(l->burst, (double)payloadlen + l->per_message);
}

/* Take what a message of `payloadlen` bytes costs from both buckets; nothing is taken when either
 * has less (OVER_RATE, OVER_DAY). */
static enum verdict take(struct limiter *l, struct bucket *b, double now, uint32_t payloadlen)
{
	double cost = cost_of(l, payloadlen);
	b->tokens = fmin(l->burst, b->tokens + (now - b->at) * l->rate);
	if(l->day > 0) b->day_tokens = fmin(l->day, b->day_tokens + (now - b->at) * l->day / DAY_S);
	b->at = now;
	if(b->tokens < cost) return OVER_RATE;
	if(l->day > 0 && b->day_tokens < cost) return OVER_DAY;
	b->tokens -= cost;
	b->day_tokens -= cost;
	return TAKEN;
}

/* Give back what `take` just took for a message of `payloadlen` bytes. */
static void give_back(const struct limiter *l, struct bucket *b, uint32_t payloadlen)
{
	double cost = cost_of(l, payloadlen);
	b->tokens = fmin(l->burst, b->tokens + cost);
	if(l->day > 0) b->day_tokens = fmin(l->day, b->day_tokens + cost);
}

/* Charge a message of `payloadlen` bytes that `client` sends to the bucket of `key`: whether it
 * may pass. A kiosk over its rate or its day is logged at most once a minute. */
static int charge(struct limiter *l, const char *key, size_t len, const struct mosquitto *client, uint32_t payloadlen)
{
	double now = now_s();
	struct bucket *b = find(l, key, len, now);
	if(!b) return 1;                       /* no memory for a bucket: never refuse for that */
	enum verdict verdict = take(l, b, now, payloadlen);
	if(verdict == TAKEN){
		if(b->refused && now - b->logged_at >= LOG_EVERY_S){
			mosquitto_log_printf(MOSQ_LOG_NOTICE, "kundpuls_ratelimit: kiosk %s is under its rate again "
					"(%lu messages refused)", b->key, b->refused);
			b->refused = 0;
			b->logged_at = now;
		}
		return 1;
	}
	b->refused++;
	if(b->logged_at < 0 || now - b->logged_at >= LOG_EVERY_S){
		if(verdict == OVER_DAY){
			mosquitto_log_printf(MOSQ_LOG_WARNING, "kundpuls_ratelimit: kiosk %s (client %s) is over its day's "
					"%g bytes (%g more a message): %lu refused (logged at most every %.0f s)", b->key,
					mosquitto_client_id(client), l->day, l->per_message, b->refused, LOG_EVERY_S);
		}else{
			mosquitto_log_printf(MOSQ_LOG_WARNING, "kundpuls_ratelimit: kiosk %s (client %s) is over its rate "
					"of %g bytes a second after a burst of %g bytes (%g more a message): %lu refused "
					"(logged at most every %.0f s)", b->key, mosquitto_client_id(client), l->rate, l->burst,
					l->per_message, b->refused, LOG_EVERY_S);
		}
		b->refused = 0;
		b->logged_at = now;
	}
	return 0;
}

/* One more refusal of `n`'s kind: how many to log now (the first, then at most once a minute),
 * else 0. */
static unsigned long noticed(struct notice *n, double now)
{
	n->refused++;
	if(n->logged_at >= 0 && now - n->logged_at < LOG_EVERY_S) return 0;
	unsigned long refused = n->refused;
	n->refused = 0;
	n->logged_at = now;
	return refused;
}

/* The notices of `client`, or NULL when out of memory (for a bucket). */
static struct bucket *notices_of(struct limiter *l, const struct mosquitto *client)
{
	const char *key = client_key(client);
	return find(l, key, strlen(key), now_s());
}

/* Refuse a PUBLISH or a Will at QoS 2 (4. at the top), logged at most once a minute per client. */
static int refuse_qos(struct limiter *l, struct mosquitto *client)
{
	struct bucket *b = notices_of(l, client);
	unsigned long refused = b ? noticed(&b->qos, now_s()) : 0;
	if(refused){
		mosquitto_log_printf(MOSQ_LOG_WARNING, "kundpuls_ratelimit: a QoS 2 message of client %s refused "
				"(a PUBLISH, or its Will): this listener takes QoS %d at most; %lu refused (logged at most "
				"every %.0f s)", mosquitto_client_id(client), MAX_QOS, refused, LOG_EVERY_S);
	}
	return MOSQ_ERR_ACL_DENIED;
}

/* MOSQ_ACL_WRITE, a PUBLISH or a Will: refused at QoS 2, else charged to the client's own bucket
 * (see the top). */
static int check_write(struct limiter *l, struct mosquitto *client, uint32_t payloadlen, uint8_t qos)
{
	if(mosquitto_client_protocol_version(client) == 0) return MOSQ_ERR_PLUGIN_DEFER;   /* check_retain_source */
	if(qos > MAX_QOS) return refuse_qos(l, client);
	const char *own = client_key(client);
	return charge(l, own, strlen(own), client, payloadlen) ? MOSQ_ERR_PLUGIN_DEFER : MOSQ_ERR_ACL_DENIED;
}

/* A PUBLISH the acl_file allowed, charged already to its sender (check_write): its MQTT v5
 * properties dropped (3. at the top), and its charge moved to the bucket of the kiosk its topic
 * names when that is another (a store bridge's kiosk). */
static int on_message(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_message *ed = event_data;
	struct limiter *l = userdata;
	(void)event;
	/* Before the message is stored, retained or queued: mosquitto keeps what this leaves. */
	if(ed->properties) mosquitto_property_free_all(&ed->properties);
	const char *own = client_key(ed->client);
	size_t len;
	const char *key = bucket_key(l, ed->topic, own, &len);
	if(len == strlen(own) && memcmp(key, own, len) == 0) return MOSQ_ERR_SUCCESS;
	struct bucket *sender = find(l, own, strlen(own), now_s());
	if(sender) give_back(l, sender, ed->payloadlen);
	return charge(l, key, len, ed->client, ed->payloadlen) ? MOSQ_ERR_SUCCESS : MOSQ_ERR_ACL_DENIED;
}

/* The length of the kiosk or site id `text` starts with, up to the next '/' or its end; 0 when
 * that is not an id (empty, too long, or with any other character: a wildcard, say). */
static size_t id_len(const char *text)
{
	size_t n = strspn(text, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");
	if(n == 0 || n > ID_MAX || (text[n] != '/' && text[n] != '\0')) return 0;
	return n;
}

/* Whether `leaf` is a kiosk's "ack" or "config", the topics it reads. */
static int kiosk_reads(const char *leaf)
{
	return strcmp(leaf, "ack") == 0 || strcmp(leaf, "config") == 0;
}

/* Whether `user` may have the subscription `filter`: its own ack and config, a site's alerts,
 * and for a store bridge its kiosks' ack and config (by id or `+`). Exact names otherwise: no
 * `$share/`, no `#`, no `+` in a kiosk's filter. */
static int allowed_filter(const struct limiter *l, const char *user, const char *filter)
{
	const char *rest = after_root(l, filter);
	const char *id;
	size_t n;
	if(!rest || strncmp(filter, "$share/", 7) == 0) return 0;
	if((id = after(rest, SITE_LEVEL))){
		n = id_len(id);
		return n > 0 && strcmp(id + n, "/alerts") == 0;
	}
	if(!(id = after(rest, KIOSK_LEVEL))) return 0;
	n = strlen(user);
	if(n > 0 && id_len(user) == n && strncmp(id, user, n) == 0 && id[n] == '/'){
		return kiosk_reads(id + n + 1);
	}
	if(!after(user, BRIDGE_USER_PREFIX)) return 0;
	n = id[0] == '+' && id[1] == '/' ? 1 : id_len(id);
	return n > 0 && id[n] == '/' && kiosk_reads(id + n + 1);
}

/* MOSQ_ACL_SUBSCRIBE: refuse what `allowed_filter` does not allow, a QoS above MAX_QOS (`qos` as
 * the listener granted it: 2 only after a reload, 4. at the top) and anything past
 * MAX_SUBSCRIPTIONS; defer the rest to the acl_file. */
static int check_subscription(struct limiter *l, struct mosquitto *client, const char *filter, uint8_t qos)
{
	const char *user = mosquitto_client_username(client);
	char why[128];
	if(!user) user = "";
	if(!allowed_filter(l, user, filter)){
		snprintf(why, sizeof(why), "not one a kiosk needs (its own ack and config, a site's alerts; no "
				"shared subscription, no wildcard)");
	}else if(qos > MAX_QOS){
		snprintf(why, sizeof(why), "QoS %d, this listener grants QoS %d at most", qos, MAX_QOS);
	}else if(mosquitto_client_sub_count(client) >= MAX_SUBSCRIPTIONS){
		snprintf(why, sizeof(why), "its session holds the most subscriptions it may (%d)", MAX_SUBSCRIPTIONS);
	}else{
		return MOSQ_ERR_PLUGIN_DEFER;
	}
	/* Logged at most once a minute per client: a refused SUBSCRIBE may carry thousands. */
	struct bucket *b = notices_of(l, client);
	unsigned long refused = b ? noticed(&b->subscription, now_s()) : 0;
	if(refused){
		mosquitto_log_printf(MOSQ_LOG_WARNING, "kundpuls_ratelimit: subscription '%.200s' of client %s (user %s) "
				"refused: %s; %lu refused (logged at most every %.0f s)", filter,
				mosquitto_client_id(client), user, why, refused, LOG_EVERY_S);
	}
	return MOSQ_ERR_ACL_DENIED;
}

/* Runs before the listener's acl_file (mosquitto calls a listener's plugins' callbacks first, in
 * the order they were loaded, and stops at the first that does not defer). */
static int on_acl_check(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_acl_check *ed = event_data;
	(void)event;
	if(ed->access == MOSQ_ACL_SUBSCRIBE) return check_subscription(userdata, ed->client, ed->topic, ed->qos);
	if(ed->access == MOSQ_ACL_WRITE) return check_write(userdata, ed->client, ed->payloadlen, ed->qos);
	return MOSQ_ERR_PLUGIN_DEFER;
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

/* The topics' prefix: empty, or levels ending with '/' without a wildcard (as a kiosk's
 * broker.topic_prefix, server_sync/protocol/topics.py); false, logged, when it is not one. */
static int set_prefix(struct limiter *l, const char *text)
{
	size_t n = strlen(text);
	if(n >= sizeof(l->prefix) || (n > 0 && text[n - 1] != '/') || strpbrk(text, "+#") || text[0] == '$'){
		mosquitto_log_printf(MOSQ_LOG_ERR, "kundpuls_ratelimit: plugin_opt_topic_prefix must be the kiosks' "
				"broker.topic_prefix: levels ending with '/', without '+' or '#', not starting with '$'");
		return 0;
	}
	memcpy(l->prefix, text, n + 1);
	l->prefix_len = n;
	return 1;
}

int mosquitto_plugin_init(mosquitto_plugin_id_t *identifier, void **userdata,
		struct mosquitto_opt *options, int option_count)
{
	limiter.rate = -1;
	limiter.burst = -1;
	limiter.per_message = -1;
	limiter.day = 0;
	limiter.prefix[0] = '\0';
	limiter.prefix_len = 0;
	for(int i = 0; i < option_count; i++){
		if(strcmp(options[i].key, "bytes_per_s") == 0){
			limiter.rate = number(options[i].value, 0, 1);
		}else if(strcmp(options[i].key, "burst_bytes") == 0){
			limiter.burst = number(options[i].value, 0, 1);
		}else if(strcmp(options[i].key, "message_bytes") == 0){
			limiter.per_message = number(options[i].value, 0, 0);
		}else if(strcmp(options[i].key, "day_bytes") == 0){
			limiter.day = number(options[i].value, 0, 1);
		}else if(strcmp(options[i].key, "topic_prefix") == 0){
			if(!set_prefix(&limiter, options[i].value)) return MOSQ_ERR_INVAL;
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
			"bytes, each message counting %g bytes more than its payload; %g bytes a day (0: no day's bucket); "
			"topics under '%s'", limiter.rate, limiter.burst, limiter.per_message, limiter.day, limiter.prefix);
	int rc = mosquitto_callback_register(plugin_id, MOSQ_EVT_MESSAGE, on_message, NULL, &limiter);
	if(rc != MOSQ_ERR_SUCCESS) return rc;
	return mosquitto_callback_register(plugin_id, MOSQ_EVT_ACL_CHECK, on_acl_check, NULL, &limiter);
}

int mosquitto_plugin_cleanup(void *userdata, struct mosquitto_opt *options, int option_count)
{
	struct limiter *l = userdata;
	(void)options;
	(void)option_count;
	mosquitto_callback_unregister(plugin_id, MOSQ_EVT_MESSAGE, on_message, NULL);
	mosquitto_callback_unregister(plugin_id, MOSQ_EVT_ACL_CHECK, on_acl_check, NULL);
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
