"""The audit log is append-only in the database and its chain shows tampering;
the lists, CSV and stats."""

import csv
import io
import os
import subprocess
import sys

import asyncpg
import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from services.payouts.tests.integration.payouts_driver import Payouts, headers


def _verify_audit() -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "payouts", "verify-audit"], env=dict(os.environ),
                          capture_output=True, text=True, timeout=120)


async def _audited_payout(payouts: Payouts) -> tuple[str, str]:
    creator, _ = await payouts.onboarded_creator()
    payout = await payouts.request(creator, 20_000)
    return creator, payout["payout_id"]


@pytest.mark.parametrize("statement", [
    "UPDATE payout_audit SET reason = 'edited' WHERE payout_id = :id",
    "DELETE FROM payout_audit WHERE payout_id = :id",
])
async def test_the_database_refuses_to_change_or_delete_audit_rows(payouts: Payouts, statement: str) -> None:
    _, payout_id = await _audited_payout(payouts)
    with pytest.raises(DBAPIError, match="append-only"):
        async with payouts.db.transaction() as session:
            await session.execute(sa.text(statement), {"id": payout_id})
    async with payouts.db.transaction() as session:
        reasons = list(await session.scalars(
            sa.text("SELECT reason FROM payout_audit WHERE payout_id = :id"), {"id": payout_id}))
    assert reasons == [None]


async def test_verify_audit_finds_a_row_tampered_with_by_the_table_owner(payouts: Payouts, infra) -> None:
    _, payout_id = await _audited_payout(payouts)
    assert _verify_audit().returncode == 0

    async with payouts.db.transaction() as session:
        seq, original = (await session.execute(
            sa.text("SELECT seq, reason FROM payout_audit WHERE payout_id = :id ORDER BY seq LIMIT 1"),
            {"id": payout_id},
        )).one()

    async def owner_edits(reason: str | None) -> None:
        # Only the owner (not the role the service runs as) can switch the trigger
        # off, and here only inside this transaction.
        owner = await asyncpg.connect(infra.asyncpg_dsn("payouts", owner=True))
        try:
            async with owner.transaction():
                await owner.execute("ALTER TABLE payout_audit DISABLE TRIGGER payout_audit_no_update_delete")
                await owner.execute("UPDATE payout_audit SET reason = $1 WHERE seq = $2", reason, seq)
                await owner.execute("ALTER TABLE payout_audit ENABLE TRIGGER payout_audit_no_update_delete")
        finally:
            await owner.close()

    await owner_edits("nothing to see here")
    try:
        broken = _verify_audit()
        assert broken.returncode == 1
        assert f"BROKEN at seq {seq}" in broken.stdout
        assert "hash does not match" in broken.stdout
    finally:
        await owner_edits(original)  # put exactly that row back, so the chain holds for the rest of the session
    assert _verify_audit().returncode == 0


async def test_lists_filter_sort_paginate_export_and_count(payouts: Payouts) -> None:
    creator, _ = await payouts.onboarded_creator()
    small = await payouts.request(creator, 11_000)
    big = await payouts.request(creator, 33_000)
    await payouts.reserve(big)
    canceled = await payouts.client.post(f"/payouts/{big['payout_id']}/cancel", headers=headers(creator, "creator"))
    assert canceled.status_code == 200
    admin = headers("admin_1", "admin")

    own = (await payouts.client.get("/payouts", headers=headers(creator, "creator"))).json()
    assert [p["payout_id"] for p in own["items"]] == [big["payout_id"], small["payout_id"]]
    only_requested = (await payouts.client.get("/payouts?status=requested", headers=headers(creator, "creator"))).json()
    assert [p["payout_id"] for p in only_requested["items"]] == [small["payout_id"]]
    assert (await payouts.client.get("/admin/payouts", headers=headers(creator, "creator"))).status_code == 403

    first = (await payouts.client.get(f"/admin/payouts?creator_id={creator}&sort=amount&order=asc&limit=1",
                                      headers=admin)).json()
    assert [p["payout_id"] for p in first["items"]] == [small["payout_id"]]
    second = (await payouts.client.get(
        f"/admin/payouts?creator_id={creator}&sort=amount&order=asc&limit=1&cursor={first['next_cursor']}",
        headers=admin)).json()
    assert [p["payout_id"] for p in second["items"]] == [big["payout_id"]] and second["next_cursor"] is None
    ranged = (await payouts.client.get(f"/admin/payouts?creator_id={creator}&amount_min=20000&amount_max=40000",
                                       headers=admin)).json()
    assert [p["payout_id"] for p in ranged["items"]] == [big["payout_id"]]
    bad = await payouts.client.get("/admin/payouts?cursor=nonsense", headers=admin)
    assert bad.status_code == 400

    exported = await payouts.client.get(f"/admin/payouts?creator_id={creator}&format=csv", headers=admin)
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert {(r["payout_id"], r["status"], r["requested_minor"]) for r in rows} == {
        (small["payout_id"], "REQUESTED", "11000"), (big["payout_id"], "CANCELED", "33000")}

    stats = (await payouts.client.get(f"/admin/payouts/stats?creator_id={creator}", headers=admin)).json()
    assert stats["stats"] == [
        {"status": "CANCELED", "currency": "EUR", "count": 1, "amount_minor": 33_000, "net_minor": 33_000},
        {"status": "REQUESTED", "currency": "EUR", "count": 1, "amount_minor": 11_000, "net_minor": 0},
    ]
