"""GET /v1/agents/{agent}/samples?wait= on a hub group (PostgreSQL): a
batch stored on one node answers a wait held on another (NOTIFY, as for
events), instead of the wait running out. test_console_api.py has the
single-node case."""

import time

from pg_fixture import pg_cluster  # noqa: F401
from test_hub import in_thread, joined, result_batch
from test_hub_group import group  # noqa: F401

DEV = "10.0.0.7:161"


def sample(ts):
    return {"device": DEV, "ts": ts, "profile": "system", "no_data": False,
            "scalars": {".1.3.6.1.2.1.1.3.0": ts % 1000}, "tables": {}}


def samples_of(hub, since, wait, **kw):
    return hub.json("GET", f"/v1/agents/site-1/samples?device={DEV}&since={since}"
                    f"&wait={wait}", **kw)


def test_group_a_batch_stored_on_one_node_answers_a_samples_wait_on_another(group):  # noqa: F811
    a, b = group(2)
    token = a.add_agent("site-1")
    now = int(time.time() * 1000)
    t, out = in_thread(samples_of, b, now, 30, timeout=60)
    time.sleep(1.0)    # held on B now
    assert t.is_alive()
    t_post = time.monotonic()
    assert a.post_batch(token, result_batch(1, samples=[sample(now + 5)]))["stored"]
    assert [s["ts"] for s in joined(t, out)] == [now + 5]
    assert out["t"] - t_post < 15     # woken by the batch, far inside its 30 s
