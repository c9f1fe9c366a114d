/*
 * Outpost as a Windows service: `outpost service install | uninstall |
 * start | stop` talk to the Service Control Manager; `outpost service run`
 * is the command line the SCM starts, which hands the process to
 * StartServiceCtrlDispatcherW. Its ServiceMain runs the agent's `run` on
 * the service thread; the control handler (on the dispatcher thread)
 * turns STOP and SHUTDOWN into the same stop event as SIGTERM and
 * PARAMCHANGE into SIGHUP's reload, so a service stop drains exactly as
 * systemd's does. Logs go to the Event Log (source "Outpost") or to a
 * file, chosen at install time.
 */
#include "core/win_int.h"

#include <errno.h>
#include <fcntl.h>
#include <io.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define SVC_NAME     L"Outpost"
#define SVC_DISPLAY  L"Outpost SNMP agent"
#define SVC_DESC     L"Collects SNMP data for the Outpost hub (outpost run)."
#define SVC_USER_CONTROL_RELOAD 128   /* sc control Outpost 128 */
#define SVC_WAIT_MS  60000            /* start/stop wait in the CLI */

static SERVICE_STATUS_HANDLE svc_handle;
static SERVICE_STATUS svc_status;
static HANDLE svc_eventlog;
static int (*svc_run)(int, char **);
static int svc_argc;
static char **svc_argv;
static int svc_rc;

static void
svc_set(DWORD state, DWORD wait_hint)
{
	if (svc_handle == NULL)
		return;
	svc_status.dwServiceType = SERVICE_WIN32_OWN_PROCESS;
	svc_status.dwCurrentState = state;
	svc_status.dwControlsAccepted = state == SERVICE_RUNNING ?
	    SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_SHUTDOWN |
	    SERVICE_ACCEPT_PARAMCHANGE : 0;
	svc_status.dwWaitHint = wait_hint;
	if (state == SERVICE_RUNNING || state == SERVICE_STOPPED)
		svc_status.dwCheckPoint = 0;
	else
		svc_status.dwCheckPoint++;
	SetServiceStatus(svc_handle, &svc_status);
}

void
platform_notify(const char *state)
{
	/* The sd_notify states, as the SCM knows them. */
	if (strcmp(state, "READY=1") == 0)
		svc_set(SERVICE_RUNNING, 0);
	else if (strcmp(state, "STOPPING=1") == 0)
		svc_set(SERVICE_STOP_PENDING, 10000);
}

static DWORD WINAPI
svc_control(DWORD control, DWORD type, void *data, void *ctx)
{
	switch (control) {
	case SERVICE_CONTROL_STOP:
	case SERVICE_CONTROL_SHUTDOWN:
		svc_set(SERVICE_STOP_PENDING, 10000);
		win_raise(SIGTERM);
		return NO_ERROR;
	case SERVICE_CONTROL_PARAMCHANGE:
	case SVC_USER_CONTROL_RELOAD:
		win_raise(WIN_SIG_RELOAD);
		return NO_ERROR;
	case SERVICE_CONTROL_INTERROGATE:
		return NO_ERROR;
	default:
		return ERROR_CALL_NOT_IMPLEMENTED;
	}
}

static void
svc_eventlog_sink(enum log_level level, const char *msg)
{
	wchar_t *w = win_wide(msg);
	const wchar_t *strs[1];
	WORD type = level == LOG_LVL_ERROR ? EVENTLOG_ERROR_TYPE :
	    level == LOG_LVL_WARN ? EVENTLOG_WARNING_TYPE :
	    EVENTLOG_INFORMATION_TYPE;

	strs[0] = w != NULL ? w : L"(a log line that is not UTF-8)";
	/* Event ID 1 with the line as its only string: without a message
	 * DLL the viewer shows the line after a note that the description
	 * is missing, which is enough to read it. */
	ReportEventW(svc_eventlog, type, 0, 1, NULL, 1, 0, strs, NULL);
	free(w);
}

static void WINAPI
svc_main(DWORD argc, wchar_t **argv)
{
	svc_handle = RegisterServiceCtrlHandlerExW(SVC_NAME, svc_control, NULL);
	if (svc_handle == NULL)
		return;
	svc_set(SERVICE_START_PENDING, 30000);
	svc_rc = svc_run(svc_argc, svc_argv);
	svc_status.dwWin32ExitCode = svc_rc == 0 ? NO_ERROR :
	    ERROR_SERVICE_SPECIFIC_ERROR;
	svc_status.dwServiceSpecificExitCode = (DWORD)svc_rc;
	svc_set(SERVICE_STOPPED, 0);
}

/* `service run [--log eventlog|FILE] -c CONFIG`: the SCM's command line. */
static int
svc_dispatch(int argc, char **argv)
{
	static char *run_argv[8];
	static char defcfg[1024];
	SERVICE_TABLE_ENTRYW table[] = {
		{ (wchar_t *)SVC_NAME, svc_main },
		{ NULL, NULL },
	};
	const char *log = "eventlog";
	bool has_config = false;
	int n = 0;

	run_argv[n++] = "run";
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--log") == 0 && i + 1 < argc) {
			log = argv[++i];
			continue;
		}
		has_config |= strcmp(argv[i], "-c") == 0 ||
		    strcmp(argv[i], "--config") == 0;
		if (n < (int)countof(run_argv) - 3)
			run_argv[n++] = argv[i];
	}
	/* The MSI registers plain `service run`: the default config. */
	if (!has_config && platform_path_expand(PLATFORM_DEFAULT_CONFIG, defcfg,
	    sizeof(defcfg)) == 0) {
		run_argv[n++] = "-c";
		run_argv[n++] = defcfg;
	}
	run_argv[n] = NULL;
	if (strcmp(log, "eventlog") == 0) {
		svc_eventlog = RegisterEventSourceW(NULL, SVC_NAME);
		if (svc_eventlog != NULL)
			log_set_sink(svc_eventlog_sink);
	} else {
		wchar_t *w = win_wide(log);
		int fd = w != NULL ? _wopen(w, _O_WRONLY | _O_APPEND | _O_CREAT |
		    _O_BINARY | _O_NOINHERIT, _S_IREAD | _S_IWRITE) : -1;

		/* The file becomes fd 2, which log.c writes each line to whole.
		 * (A service has no standard streams to freopen.) */
		free(w);
		if (fd == -1 || _dup2(fd, 2) == -1)
			return 1;
		if (fd != 2)
			_close(fd);
	}
	svc_argc = n;
	svc_argv = run_argv;
	if (!StartServiceCtrlDispatcherW(table)) {
		fprintf(stderr, "outpost service run: only the Service Control "
		    "Manager starts this (error %lu); use 'outpost run -c FILE' "
		    "by hand\n", (unsigned long)GetLastError());
		return 1;
	}
	return svc_rc;
}

static int
svc_fail(const char *what)
{
	DWORD e = GetLastError();

	fprintf(stderr, "outpost service: %s: error %lu%s\n", what,
	    (unsigned long)e, e == ERROR_ACCESS_DENIED ?
	    " (run it from an Administrator prompt)" : "");
	return 1;
}

static int
svc_install(int argc, char **argv)
{
	char cfg8[1024] = "", log8[1024] = "eventlog";
	wchar_t exe[MAX_PATH], cmd[4096], *wcfg = NULL, *wlog = NULL;
	SERVICE_DESCRIPTIONW desc = { (wchar_t *)SVC_DESC };
	SC_HANDLE scm, svc;
	DWORD n;

	if (platform_path_expand(PLATFORM_DEFAULT_CONFIG, cfg8, sizeof(cfg8)) == -1)
		return svc_fail("cannot expand the default config path");
	for (int i = 1; i < argc; i++) {
		if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0)
		    && i + 1 < argc)
			snprintf(cfg8, sizeof(cfg8), "%s", argv[++i]);
		else if (strcmp(argv[i], "--log") == 0 && i + 1 < argc)
			snprintf(log8, sizeof(log8), "%s", argv[++i]);
		else {
			fprintf(stderr, "outpost service install: unknown argument "
			    "'%.64s' (expected -c FILE, --log eventlog|FILE)\n", argv[i]);
			return 2;
		}
	}
	n = GetModuleFileNameW(NULL, exe, countof(exe));
	if (n == 0 || n >= countof(exe))
		return svc_fail("cannot find outpost.exe's path");
	if ((wcfg = win_wide(cfg8)) == NULL || (wlog = win_wide(log8)) == NULL) {
		free(wcfg);
		fprintf(stderr, "outpost service install: paths must be UTF-8\n");
		return 2;
	}
	_snwprintf(cmd, countof(cmd), L"\"%ls\" service run --log \"%ls\" -c \"%ls\"",
	    exe, wlog, wcfg);
	cmd[countof(cmd) - 1] = L'\0';
	free(wcfg);
	free(wlog);
	if ((scm = OpenSCManagerW(NULL, NULL, SC_MANAGER_CREATE_SERVICE)) == NULL)
		return svc_fail("cannot open the Service Control Manager");
	/* LocalSystem; installed, not started (docs/windows.md). */
	svc = CreateServiceW(scm, SVC_NAME, SVC_DISPLAY, SERVICE_ALL_ACCESS,
	    SERVICE_WIN32_OWN_PROCESS, SERVICE_AUTO_START, SERVICE_ERROR_NORMAL,
	    cmd, NULL, NULL, NULL, NULL, NULL);
	if (svc == NULL) {
		int rc = svc_fail(GetLastError() == ERROR_SERVICE_EXISTS ?
		    "already installed ('outpost service uninstall' first)" :
		    "cannot create the service");
		CloseServiceHandle(scm);
		return rc;
	}
	(void)ChangeServiceConfig2W(svc, SERVICE_CONFIG_DESCRIPTION, &desc);
	CloseServiceHandle(svc);
	CloseServiceHandle(scm);
	printf("service Outpost installed (config %s, log %s); start it with "
	    "'outpost service start'\n", cfg8, log8);
	return 0;
}

static SC_HANDLE
svc_open(SC_HANDLE *scm, DWORD access)
{
	SC_HANDLE svc;

	if ((*scm = OpenSCManagerW(NULL, NULL, SC_MANAGER_CONNECT)) == NULL)
		return NULL;
	if ((svc = OpenServiceW(*scm, SVC_NAME, access)) == NULL)
		CloseServiceHandle(*scm);
	return svc;
}

/* Waits until the service leaves the pending state; its final state. */
static DWORD
svc_wait(SC_HANDLE svc, DWORD pending)
{
	SERVICE_STATUS st = { 0 };

	for (int waited = 0; waited < SVC_WAIT_MS; waited += 250) {
		if (!QueryServiceStatus(svc, &st))
			return 0;
		if (st.dwCurrentState != pending &&
		    !(pending == SERVICE_STOP_PENDING &&
		    st.dwCurrentState == SERVICE_RUNNING))
			break;
		Sleep(250);
	}
	return st.dwCurrentState;
}

static int
svc_start_stop(bool start)
{
	SERVICE_STATUS st;
	SC_HANDLE scm, svc = svc_open(&scm, SERVICE_START | SERVICE_STOP |
	    SERVICE_QUERY_STATUS);
	DWORD state;

	if (svc == NULL)
		return svc_fail("cannot open the service (installed?)");
	if (start ? !StartServiceW(svc, 0, NULL) :
	    !ControlService(svc, SERVICE_CONTROL_STOP, &st)) {
		int rc = svc_fail(start ? "cannot start" : "cannot stop");
		CloseServiceHandle(svc);
		CloseServiceHandle(scm);
		return rc;
	}
	state = svc_wait(svc, start ? SERVICE_START_PENDING : SERVICE_STOP_PENDING);
	CloseServiceHandle(svc);
	CloseServiceHandle(scm);
	if (state != (start ? SERVICE_RUNNING : SERVICE_STOPPED)) {
		fprintf(stderr, "outpost service: the service is in state %lu, not "
		    "%s (see its log)\n", (unsigned long)state,
		    start ? "running" : "stopped");
		return 1;
	}
	printf("service Outpost %s\n", start ? "running" : "stopped");
	return 0;
}

static int
svc_uninstall(void)
{
	SERVICE_STATUS st;
	SC_HANDLE scm, svc = svc_open(&scm, DELETE | SERVICE_STOP |
	    SERVICE_QUERY_STATUS);

	if (svc == NULL)
		return svc_fail("cannot open the service (installed?)");
	/* Stop first, with the drain: nothing spooled is lost. */
	if (ControlService(svc, SERVICE_CONTROL_STOP, &st))
		(void)svc_wait(svc, SERVICE_STOP_PENDING);
	if (!DeleteService(svc)) {
		int rc = svc_fail("cannot delete the service");
		CloseServiceHandle(svc);
		CloseServiceHandle(scm);
		return rc;
	}
	CloseServiceHandle(svc);
	CloseServiceHandle(scm);
	printf("service Outpost removed (config and state_dir are left)\n");
	return 0;
}

int
platform_service(int argc, char **argv, int (*run)(int, char **))
{
	const char *sub = argc >= 2 ? argv[1] : "";

	svc_run = run;
	if (strcmp(sub, "install") == 0)
		return svc_install(argc - 1, argv + 1);
	if (strcmp(sub, "uninstall") == 0 && argc == 2)
		return svc_uninstall();
	if (strcmp(sub, "start") == 0 && argc == 2)
		return svc_start_stop(true);
	if (strcmp(sub, "stop") == 0 && argc == 2)
		return svc_start_stop(false);
	if (strcmp(sub, "run") == 0)
		return svc_dispatch(argc - 1, argv + 1);
	fprintf(stderr, "usage: outpost service install [-c FILE] [--log "
	    "eventlog|FILE] | uninstall | start | stop\n");
	return 2;
}
