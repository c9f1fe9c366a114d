// A device's SNMP notifications (traps and informs the agent forwarded),
// newest first, kept live by long polling the hub (GET events?since=&wait=),
// as the device page does for samples.
import { enc } from './api.js';
import { html, useLongPollList, ErrorLine, msTime, text } from './ui.js';

const WAIT_S = 30;
const KEEP = 100;          // rows shown
const VARBINDS_SHOWN = 4;  // per event; the rest as "+N more"

// RFC 3584's generic traps, for v1 events and their v2 trap OIDs.
const GENERIC = ['coldStart', 'warmStart', 'linkDown', 'linkUp',
  'authenticationFailure', 'egpNeighborLoss', 'enterpriseSpecific'];
const STD = '1.3.6.1.6.3.1.1.5.';

function trapName(e) {
  const oid = String(e.trap_oid || '').replace(/^\./, '');
  if (oid.startsWith(STD)) {
    const n = Number(oid.slice(STD.length)) - 1;
    if (n >= 0 && n < 6) return `${GENERIC[n]} (${e.trap_oid})`;
  }
  return e.trap_oid || '–';
}

function who(e) {
  if (e.version === '3') return `user ${e.user}${e.context ? ` (context ${e.context})` : ''}`;
  return `community ${e.community}`;
}

function useEvents(agent, device) {
  const base = `/v1/agents/${enc(agent)}/events?device=${enc(device)}&`;
  return useLongPollList(`${agent} ${device}`, {
    at: 'received', keep: KEEP, id: (e) => e.id,
    path: (newest) => base + (newest === null ? `limit=${KEEP}`
      : `since=${newest + 1}&limit=${KEEP}&wait=${WAIT_S}`),
  });
}

export function Events({ agent, device }) {
  const ev = useEvents(agent, device);
  const list = ev.data || [];
  return html`<section class="events">
    <h3>Notifications</h3>
    <${ErrorLine} error=${ev.error} />
    ${list.length === 0 ? html`<p id="no-events">No traps or informs from this device${ev.data ? '' : ' (loading)'}.</p>` : ''}
    <table id="events" class="grid" hidden=${list.length === 0}>
      <thead><tr><th>Received</th><th>PDU</th><th>Trap</th><th>From</th><th>Varbinds</th></tr></thead>
      <tbody>${list.map((e) => html`<tr key=${e.id} data-id=${e.id}>
        <td>${msTime(e.received)}</td>
        <td>${text(`${e.pdu} v${e.version}`)}</td>
        <td class="trap">${text(trapName(e))}</td>
        <td>${text(`${e.source}:${e.port}, ${who(e)}`)}</td>
        <td class="varbinds">${(e.varbinds || []).slice(0, VARBINDS_SHOWN).map((v) => html`<div>${text(`${v.oid} = ${v.type}: ${v.value}`)}</div>`)}
          ${(e.varbinds || []).length > VARBINDS_SHOWN ? html`<div>+${e.varbinds.length - VARBINDS_SHOWN} more</div>` : ''}</td>
      </tr>`)}</tbody>
    </table>
  </section>`;
}
