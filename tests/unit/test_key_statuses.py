"""Each tool key's role as the console and `keys list` show it: signing, published until, retired."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from lti_tool.lti.tool_keys import KeyRing

T0 = datetime(2030, 3, 1, 9, 0, tzinfo=timezone.utc)
GRACE = timedelta(days=7)


def test_roles_follow_the_grace_period(tmp_path):
    ring = KeyRing(tmp_path / "keys", grace=GRACE)
    assert ring.statuses(T0) == []
    first = ring.rotate(T0)
    second = ring.rotate(T0 + timedelta(days=30))
    third = ring.rotate(T0 + timedelta(days=60))
    now = T0 + timedelta(days=62)
    statuses = ring.statuses(now)
    assert [(s.kid, s.role) for s in statuses] == [
        (first.kid, "retired"), (second.kid, "published"), (third.kid, "signing")]
    assert statuses[1].published_until == third.created_at + GRACE
    assert statuses[2].published_until is None
    # the published ones are exactly those in the JWKS
    assert {s.kid for s in statuses if s.role != "retired"} == {k["kid"] for k in ring.jwks(now)["keys"]}
    later = ring.statuses(T0 + timedelta(days=68))
    assert [s.role for s in later] == ["retired", "retired", "signing"]
