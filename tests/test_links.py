"""Links (tmfgate.links): the hrefs of the home versions, as a face version shows them."""

from __future__ import annotations

import orjson

from tmfgate.links import Links, Target
from tmfgate.runtime import load_apis

ORDERS, ORDERS_V5 = "/tmf-api/productOrderingManagement/v4", "/tmf-api/productOrderingManagement/v5"
ALARMS, ALARMS_V5 = "/tmf-api/alarmManagement/v4", "/tmf-api/alarmManagement/v5"


def links() -> Links:
    found = Links()
    found.add(ORDERS, ORDERS_V5, {})
    found.add(ALARMS, ALARMS_V5, {"ackAlarms": "ackAlarm"})
    return found


def test_an_href_of_an_api_with_a_face_leads_to_the_face_with_its_resource_renamed() -> None:
    shown = links()
    assert shown.href(f"http://gw{ORDERS}/productOrder/o1") == f"http://gw{ORDERS_V5}/productOrder/o1"
    assert shown.href(f"https://gw:8443/base{ALARMS}/ackAlarms/t1") == f"https://gw:8443/base{ALARMS_V5}/ackAlarm/t1"
    assert shown.href(f"http://gw{ALARMS}/ackAlarms") == f"http://gw{ALARMS_V5}/ackAlarm"
    assert shown.href(f"http://gw{ALARMS}/alarm/a1") == f"http://gw{ALARMS_V5}/alarm/a1"
    # The likely API looked for first, the others after.
    assert shown.href(f"http://gw{ALARMS}/ackAlarms/t1", ALARMS) == f"http://gw{ALARMS_V5}/ackAlarm/t1"
    assert shown.href(f"http://gw{ORDERS}/productOrder/o1", ALARMS) == f"http://gw{ORDERS_V5}/productOrder/o1"


def test_an_href_of_an_api_without_a_face_or_of_another_version_is_left_as_it_is() -> None:
    shown = links()
    for href in ("http://gw/tmf-api/party/v4/individual/i1", f"http://gw{ORDERS_V5}/productOrder/o1", "x"):
        assert shown.href(href) == href
    # The base path must end where a resource begins: v4 is not v40.
    assert shown.href(f"http://gw{ORDERS}0/productOrder/o1") == f"http://gw{ORDERS}0/productOrder/o1"


def test_every_href_of_a_body_and_nothing_else() -> None:
    body = orjson.dumps(
        {
            "href": f"http://gw{ORDERS}/productOrder/o1",
            "note": [{"text": f"see http://gw{ORDERS}/productOrder/o2"}],
            "item": [{"product": {"href": f"http://gw{ALARMS}/ackAlarms/t1"}}, {"href": "http://gw/other/v4/x"}],
            "quoted": {"href": f'http://gw{ORDERS}/productOrder/"q"'},
        }
    )
    shown = orjson.loads(links().shown(body))
    assert shown["href"] == f"http://gw{ORDERS_V5}/productOrder/o1"
    assert shown["note"][0]["text"] == f"see http://gw{ORDERS}/productOrder/o2"  # text, not a link
    assert shown["item"][0]["product"]["href"] == f"http://gw{ALARMS_V5}/ackAlarm/t1"
    assert shown["item"][1]["href"] == "http://gw/other/v4/x"
    assert shown["quoted"]["href"] == f'http://gw{ORDERS}/productOrder/"q"'  # an escaped character: as it came
    assert Links().shown(body) == body


def test_a_target_keeps_what_follows_the_resource() -> None:
    assert Target("/v5", {"a": "b"}).shown("a/1?fields=id") == "/v5/b/1?fields=id"
    assert Target("/v5", {}).shown("") == "/v5/"


def test_the_shipped_faces_share_one_table_per_version() -> None:
    apis = {api.name: api for api in load_apis()}
    faces = [api.faces["5"].face for api in apis.values() if "5" in api.faces]
    assert len(faces) > 5 and all(face.links is faces[0].links for face in faces)
    orders = apis["tmf622_product_ordering"].faces["5"].face
    product = "http://gw/tmf-api/productInventory/v4/product/p1"
    assert orders.href(product) == "http://gw/tmf-api/productInventory/v5/product/p1"
