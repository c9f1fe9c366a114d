/*
 * Events (SNMP notifications the agent received, docs/protocol.md) on the
 * store side, shared by both backends: which entries of a batch are
 * stored, and the page call.
 *
 * An event is kept as the agent sent it (JSON we printed, integers
 * exact); the hub reads only what it indexes: the agent's event id (the
 * key of idempotent ingest: an event sent again in another batch, or to
 * another node of a group, is stored once), the device it was mapped to,
 * and its received time (the page order).
 */
#include "hub/hub_int.h"

#include <string.h>

/* The agent's id: 1-HUB_EVENT_ID_MAX printable ASCII bytes. */
static bool
store_event_id_valid(const char *id)
{
	size_t n = strlen(id);

	if (n == 0 || n > HUB_EVENT_ID_MAX)
		return false;
	for (const char *p = id; *p != '\0'; p++)
		if (*p < 0x21 || *p > 0x7e)
			return false;
	return true;
}

int
hub_store_batch_event(const cJSON *e, int64_t agent_id, uint64_t now_ms,
    const struct hub_store_rows *rows, void *ctx)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(e, "id");
	const cJSON *dev = cJSON_GetObjectItemCaseSensitive(e, "device");
	const cJSON *rcv = cJSON_GetObjectItemCaseSensitive(e, "received");
	char device[300] = "", *txt;
	int64_t t = (int64_t)now_ms;
	int rc;

	/* Not well-formed: skipped, as a sample would be. */
	if (!cJSON_IsObject(e) || !cJSON_IsString(id) ||
	    !store_event_id_valid(id->valuestring) ||
	    (rcv != NULL && !json_int_exact(rcv, 0, INT64_C(1) << 53, &t)) ||
	    (dev != NULL && !cJSON_IsNull(dev) && (!cJSON_IsString(dev) ||
	    hub_device_normalize(dev->valuestring, device,
	    sizeof(device)) == -1))) {
		log_debug("agent %lld: an event without a valid id, received "
		    "or device: skipped", (long long)agent_id);
		return 0;
	}
	if ((txt = cJSON_PrintUnformatted(e)) == NULL)
		return -1;
	rc = rows->event(ctx, agent_id, id->valuestring, device, t, txt, now_ms);
	return rc == -1 ? -1 : 0;
}

/*
 * The agent's counters (traps_received, traps_dropped_*, ...) are kept
 * as sent, with the batch; dropped_events (events the agent dropped
 * since its last accepted batch, a field of the batch's head) joins them,
 * so it shows wherever the agent's counters do.
 */
int
hub_store_batch_counters(const cJSON *batch, char **out)
{
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(batch, "counters");
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(batch, "dropped_events");
	int64_t dropped;
	cJSON *copy;

	*out = NULL;
	if (!json_int_exact(d, 0, INT64_C(1) << 53, &dropped) ||
	    cJSON_HasObjectItem(c, "dropped_events")) {
		if (cJSON_IsObject(c) && (*out = cJSON_PrintUnformatted(c)) == NULL)
			return -1;
		return 0;
	}
	copy = cJSON_IsObject(c) ? cJSON_Duplicate(c, true) : cJSON_CreateObject();
	if (copy == NULL ||
	    cJSON_AddItemToObject(copy, "dropped_events",
	    cJSON_Duplicate(d, false)) == 0) {
		cJSON_Delete(copy);
		return -1;
	}
	*out = cJSON_PrintUnformatted(copy);
	cJSON_Delete(copy);
	return *out != NULL ? 0 : -1;
}

int
hub_store_events(struct hub_store *s, int64_t agent_id, const char *device,
    struct hub_samples_page *pg, struct hub_buf *out)
{
	pg->more = false;
	pg->last_ts = pg->last_id = 0;
	return s->ops->events(s, agent_id, device, pg, out);
}
