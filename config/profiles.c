/*
 * The built-in profiles: one row each. The same rows drive polling
 * (agent/poll.c compiles them), the check of [poll] profiles and
 * [profile NAME], `outpost poll --profile` and the generated docs, so a
 * name written here is the only place it is written. Adding a built-in
 * profile is one row here plus its test.
 */
#include "config/config_int.h"

#include <string.h>

#define S CFG_ITEM_SCALAR
#define C CFG_ITEM_COLUMN
#define L CFG_ITEM_LABEL

static const struct config_builtin_item items_system[] = {
	{ "1.3.6.1.2.1.1.1.0", "sysDescr.0", S, NULL, NULL },
	{ "1.3.6.1.2.1.1.2.0", "sysObjectID.0", S, NULL, NULL },
	{ "1.3.6.1.2.1.1.3.0", "sysUpTime.0", S, NULL, NULL },
	{ "1.3.6.1.2.1.1.4.0", "sysContact.0", S, NULL, NULL },
	{ "1.3.6.1.2.1.1.5.0", "sysName.0", S, NULL, NULL },
	{ "1.3.6.1.2.1.1.6.0", "sysLocation.0", S, NULL, NULL },
	{ NULL, NULL, 0, NULL, NULL },
};

/* ifTable and ifXTable share ifIndex (ifXEntry AUGMENTS ifEntry): one
 * table. A 32-bit counter stands in for its 64-bit one (RFC 2863 3.1.6)
 * only where the device lacks that one. */
static const struct config_builtin_item items_interfaces[] = {
	{ "1.3.6.1.2.1.2.2.1.2", "ifDescr", L, "interfaces", NULL },
	{ "1.3.6.1.2.1.31.1.1.1.1", "ifName", L, "interfaces", NULL },
	{ "1.3.6.1.2.1.31.1.1.1.18", "ifAlias", L, "interfaces", NULL },
	{ "1.3.6.1.2.1.2.2.1.3", "ifType", C, "interfaces", NULL },
	{ "1.3.6.1.2.1.2.2.1.5", "ifSpeed", C, "interfaces", NULL },
	{ "1.3.6.1.2.1.31.1.1.1.15", "ifHighSpeed", C, "interfaces", NULL },
	{ "1.3.6.1.2.1.2.2.1.7", "ifAdminStatus", C, "interfaces", NULL },
	{ "1.3.6.1.2.1.2.2.1.8", "ifOperStatus", C, "interfaces", NULL },
	{ "1.3.6.1.2.1.31.1.1.1.6", "ifHCInOctets", C, "interfaces", NULL },
	{ "1.3.6.1.2.1.2.2.1.10", "ifInOctets", C, "interfaces",
	  "1.3.6.1.2.1.31.1.1.1.6" },
	{ "1.3.6.1.2.1.31.1.1.1.10", "ifHCOutOctets", C, "interfaces", NULL },
	{ "1.3.6.1.2.1.2.2.1.16", "ifOutOctets", C, "interfaces",
	  "1.3.6.1.2.1.31.1.1.1.10" },
	{ "1.3.6.1.2.1.31.1.1.1.7", "ifHCInUcastPkts", C, "interfaces", NULL },
	{ "1.3.6.1.2.1.2.2.1.11", "ifInUcastPkts", C, "interfaces",
	  "1.3.6.1.2.1.31.1.1.1.7" },
	{ "1.3.6.1.2.1.31.1.1.1.11", "ifHCOutUcastPkts", C, "interfaces", NULL },
	{ "1.3.6.1.2.1.2.2.1.17", "ifOutUcastPkts", C, "interfaces",
	  "1.3.6.1.2.1.31.1.1.1.11" },
	{ "1.3.6.1.2.1.2.2.1.13", "ifInDiscards", C, "interfaces", NULL },
	{ "1.3.6.1.2.1.2.2.1.14", "ifInErrors", C, "interfaces", NULL },
	{ "1.3.6.1.2.1.2.2.1.19", "ifOutDiscards", C, "interfaces", NULL },
	{ "1.3.6.1.2.1.2.2.1.20", "ifOutErrors", C, "interfaces", NULL },
	{ NULL, NULL, 0, NULL, NULL },
};

/* HOST-RESOURCES-MIB (RFC 2790): two tables with their own indexes, so
 * two tables in the sample, never rows merged by index. */
static const struct config_builtin_item items_host[] = {
	{ "1.3.6.1.2.1.25.1.1.0", "hrSystemUptime.0", S, NULL, NULL },
	{ "1.3.6.1.2.1.25.3.3.1.2", "hrProcessorLoad", C, "hrProcessor", NULL },
	{ "1.3.6.1.2.1.25.2.3.1.3", "hrStorageDescr", L, "hrStorage", NULL },
	{ "1.3.6.1.2.1.25.2.3.1.4", "hrStorageAllocationUnits", C, "hrStorage", NULL },
	{ "1.3.6.1.2.1.25.2.3.1.5", "hrStorageSize", C, "hrStorage", NULL },
	{ "1.3.6.1.2.1.25.2.3.1.6", "hrStorageUsed", C, "hrStorage", NULL },
	{ NULL, NULL, 0, NULL, NULL },
};

#undef S
#undef C
#undef L

/* Descriptions fit `outpost poll --help` on an 80-column terminal. */
const struct config_builtin_profile config_builtin_profiles[] = {
	{ "system", "MIB-II system group: sysDescr, sysName, sysUpTime, ...",
	  items_system },
	{ "interfaces", "ifTable/ifXTable: status, speed, traffic, errors",
	  items_interfaces },
	{ "host", "HOST-RESOURCES-MIB: uptime, processor load, storage",
	  items_host },
	{ NULL, NULL, NULL },
};

const struct config_builtin_profile *
config_builtin_profile_find(const char *name)
{
	for (const struct config_builtin_profile *p = config_builtin_profiles;
	    p->name; p++)
		if (strcmp(p->name, name) == 0)
			return p;
	return NULL;
}

void
config_builtin_profile_names(char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (const struct config_builtin_profile *p = config_builtin_profiles;
	    p->name && n < len; p++) {
		int w = snprintf(buf + n, len - n, "%s%s", n ? ", " : "", p->name);
		if (w < 0)
			break;
		n += (size_t)w;
	}
}
