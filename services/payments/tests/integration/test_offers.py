"""The offer catalogue through payments' internal API, on the real database."""

import uuid

import pytest

from tests.support.offers import create_offer
from tests.support.internal_calls import as_caller


async def test_a_creator_creates_lists_updates_and_disables_offers(client, as_user):
    creator = as_user("creator")

    created = await client.post("/offers", json={"title": "Call, 60 min", "price_minor": 10_000, "currency": "eur"},
                                headers=creator)

    assert created.status_code == 201, created.text
    offer = created.json()
    assert {k: offer[k] for k in ("creator_id", "title", "price_minor", "currency", "active")} == {
        "creator_id": creator.user_id, "title": "Call, 60 min", "price_minor": 10_000, "currency": "EUR",
        "active": True}
    uuid.UUID(offer["offer_id"])

    second = await create_offer(client, creator, 2_500, prefix="")
    changed = await client.patch(f"/offers/{offer['offer_id']}", json={"price_minor": 12_000, "title": "Call"},
                                 headers=creator)
    assert changed.status_code == 200, changed.text
    assert (changed.json()["price_minor"], changed.json()["title"]) == (12_000, "Call")

    disabled = await client.post(f"/offers/{second['offer_id']}/disable", headers=creator)
    assert (disabled.status_code, disabled.json()["active"]) == (200, False)
    again = await client.post(f"/offers/{second['offer_id']}/disable", headers=creator)
    assert (again.status_code, again.json()["active"]) == (200, False)

    mine = (await client.get("/offers/mine", headers=creator)).json()["items"]
    assert [(o["offer_id"], o["price_minor"], o["active"]) for o in mine] == [
        (offer["offer_id"], 12_000, True), (second["offer_id"], 2_500, False)]


async def test_anyone_sees_only_a_creators_active_offers(client, as_user):
    creator = as_user("creator")
    kept = await create_offer(client, creator, 5_000, prefix="")
    gone = await create_offer(client, creator, 6_000, prefix="")
    await client.post(f"/offers/{gone['offer_id']}/disable", headers=creator)
    await create_offer(client, as_user("creator"), 7_000, prefix="")  # someone else's

    # the gateway forwards the public read for a visitor, no real user
    listing = await client.get("/offers", params={"creator_id": creator.user_id},
                               headers=as_caller("payments", "visitor", "fan"))

    assert listing.status_code == 200, listing.text
    assert [o["offer_id"] for o in listing.json()["items"]] == [kept["offer_id"]]


async def test_a_creator_cannot_touch_another_creators_offer(client, as_user):
    offer = await create_offer(client, as_user("creator"), 5_000, prefix="")
    intruder = as_user("creator")

    changed = await client.patch(f"/offers/{offer['offer_id']}", json={"price_minor": 50}, headers=intruder)
    disabled = await client.post(f"/offers/{offer['offer_id']}/disable", headers=intruder)

    assert (changed.status_code, disabled.status_code) == (404, 404)
    assert changed.headers["content-type"].startswith("application/problem+json")


async def test_only_creators_keep_a_catalogue(client, as_user):
    body = {"title": "Call", "price_minor": 5_000, "currency": "EUR"}
    for role in ("fan", "admin"):
        assert (await client.post("/offers", json=body, headers=as_user(role))).status_code == 403, role
        assert (await client.get("/offers/mine", headers=as_user(role))).status_code == 403, role


@pytest.mark.parametrize(("body", "status"), [
    ({"title": "Call", "price_minor": 5_000, "currency": "JPY"}, 422),  # not a currency we charge in
    ({"title": "Call", "price_minor": 49, "currency": "EUR"}, 422),  # below Stripe's minimum
    ({"title": "Call", "price_minor": 1_000_001, "currency": "EUR"}, 422),
    ({"title": "", "price_minor": 5_000, "currency": "EUR"}, 422),
    ({"title": "Call\r\nBcc: x@example.com", "price_minor": 5_000, "currency": "EUR"}, 422),
    ({"title": "Call", "price_minor": "5000", "currency": "EUR"}, 400),  # money is never coerced
    ({"title": "Call", "price_minor": 5000.0, "currency": "EUR"}, 400),
    ({"title": "Call", "price_minor": True, "currency": "EUR"}, 400),
    ({"title": "Call", "price_minor": 5_000, "currency": "EUR", "creator_id": "someone-else"}, 400),
])
async def test_a_bad_offer_is_refused_with_problem_details(body, status, client, as_user):
    creator = as_user("creator")

    response = await client.post("/offers", json=body, headers=creator)

    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert (await client.get("/offers/mine", headers=creator)).json()["items"] == []


async def test_a_bad_price_change_leaves_the_offer_as_it_was(client, as_user):
    creator = as_user("creator")
    offer = await create_offer(client, creator, 5_000, prefix="")

    for change in ({"price_minor": 10}, {"currency": "XYZ"}, {"price_minor": 5.5}):
        response = await client.patch(f"/offers/{offer['offer_id']}", json=change, headers=creator)
        assert response.status_code in (400, 422), change

    [kept] = (await client.get("/offers/mine", headers=creator)).json()["items"]
    assert (kept["price_minor"], kept["currency"]) == (5_000, "EUR")
